"""a function that takes a transaction's advisory lock if it can within a given wait

Revision ID: c6d7e8f9a0b1
Revises: b5c6d7e8f9a0
Create Date: 2026-12-05 02:10:00

A records submission appends its log entries to the access log's chain at its end, and holds the
chain's lock to its commit. Another submission reaching its end meanwhile used to give up at once
(`pg_try_advisory_xact_lock`) and stage its entries, which costs about four times a direct append
(an insert now, an update of every entry when the chainer folds them in); with four submissions in
flight 17 of 40 were staged. Waiting without a bound is not safe either: the writer holds its
students' rows, and a merge or an amendment takes the chain's lock before a student's row. So
`slds_advisory_xact_lock_within(key, wait)` waits up to `wait` (a `lock_timeout` value, set for the
wait only), answering whether it holds the lock; the caller stages when it does not.

SQLite has no such function: its writers hold the database's single write lock.
"""
from collections.abc import Sequence

from alembic import op

revision: str = 'c6d7e8f9a0b1'
down_revision: str | None = 'b5c6d7e8f9a0'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

FUNCTION = r"""
CREATE FUNCTION slds_advisory_xact_lock_within(lock_key text, wait text) RETURNS boolean LANGUAGE plpgsql AS $$
DECLARE
  previous text := current_setting('lock_timeout');
BEGIN
  PERFORM set_config('lock_timeout', wait, true);
  BEGIN
    PERFORM pg_advisory_xact_lock(hashtext(lock_key));
  EXCEPTION WHEN lock_not_available THEN
    PERFORM set_config('lock_timeout', previous, true);
    RETURN false;
  END;
  PERFORM set_config('lock_timeout', previous, true);
  RETURN true;
END
$$
"""


def upgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    op.execute(FUNCTION)


def downgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    op.execute("DROP FUNCTION IF EXISTS slds_advisory_xact_lock_within(text, text)")
