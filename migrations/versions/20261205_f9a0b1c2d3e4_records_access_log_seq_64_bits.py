"""records: the access log's sequence numbers as 64-bit integers

Revision ID: f9a0b1c2d3e4
Revises: e8f9a0b1c2d3
Create Date: 2026-12-05 19:30:00

`records_access_log.seq` was a 32-bit integer: the log would stop taking entries at its
2,147,483,647th, and with it every read and write of a student record (each is logged in its
transaction). Every read and every written record adds an entry: a state whose dashboards and SIS
make 3,000,000 of them a day would reach that in under two years. 64 bits do not run out.

The read path's append function and procedure (migrations e2f3a4b5c6d7 and f3a4b5c6d7e8) count
the chain's head in 64 bits too: they are recreated, unchanged but for that type.

The identity and disclosure logs keep 32 bits: they take an entry per registrar search, clearance
change or disclosure, orders of magnitude fewer. The change rewrites the table and its indexes (an ACCESS EXCLUSIVE lock
while it runs). SQLite's INTEGER primary key is 64 bits already.
"""
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = 'f9a0b1c2d3e4'
down_revision: str | None = 'e8f9a0b1c2d3'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

ARGUMENTS = "text, text, timestamptz[], text[], text[], text[], text[], text[], text[]"
# The bodies of e2f3a4b5c6d7 and f3a4b5c6d7e8 with the head's type as SEQ.
FUNCTION = r"""
CREATE FUNCTION records_access_log_append(
    lock_key text, lock_wait text, ats timestamptz[], at_texts text[], actors text[], actions text[],
    request_ids text[], payloads text[], state_ids text[]) RETURNS SEQ LANGUAGE plpgsql AS $$
DECLARE
  head_seq SEQ;
  head_hash text;
  seqs SEQ[];
  prevs text[];
  hashes text[];
BEGIN
  PERFORM set_config('synchronous_commit', 'off', true);
  PERFORM set_config('lock_timeout', lock_wait, true);
  BEGIN
    PERFORM pg_advisory_xact_lock(hashtext(lock_key));
  EXCEPTION WHEN lock_not_available THEN
    RETURN NULL;
  END;
  -- A statement of its own, so a snapshot taken after the lock: the head another process's
  -- append left is seen.
  SELECT seq, hash INTO head_seq, head_hash FROM records_access_log WHERE seq > 0 ORDER BY seq DESC LIMIT 1;
  IF head_seq IS NULL THEN
    head_seq := 0;
    head_hash := repeat('0', 64);
  END IF;
  FOR i IN 1 .. coalesce(cardinality(ats), 0) LOOP
    head_seq := head_seq + 1;
    seqs[i] := head_seq;
    prevs[i] := head_hash;
    head_hash := encode(sha256(convert_to(concat_ws(E'\x1f', head_hash, head_seq::text, at_texts[i], actors[i],
                                                    actions[i], coalesce(request_ids[i], ''), payloads[i]),
                                          'UTF8')), 'hex');
    hashes[i] := head_hash;
  END LOOP;
  INSERT INTO records_access_log (seq, at, actor, action, request_id, payload, prev_hash, hash, state_id)
    SELECT * FROM unnest(seqs, ats, actors, actions, request_ids, payloads, prevs, hashes, state_ids);
  RETURN head_seq;
END
$$
"""
PROCEDURE = r"""
CREATE PROCEDURE records_access_log_append_flushed(
    lock_key text, lock_wait text, ats timestamptz[], at_texts text[], actors text[], actions text[],
    request_ids text[], payloads text[], state_ids text[], INOUT head SEQ DEFAULT NULL)
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


def _recreate_append(old: str, new: str) -> None:
    op.execute(f"DROP PROCEDURE records_access_log_append_flushed({ARGUMENTS}, {old})")
    op.execute(f"DROP FUNCTION records_access_log_append({ARGUMENTS})")
    op.execute(FUNCTION.replace("SEQ", new))
    op.execute(PROCEDURE.replace("SEQ", new))


def upgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    op.alter_column("records_access_log", "seq", type_=sa.BigInteger(), existing_type=sa.Integer(),
                    existing_nullable=False)
    _recreate_append("integer", "bigint")


def downgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    _recreate_append("bigint", "integer")
    # Refused by PostgreSQL (out of range) if the log has passed 32 bits: nothing is cut short.
    op.alter_column("records_access_log", "seq", type_=sa.Integer(), existing_type=sa.BigInteger(),
                    existing_nullable=False)
