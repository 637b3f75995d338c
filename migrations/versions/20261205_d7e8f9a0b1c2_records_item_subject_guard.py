"""PostgreSQL: an element's subject is checked once per statement, not once per row

Revision ID: d7e8f9a0b1c2
Revises: c6d7e8f9a0b1
Create Date: 2026-12-05 10:40:00

`records_item (entity, state_id)` referenced `records_subject` through a foreign key. PostgreSQL 15
checks a foreign key with one query per inserted row (an AFTER ROW trigger running its query
through SPI, executor start and end each time). A bulk write inserts ~9,000 elements for ~1,000
subjects, and that check was two thirds of the items' insert and a quarter to a third of
PostgreSQL's CPU per record ingested (bench.records, two pairs with the check on and off: 0.38
and 0.35 against 0.28 and 0.26 ms per record).

The same rule, enforced per statement: after an insert, one query takes the subjects of the
inserted elements (each once) with the lock the foreign key takes (`FOR KEY SHARE`), and refuses
the statement if any is missing, with the foreign key's error code (23503) and name. An element
moved to another subject is checked per row, as is a subject deleted or re-keyed while elements
name it (no code path deletes or re-keys a subject; the guard stays). The locks make the check
hold against concurrent writers as the foreign key's do: a subject being deleted makes the
insert wait, then fail; a subject locked by an insert makes the delete wait, then fail (its check
then sees the committed elements: READ COMMITTED, as the services run). Not covered: TRUNCATE of
`records_subject` alone (a foreign key refuses it).

SQLite keeps the foreign key: it checks a row in a B-tree probe, and has one writer at a time.
The models keep it too (the relationship, and SQLite's schema); `shared.migrate.include_object`
tells Alembic's comparison that PostgreSQL enforces it here instead.
"""
from collections.abc import Sequence

from alembic import op

revision: str = 'd7e8f9a0b1c2'
down_revision: str | None = 'c6d7e8f9a0b1'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

FOREIGN_KEY = "fk_records_item_entity_records_subject"
# The error says which rule, never which student (state IDs are not for server logs).
_REFUSE_ITEM = (
    f"RAISE EXCEPTION 'insert or update on table \"records_item\" violates foreign key constraint \"{FOREIGN_KEY}\"' "
    "USING ERRCODE = 'foreign_key_violation', TABLE = 'records_item', "
    f"CONSTRAINT = '{FOREIGN_KEY}', DETAIL = 'An element names a subject that records_subject does not hold.'"
)
_REFUSE_SUBJECT = (
    f"RAISE EXCEPTION 'update or delete on table \"records_subject\" violates foreign key constraint \"{FOREIGN_KEY}\" "
    "on table \"records_item\"' USING ERRCODE = 'foreign_key_violation', TABLE = 'records_subject', "
    f"CONSTRAINT = '{FOREIGN_KEY}', DETAIL = 'Elements in records_item still name the subject.'"
)

STATEMENTS = (
    # Inserted elements: their subjects, each once, locked as the foreign key locks them. A
    # missing (or concurrently deleted) subject locks no row, so fewer are held than named.
    f"""CREATE FUNCTION records_item_subjects_exist() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
  named bigint;
  held bigint;
BEGIN
  SELECT count(*), count(locked.found) INTO named, held
  FROM (SELECT DISTINCT entity, state_id FROM new_items) AS k
  LEFT JOIN LATERAL (SELECT true AS found FROM records_subject AS s
                     WHERE s.entity = k.entity AND s.state_id = k.state_id FOR KEY SHARE OF s) AS locked ON true;
  IF held < named THEN
    {_REFUSE_ITEM};
  END IF;
  RETURN NULL;
END
$$""",
    ("CREATE TRIGGER records_item_subjects_exist AFTER INSERT ON records_item "
     "REFERENCING NEW TABLE AS new_items FOR EACH STATEMENT EXECUTE FUNCTION records_item_subjects_exist()"),
    # An element moved to another subject (a merge's fold): rare, so per row.
    f"""CREATE FUNCTION records_item_subject_exists() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  PERFORM 1 FROM records_subject AS s WHERE s.entity = NEW.entity AND s.state_id = NEW.state_id
  FOR KEY SHARE OF s;
  IF NOT FOUND THEN
    {_REFUSE_ITEM};
  END IF;
  RETURN NULL;
END
$$""",
    ("CREATE TRIGGER records_item_subject_moved AFTER UPDATE OF entity, state_id ON records_item FOR EACH ROW "
     "WHEN (OLD.entity IS DISTINCT FROM NEW.entity OR OLD.state_id IS DISTINCT FROM NEW.state_id) "
     "EXECUTE FUNCTION records_item_subject_exists()"),
    # A subject deleted or re-keyed while elements still name it.
    f"""CREATE FUNCTION records_subject_keeps_items() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  PERFORM 1 FROM records_item AS i WHERE i.entity = OLD.entity AND i.state_id = OLD.state_id LIMIT 1;
  IF FOUND THEN
    {_REFUSE_SUBJECT};
  END IF;
  RETURN NULL;
END
$$""",
    ("CREATE TRIGGER records_subject_deleted AFTER DELETE ON records_subject FOR EACH ROW "
     "EXECUTE FUNCTION records_subject_keeps_items()"),
    ("CREATE TRIGGER records_subject_rekeyed AFTER UPDATE OF entity, state_id ON records_subject FOR EACH ROW "
     "WHEN (OLD.entity IS DISTINCT FROM NEW.entity OR OLD.state_id IS DISTINCT FROM NEW.state_id) "
     "EXECUTE FUNCTION records_subject_keeps_items()"),
)


def upgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    op.drop_constraint(FOREIGN_KEY, "records_item", type_="foreignkey")
    for statement in STATEMENTS:
        op.execute(statement)


def downgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    for trigger, table in (("records_subject_rekeyed", "records_subject"), ("records_subject_deleted", "records_subject"),
                           ("records_item_subject_moved", "records_item"),
                           ("records_item_subjects_exist", "records_item")):
        op.execute(f"DROP TRIGGER IF EXISTS {trigger} ON {table}")
    for function in ("records_subject_keeps_items", "records_item_subject_exists", "records_item_subjects_exist"):
        op.execute(f"DROP FUNCTION IF EXISTS {function}()")
    op.create_foreign_key(FOREIGN_KEY, "records_item", "records_subject", ["entity", "state_id"],
                          ["entity", "state_id"])
