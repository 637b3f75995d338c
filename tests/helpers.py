"""Helpers the tests share: getting real tokens over HTTP."""

from __future__ import annotations

import asyncio
import os
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import httpx
from sqlalchemy import text
from sqlalchemy.engine import make_url

from shared.db import create_engine
from shared.settings import Settings
from shared.state import Database

TEST_PASSWORD = "correct horse battery staple 7"


async def password_token(client: httpx.AsyncClient, username: str, password: str = TEST_PASSWORD) -> str:
    response = await client.post(
        "/identity/v1/oauth/token",
        data={"grant_type": "password", "username": username, "password": password},
    )
    assert response.status_code == 200, response.text
    return response.json()["access_token"]


async def client_token(client: httpx.AsyncClient, client_id: str, secret: str) -> str:
    response = await client.post(
        "/identity/v1/oauth/token",
        data={"grant_type": "client_credentials"},
        auth=(client_id, secret),
    )
    assert response.status_code == 200, response.text
    return response.json()["access_token"]


async def bypass_append_only_logs(session: Any) -> None:
    """Play an attacker with the database superuser's powers: on PostgreSQL the logs' append-only
    trigger (tests/shared/test_db_roles.py) stops everyone else, so the tamper tests switch triggers
    off for their transaction, to prove the hash chain still catches what such an attacker does."""
    from sqlalchemy import text

    if session.bind.dialect.name == "postgresql":
        await session.execute(text("SET LOCAL session_replication_role = replica"))


class DisclosureLogDown(httpx.AsyncBaseTransport):
    """A peer transport for fail-closed tests: disclosure answers everything but writing its log,
    which cannot be reached."""

    def __init__(self, inner: httpx.AsyncBaseTransport) -> None:
        self.inner = inner

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        if request.method == "POST" and request.url.path == "/disclosure/v1/disclosures":
            raise httpx.ConnectError("disclosure log down", request=request)
        return await self.inner.handle_async_request(request)


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def bench_database_url(name: str) -> str | None:
    """Where a bench's quick mode puts its PostgreSQL database in the PostgreSQL pass of the suite
    (None on SQLite: the bench makes its own file)."""
    url = os.environ.get("SLDS_TEST_DATABASE_URL", "")
    if not url.startswith("postgresql"):
        return None
    return make_url(url).set(database=name).render_as_string(hide_password=False)


async def recreate_postgres_database(url: str) -> None:
    import asyncpg

    parsed = make_url(url)
    admin = await asyncpg.connect(
        host=parsed.host, port=parsed.port or 5432, user=parsed.username,
        password=parsed.password, database="postgres",
    )
    try:
        await admin.execute(f'DROP DATABASE IF EXISTS "{parsed.database}" WITH (FORCE)')
        await admin.execute(f'CREATE DATABASE "{parsed.database}"')
    finally:
        await admin.close()


@asynccontextmanager
async def committed_gateway(settings: Settings, pg_url: str, suffix: str) -> AsyncIterator[tuple[Any, Database]]:
    """The four services over a PostgreSQL database of their own (`<db>_<suffix>`, created,
    migrated and left for the next run to recreate), with real commits: for concurrency tests,
    which the per-test rollback of the `db` fixture cannot host."""
    from services.gateway import create_gateway
    from shared.migrate import upgrade

    url = make_url(pg_url)
    url_text = url.set(database=f"{url.database}_{suffix}").render_as_string(hide_password=False)
    await recreate_postgres_database(url_text)
    await asyncio.to_thread(upgrade, url_text)
    own = settings.model_copy(update={"database_url": url_text})
    database = Database.from_settings(own)
    gateway = create_gateway(own, database=database)
    try:
        async with gateway.running():
            yield gateway, database
    finally:
        await database.engine.dispose()


async def run_statements(url: str, statements: list[tuple[str, dict]]) -> list[tuple]:
    """Run raw SQL statements in one committed transaction on `url` (migration tests write rows
    of an older schema this way); returns the rows of those that return any."""
    engine = create_engine(url)
    rows: list[tuple] = []
    async with engine.begin() as connection:
        for sql, params in statements:
            result = await connection.execute(text(sql), params)
            if result.returns_rows:
                rows += [tuple(r) for r in result]
    await engine.dispose()
    return rows
