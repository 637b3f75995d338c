"""Run the Alembic history programmatically (CLI `slds db upgrade`, the test database)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from alembic import command
from alembic.config import Config

ROOT = Path(__file__).resolve().parent.parent


# Constraints the models declare that a migration replaced on PostgreSQL with triggers doing the
# same check (see the migration named): Alembic's comparison must not ask for them back there.
ENFORCED_BY_TRIGGERS_ON_POSTGRESQL = {
    "fk_records_item_entity_records_subject": "d7e8f9a0b1c2",  # checked per statement, not per row
}


def include_object(dialect: str) -> Callable[[Any, str | None, str, bool, Any], bool]:
    """Alembic's `include_object` for a database of this dialect."""
    def include(_object: Any, name: str | None, type_: str, _reflected: bool, _compare_to: Any) -> bool:
        return not (dialect == "postgresql" and type_ == "foreign_key_constraint"
                    and name in ENFORCED_BY_TRIGGERS_ON_POSTGRESQL)
    return include


def alembic_config(url: str) -> Config:
    config = Config(str(ROOT / "alembic.ini"))
    config.set_main_option("script_location", str(ROOT / "migrations"))
    config.attributes["url"] = url
    return config


def upgrade(url: str, revision: str = "head") -> None:
    command.upgrade(alembic_config(url), revision)


async def analyze(url: str) -> None:
    """Refresh PostgreSQL's planner statistics. After a migration or a bulk load the tables' stats
    say "empty", and until autovacuum catches up (or never, where it is off) the candidate
    queries of identity resolve plan as full scans: seconds instead of milliseconds."""
    if not url.startswith("postgresql"):
        return
    from sqlalchemy import text

    from shared.db import create_engine

    engine = create_engine(url)
    async with engine.connect() as connection:
        await connection.execution_options(isolation_level="AUTOCOMMIT")
        await connection.execute(text("ANALYZE"))
    await engine.dispose()


def downgrade(url: str, revision: str = "base") -> None:
    command.downgrade(alembic_config(url), revision)
