"""On PostgreSQL the chained logs are append-only: the services' role may insert and chain but not
edit, delete or truncate an entry, and the migrations' trigger refuses the same even to the owner."""

from __future__ import annotations

import os
import secrets
from collections.abc import AsyncIterator

import pytest
from sqlalchemy import select, text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncEngine

from services.records.models import RecordsAccessLogEntry
from shared import audit
from shared.db import create_engine, create_sessionmaker
from shared.db_roles import RoleError, grant_app_role, grant_statements
from shared.migrate import upgrade
from tests.helpers import recreate_postgres_database

URL = os.environ.get("SLDS_TEST_DATABASE_URL", "")
pytestmark = pytest.mark.skipif(not URL.startswith("postgresql"), reason="roles and triggers are PostgreSQL's")


@pytest.fixture(scope="module")
def owner_url() -> str:
    scratch = make_url(URL).set(database=make_url(URL).database + "_roles").render_as_string(hide_password=False)
    import asyncio

    asyncio.run(recreate_postgres_database(scratch))
    upgrade(scratch)
    return scratch


@pytest.fixture
async def engines(owner_url: str) -> AsyncIterator[tuple[AsyncEngine, AsyncEngine]]:
    role = f"slds_app_{secrets.token_hex(4)}"
    owner = create_engine(owner_url)
    async with owner.begin() as connection:
        await connection.execute(text(f"CREATE ROLE {role} LOGIN"))
        await grant_app_role(connection, role)
    app = create_engine(make_url(owner_url).set(username=role).render_as_string(hide_password=False))
    try:
        yield owner, app
    finally:
        await app.dispose()
        async with owner.begin() as connection:
            await connection.execute(text(f"DROP OWNED BY {role}"))
            await connection.execute(text(f"DROP ROLE {role}"))
        await owner.dispose()


async def _refused(engine: AsyncEngine, statement: str) -> str:
    async with engine.connect() as connection:
        with pytest.raises(DBAPIError) as raised:
            await connection.execute(text(statement))
        await connection.rollback()
    return str(raised.value.orig)


async def test_the_app_role_appends_and_chains_but_cannot_edit_delete_or_truncate(engines) -> None:
    owner, app = engines
    sessions = create_sessionmaker(app)
    async with sessions() as session:
        await audit.append(session, RecordsAccessLogEntry, actor="user:1", action="read",
                           payload={"entity": "student", "state_id": "1"}, request_id=None)
        await audit.stage_many(session, RecordsAccessLogEntry, [{"action": "read", "payload": {"n": 2}}],
                               actor="user:1", request_id=None)
        await session.commit()
    async with sessions() as session:
        assert await audit.chain_staged(session, RecordsAccessLogEntry) == 1
        await session.commit()
        assert (await session.scalars(select(RecordsAccessLogEntry.seq).order_by("seq"))).all() == [1, 2]
        assert (await audit.verify_chain(session, RecordsAccessLogEntry)).ok

    for statement in ("UPDATE records_access_log SET payload = '{}' WHERE seq = 1",
                      "DELETE FROM records_access_log WHERE seq = 2",
                      "TRUNCATE records_access_log",
                      "DELETE FROM disclosure_log",
                      "UPDATE identity_access_log SET actor = 'x'"):
        assert "permission denied" in await _refused(app, statement), statement


async def test_the_trigger_refuses_edits_even_to_the_owner_and_only_lets_the_chainer_fold(engines) -> None:
    owner, _app = engines
    async with create_sessionmaker(owner)() as session:
        await audit.append(session, RecordsAccessLogEntry, actor="user:1", action="read", payload={"n": 1},
                           request_id=None)
        await audit.stage_many(session, RecordsAccessLogEntry, [{"action": "read", "payload": {"n": 2}}],
                               actor="user:1", request_id=None)
        await session.commit()
        staged = await session.scalar(select(RecordsAccessLogEntry.seq).where(RecordsAccessLogEntry.seq < 0))
    for statement in ("UPDATE records_access_log SET payload = '{}' WHERE seq > 0",
                      "DELETE FROM records_access_log WHERE seq > 0",
                      "TRUNCATE records_access_log",
                      # a staged entry may be chained, not rewritten
                      f"UPDATE records_access_log SET actor = 'someone else' WHERE seq = {staged}"):
        assert "append-only" in await _refused(owner, statement), statement
    async with create_sessionmaker(owner)() as session:
        assert await audit.chain_staged(session, RecordsAccessLogEntry) == 1
        await session.commit()
        assert (await audit.verify_chain(session, RecordsAccessLogEntry)).ok


def test_role_names_are_checked_before_any_sql() -> None:
    with pytest.raises(RoleError):
        grant_statements("app; DROP TABLE records_access_log")
    assert any("REVOKE UPDATE, DELETE, TRUNCATE ON records_access_log" in s for s in grant_statements("slds_app"))
