"""The 1,000,000-person COPY loads (`bench.identity_load load`, `bench.identity_scale load`) drop
constraints before copying and make them again after: both steps must name what the migrations
made, and leave the schema as the migrations left it (a migration that dropped a foreign key once
broke the load: it still dropped that key by name)."""

from __future__ import annotations

import asyncio
import os

import asyncpg
import pytest
from sqlalchemy.engine import make_url

from bench.identity_load import drop_constraints, restore_constraints
from shared.migrate import upgrade
from tests.helpers import bench_database_url, recreate_postgres_database

PG_URL = os.environ.get("SLDS_TEST_DATABASE_URL", "")
pytestmark = pytest.mark.skipif(not PG_URL.startswith("postgresql"), reason="the COPY loads are PostgreSQL's")

SCHEMA = """
SELECT 'constraint', conrelid::regclass::text, conname, pg_get_constraintdef(oid) FROM pg_constraint
 WHERE conrelid IN ('identity_blocking_key'::regclass, 'identity_alias'::regclass)
UNION ALL
SELECT 'index', tablename, indexname, indexdef FROM pg_indexes
 WHERE tablename IN ('identity_blocking_key', 'identity_alias')
ORDER BY 1, 2, 3
"""


async def test_the_copy_loads_drop_and_restore_what_the_migrations_made() -> None:
    url = bench_database_url("slds_test_identity_load_constraints")
    await recreate_postgres_database(url)
    await asyncio.to_thread(upgrade, url)
    parsed = make_url(url)
    conn = await asyncpg.connect(host=parsed.host, port=parsed.port or 5432, user=parsed.username,
                                 password=parsed.password, database=parsed.database)
    try:
        migrated = [tuple(row) for row in await conn.fetch(SCHEMA)]
        await drop_constraints(conn)
        dropped = [tuple(row) for row in await conn.fetch(SCHEMA)]
        await restore_constraints(conn)
        assert [tuple(row) for row in await conn.fetch(SCHEMA)] == migrated
        assert not any(name == "pk_identity_blocking_key" for _, _, name, _ in dropped)
    finally:
        await conn.close()
