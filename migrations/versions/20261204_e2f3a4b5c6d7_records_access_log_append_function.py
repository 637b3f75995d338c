"""records access log: one function call appends a batch of read entries to the chain

Revision ID: e2f3a4b5c6d7
Revises: d1b2c3d4e5f6
Create Date: 2026-12-04 18:30:00

A batch of record reads' log entries went into the chain in three to five statements: take the
chain's lock (waiting for it, then reading the head, when another process held it), insert the
hashed entries, let the lock go. Each statement is a round trip, and a round trip cost the
records service more CPU than the rows (the socket send alone). `records_access_log_append`
does it in one: it takes the lock for its transaction (giving up after `lock_wait`, answering
NULL, so that the caller stages the batch instead of keeping reads waiting behind a writer),
reads the head after the lock is held, hashes each entry as `shared.audit.entry_hash` does
(sha256 over the fields joined by U+001F, the timestamp as the caller's ISO text) and inserts
them. It commits without waiting for the WAL to reach disk, so the lock is let go before the
flush; the caller then waits for the flush in a statement of its own, before any read answers.

SQLite has no such function: its reads log in the request's own transaction.
"""
from collections.abc import Sequence

from alembic import op

revision: str = 'e2f3a4b5c6d7'
down_revision: str | None = 'd1b2c3d4e5f6'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

FUNCTION = r"""
CREATE FUNCTION records_access_log_append(
    lock_key text, lock_wait text, ats timestamptz[], at_texts text[], actors text[], actions text[],
    request_ids text[], payloads text[], state_ids text[]) RETURNS integer LANGUAGE plpgsql AS $$
DECLARE
  head_seq integer;
  head_hash text;
  seqs integer[];
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


def upgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    op.execute(FUNCTION)


def downgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    op.execute("DROP FUNCTION IF EXISTS records_access_log_append(text, text, timestamptz[], text[], text[], "
               "text[], text[], text[], text[])")
