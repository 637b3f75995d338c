"""append-only logs: PostgreSQL refuses to update or delete chained log entries

Revision ID: c7a6d5e8f007
Revises: c6f5c4d7e006
Create Date: 2026-12-02 19:45:00

The hash chain makes an edit detectable; this makes it impossible for anyone but a superuser who
switches triggers off (session_replication_role = replica). The one update allowed is the chainer
folding a staged entry (seq < 0) into the chain: only seq, prev_hash and hash may change then.
TRUNCATE is refused by a statement trigger. SQLite has no roles; its file is the deployment's.
"""
from collections.abc import Sequence

from alembic import op

revision: str = 'c7a6d5e8f007'
down_revision: str | None = 'c6f5c4d7e006'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

LOG_TABLES = ("identity_access_log", "records_access_log", "disclosure_log", "disclosure_log_student")
CHAIN_COLUMNS = "'seq', 'prev_hash', 'hash'"

FUNCTION = f"""
CREATE OR REPLACE FUNCTION slds_append_only_log() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  IF TG_OP = 'UPDATE' AND TG_TABLE_NAME <> 'disclosure_log_student' THEN
    IF (to_jsonb(OLD) ->> 'seq')::bigint < 0
       AND (to_jsonb(NEW) - ARRAY[{CHAIN_COLUMNS}]) = (to_jsonb(OLD) - ARRAY[{CHAIN_COLUMNS}]) THEN
      RETURN NEW;  -- a staged entry folded into the chain
    END IF;
  END IF;
  RAISE EXCEPTION 'slds: % is append-only, % refused', TG_TABLE_NAME, TG_OP
    USING ERRCODE = 'insufficient_privilege';
END
$$
"""


def upgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    op.execute(FUNCTION)
    for table in LOG_TABLES:
        op.execute(f"CREATE TRIGGER {table}_append_only BEFORE UPDATE OR DELETE ON {table} "
                   "FOR EACH ROW EXECUTE FUNCTION slds_append_only_log()")
        op.execute(f"CREATE TRIGGER {table}_no_truncate BEFORE TRUNCATE ON {table} "
                   "FOR EACH STATEMENT EXECUTE FUNCTION slds_append_only_log()")


def downgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    for table in LOG_TABLES:
        op.execute(f"DROP TRIGGER IF EXISTS {table}_no_truncate ON {table}")
        op.execute(f"DROP TRIGGER IF EXISTS {table}_append_only ON {table}")
    op.execute("DROP FUNCTION IF EXISTS slds_append_only_log()")
