"""The Alembic history is the schema: it upgrades from empty, matches the models exactly, and
downgrades back to empty (on whichever database the suite runs against)."""

from __future__ import annotations

import asyncio
import os
from pathlib import Path

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import inspect
from sqlalchemy.engine import make_url

import services.models  # noqa: F401
from shared.db import Base, create_engine
from shared.migrate import downgrade, include_object, upgrade
from tests.helpers import recreate_postgres_database


def _scratch_url(tmp_path: Path) -> str:
    url = os.environ.get("SLDS_TEST_DATABASE_URL", "")
    if not url.startswith("postgresql"):
        return f"sqlite+aiosqlite:///{tmp_path / 'migrations.db'}"
    scratch = make_url(url).set(database=make_url(url).database + "_migrations")
    text = scratch.render_as_string(hide_password=False)
    asyncio.run(recreate_postgres_database(text))
    return text


async def _schema_state(url: str) -> tuple[list[str], list[tuple]]:
    engine = create_engine(url)
    async with engine.connect() as connection:
        def inspect_sync(sync_conn):
            tables = sorted(inspect(sync_conn).get_table_names())
            context = MigrationContext.configure(sync_conn, opts={"include_object": include_object(sync_conn.dialect.name)})
            diff = compare_metadata(context, Base.metadata)
            return tables, diff
        tables, diff = await connection.run_sync(inspect_sync)
    await engine.dispose()
    return tables, diff


def test_upgrade_matches_models_and_downgrade_empties(tmp_path: Path) -> None:
    url = _scratch_url(tmp_path)
    upgrade(url)
    tables, diff = asyncio.run(_schema_state(url))
    assert set(Base.metadata.tables) <= set(tables)
    assert diff == [], f"models and migrations disagree: {diff}"
    downgrade(url, "base")
    tables, _ = asyncio.run(_schema_state(url))
    assert [t for t in tables if t != "alembic_version"] == []
    upgrade(url)  # and back up again
