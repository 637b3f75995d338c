"""records access log: the batch append and the wait for its WAL flush in one call

Revision ID: f3a4b5c6d7e8
Revises: e2f3a4b5c6d7
Create Date: 2026-12-04 21:20:00

`records_access_log_append` (e2f3a4b5c6d7) commits without waiting for the WAL flush, so the
chain's lock goes before the disk write; the records service then waited for the flush in a
second statement (a transaction given an xid, whose commit waits for the WAL up to itself). A
statement is a round trip, and a round trip is the read path's largest cost per batch. This
procedure does both in one call: it calls the function, commits (the lock goes, the flush is not
waited for), then gives its next transaction an xid, whose commit at the end of the CALL waits for
the flush of everything before it, the entries included. `head` is the chain's new head, or NULL
when the lock was not had in time (nothing was written).

Transaction control in a procedure needs the CALL outside any transaction block: the records
service calls it on an autocommit connection of its own.
"""
from collections.abc import Sequence

from alembic import op

revision: str = 'f3a4b5c6d7e8'
down_revision: str | None = 'e2f3a4b5c6d7'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

PROCEDURE = r"""
CREATE PROCEDURE records_access_log_append_flushed(
    lock_key text, lock_wait text, ats timestamptz[], at_texts text[], actors text[], actions text[],
    request_ids text[], payloads text[], state_ids text[], INOUT head integer DEFAULT NULL)
LANGUAGE plpgsql AS $$
BEGIN
  head := records_access_log_append(lock_key, lock_wait, ats, at_texts, actors, actions, request_ids,
                                    payloads, state_ids);
  IF head IS NULL THEN
    RETURN;
  END IF;
  COMMIT;  -- synchronous_commit is off for this transaction (the function set it): the lock goes now
  PERFORM pg_current_xact_id();  -- an xid: this transaction's commit (synchronous again) waits for the flush
END
$$
"""


def upgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    op.execute(PROCEDURE)


def downgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    op.execute("DROP PROCEDURE IF EXISTS records_access_log_append_flushed(text, text, timestamptz[], text[], "
               "text[], text[], text[], text[], text[], integer)")
