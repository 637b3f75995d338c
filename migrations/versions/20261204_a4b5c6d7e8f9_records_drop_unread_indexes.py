"""records: drop three indexes no query reads, which every bulk write paid for

Revision ID: a4b5c6d7e8f9
Revises: f3a4b5c6d7e8
Create Date: 2026-12-04 23:30:00

- `ix_records_item_change_version`: the change feed reads versions by their id; nothing looks up
  an element by its change version.
- `ix_records_item_version_item_id`: only a merge looked up versions by element, and it now finds
  them through the retired student's versions (`ix_records_item_version_subject`).
- `ix_records_enrollment_item_id`: enrollment rows are rebuilt by student, never found by element.

Each took an insert per element written (the first two random UUID keys, the slowest kind of
b-tree insert); at 1,000,000 students they held ~900 MB.
"""
from collections.abc import Sequence

from alembic import op

revision: str = 'a4b5c6d7e8f9'
down_revision: str | None = 'f3a4b5c6d7e8'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_INDEXES = (
    ('records_item', 'ix_records_item_change_version', 'change_version'),
    ('records_item_version', 'ix_records_item_version_item_id', 'item_id'),
    ('records_enrollment', 'ix_records_enrollment_item_id', 'item_id'),
)


def upgrade() -> None:
    for table, name, _ in _INDEXES:
        with op.batch_alter_table(table, schema=None) as batch_op:
            batch_op.drop_index(name)


def downgrade() -> None:
    for table, name, column in _INDEXES:
        with op.batch_alter_table(table, schema=None) as batch_op:
            batch_op.create_index(name, [column], unique=False)
