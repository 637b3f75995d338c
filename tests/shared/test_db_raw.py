"""`fetch_raw` and `RawConnections`: the hot paths' statements on a few asyncpg connections kept
apart from SQLAlchemy's pool. More callers than connections wait their turn; a connection whose
statement did not finish cleanly is dropped and replaced; disposing the engine closes them; a
statement is planned once per connection, not once per call."""

from __future__ import annotations

import asyncio
import os

import pytest
from asyncpg import PostgresError

from shared.db import create_engine, fetch_raw, raw_connections

URL = os.environ.get("SLDS_TEST_DATABASE_URL", "")
pytestmark = pytest.mark.skipif(not URL.startswith("postgresql"), reason="fetch_raw is PostgreSQL's")


@pytest.fixture
async def engine():
    engine = create_engine(URL)
    yield engine
    await engine.dispose()


async def _backends(engine, pids: set[int]) -> set[int]:
    """Which of these server processes are still connected."""
    async with engine.connect() as connection:
        rows = await connection.exec_driver_sql("SELECT pid FROM pg_stat_activity")
        return pids & {r[0] for r in rows}


async def test_more_callers_than_connections_all_get_answers_on_at_most_size_connections(engine) -> None:
    raw = raw_connections(engine)
    size = 3
    raw.slots = asyncio.Semaphore(size)
    rows = await asyncio.gather(*(fetch_raw(engine, "SELECT pg_backend_pid(), $1::int, pg_sleep(0.02)", i)
                                  for i in range(20)))
    assert [r[0][1] for r in rows] == list(range(20))
    assert len({r[0][0] for r in rows}) <= size and len(raw.idle) <= size
    # No overflow connection of SQLAlchemy's pool is involved: nothing is checked out of it.
    assert engine.sync_engine.pool.checkedout() == 0


async def test_a_statement_is_planned_once_however_its_parameters_change(engine) -> None:
    """PostgreSQL's default re-plans a prepared statement for its values while it judges a plan
    made for them cheaper; the read-context statement (nine branches) was planned anew for every
    batch of reads. On these connections every statement keeps one generic plan."""
    raw = raw_connections(engine)
    raw.slots = asyncio.Semaphore(1)  # one connection: its prepared statement sees every call
    sql = "SELECT count(*) FROM pg_class WHERE relname = ANY($1::text[]) AND relpages >= $2"
    for n in range(12):
        await fetch_raw(engine, sql, [f"t{i}" for i in range(n + 1)], n)
    (plans,) = await fetch_raw(engine, "SELECT generic_plans, custom_plans FROM pg_prepared_statements "
                                       "WHERE statement = $1", sql)
    assert plans["custom_plans"] == 0 and plans["generic_plans"] == 12


async def test_a_refused_statement_keeps_its_connection(engine) -> None:
    (before,) = await fetch_raw(engine, "SELECT pg_backend_pid()")
    with pytest.raises(PostgresError):
        await fetch_raw(engine, "SELECT 1 / 0")
    (after,) = await fetch_raw(engine, "SELECT pg_backend_pid()")
    assert after[0] == before[0]


async def test_a_cancelled_statement_drops_its_connection_and_the_next_call_gets_a_fresh_one(engine) -> None:
    (before,) = await fetch_raw(engine, "SELECT pg_backend_pid()")
    with pytest.raises(TimeoutError):
        await asyncio.wait_for(fetch_raw(engine, "SELECT pg_sleep(0.5)"), timeout=0.1)
    (after,) = await fetch_raw(engine, "SELECT pg_backend_pid()")
    assert after[0] != before[0]
    # The server ends the dropped one once its statement finishes and finds the client gone.
    for _ in range(50):
        if not await _backends(engine, {before[0]}):
            break
        await asyncio.sleep(0.1)
    assert await _backends(engine, {before[0]}) == set()


async def test_a_connection_the_server_ended_fails_one_call_then_is_replaced(engine) -> None:
    (victim,) = await fetch_raw(engine, "SELECT pg_backend_pid()")
    async with engine.connect() as admin:
        await admin.exec_driver_sql(f"SELECT pg_terminate_backend({victim[0]})")
    await asyncio.sleep(0.1)
    with pytest.raises(Exception):  # noqa: B017 - asyncpg's connection-lost error, whichever it names
        await fetch_raw(engine, "SELECT 1")
    assert (await fetch_raw(engine, "SELECT 1"))[0][0] == 1


async def test_disposing_the_engine_closes_the_raw_connections(engine) -> None:
    rows = await asyncio.gather(*(fetch_raw(engine, "SELECT pg_backend_pid(), pg_sleep(0.05)") for _ in range(3)))
    pids = {r[0][0] for r in rows}
    assert await _backends(engine, pids) == pids
    await engine.dispose()
    await asyncio.sleep(0.2)
    assert await _backends(engine, pids) == set()
    assert (await fetch_raw(engine, "SELECT 1"))[0][0] == 1  # a disposed engine opens new ones when used again
