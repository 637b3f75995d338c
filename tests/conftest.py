"""The test harness: a real database built by running the Alembic history once per session, a
rollback per test, all four services mounted in the gateway and called over real HTTP (httpx on
ASGITransport) with real tokens.

SQLite by default; `SLDS_TEST_DATABASE_URL=postgresql+asyncpg://...` runs the same suite on
PostgreSQL (CI does both).
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy.ext.asyncio import AsyncEngine, async_sessionmaker

from services.gateway import Gateway, create_gateway
from services.identity.clearance import record_current
from services.identity.service import AccountService
from shared.state import Database
from shared.db import create_engine
from shared.migrate import upgrade
from shared.settings import Settings
from tests.helpers import TEST_PASSWORD, recreate_postgres_database

BASE_URL = "http://slds.test"


def _test_database_url(tmp_dir: Path) -> str:
    url = os.environ.get("SLDS_TEST_DATABASE_URL")
    if not url:
        return f"sqlite+aiosqlite:///{tmp_dir / 'slds-test.db'}"
    asyncio.run(recreate_postgres_database(url))
    return url


@pytest.fixture(scope="session")
def database_url(tmp_path_factory: pytest.TempPathFactory) -> str:
    url = _test_database_url(tmp_path_factory.mktemp("db"))
    upgrade(url)  # the schema comes from the migrations, never from create_all
    return url


@pytest.fixture(scope="session")
def settings(database_url: str, tmp_path_factory: pytest.TempPathFactory) -> Settings:
    return Settings(
        environment="test",
        database_url=database_url,
        var_dir=tmp_path_factory.mktemp("var"),
        secret_key="test-secret-key-not-for-production",
        revocation_cache_seconds=0,  # a disable is visible to the next request
        jwks_min_refresh_seconds=0,
        batch_worker=False,  # tests drive the identity batch worker themselves
    )


@pytest.fixture(scope="session")
async def engine(settings: Settings) -> AsyncIterator[AsyncEngine]:
    engine = create_engine(settings.effective_database_url)
    yield engine
    await engine.dispose()


@pytest.fixture
async def db(engine: AsyncEngine) -> AsyncIterator[Database]:
    """Everything a test does happens in one outer transaction that is rolled back; each
    request's commit only releases a savepoint inside it."""
    async with engine.connect() as connection:
        outer = await connection.begin()
        maker = async_sessionmaker(
            bind=connection, expire_on_commit=False, join_transaction_mode="create_savepoint"
        )
        yield Database(engine, maker, owned=False)
        await outer.rollback()


@pytest.fixture
async def gateway(settings: Settings, db: Database) -> AsyncIterator[Gateway]:
    gateway = create_gateway(settings, database=db)
    async with gateway.running():
        yield gateway


@pytest.fixture
async def client(gateway: Gateway) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=gateway), base_url=BASE_URL) as c:
        yield c


UserFactory = Callable[..., Awaitable[Any]]


@pytest.fixture
def make_user(db: Database, settings: Settings) -> UserFactory:
    async def make(username: str = "alice", role: str = "state_data_admin", *, cleared: bool = True,
                   **scope: Any) -> Any:
        """A person; `cleared` (the default) also records a signed NDA and a privacy training
        completed today, without which staff roles see no student PII (issue 9)."""
        if role in {"state_data_admin", "state_reporting_analyst", "registrar"}:
            scope.setdefault("state", "ST")
        async with db.sessionmaker() as session:
            user = await AccountService(session, settings).create_user(
                username=username, display_name=username, password=TEST_PASSWORD, role=role, **scope
            )
            if cleared:
                await record_current(session, [user], recorded_by="test:make_user", settings=settings)
            await session.commit()
        return user

    return make


@pytest.fixture
def make_client_app(db: Database, settings: Settings) -> UserFactory:
    async def make(name: str = "SIS", role: str = "district_sis", **scope: Any) -> Any:
        if role == "district_sis":
            scope.setdefault("district_ids", ["1001"])
        async with db.sessionmaker() as session:
            created = await AccountService(session, settings).create_client(name=name, role=role, **scope)
            await session.commit()
        return created

    return make
