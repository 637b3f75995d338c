"""records: an element's data as JSON text (`json`), not `jsonb`

Revision ID: e8f9a0b1c2d3
Revises: d7e8f9a0b1c2
Create Date: 2026-12-05 19:00:00

`records_item.data` and `records_item_version.data` hold one element of a record each (a
student's demographics, one enrollment, one assessment). Nothing queries inside them: writes
compare them in the service, and every read takes them back as text to decode in one go. As
`jsonb` PostgreSQL parsed each one into a tree on the way in (a bulk write COPYs ~9,000 a
request) and printed it back to text on every read; as `json` it only checks the text on the way
in and hands it back as stored. Compact text is also smaller than `jsonb`'s tree (~169 against
~190 bytes an element in the synthetic state). Measured in docs/benchmarks.md ("Records,
2026-12-05 (evening)").

The change rewrites both tables (an ACCESS EXCLUSIVE lock while it runs: minutes on a state's
history). SQLite is untouched: its JSON is text already.
"""
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = 'e8f9a0b1c2d3'
down_revision: str | None = 'd7e8f9a0b1c2'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

TABLES = ("records_item", "records_item_version")


def upgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    for table in TABLES:
        op.alter_column(table, "data", type_=sa.JSON(), existing_type=postgresql.JSONB(astext_type=sa.Text()),
                        postgresql_using="data::json")


def downgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    for table in TABLES:
        op.alter_column(table, "data", type_=postgresql.JSONB(astext_type=sa.Text()), existing_type=sa.JSON(),
                        postgresql_using="data::jsonb")
