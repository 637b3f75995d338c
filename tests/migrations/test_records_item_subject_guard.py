"""Every element (`records_item`) names a subject that `records_subject` holds. SQLite checks it
with the foreign key; on PostgreSQL migration d7e8f9a0b1c2 replaced the key's per-row check with
triggers that check each statement's subjects at once. The rule is the same on both: an element
for a missing subject is refused (the whole statement, with the foreign key's error and never the
state ID), an element cannot move to a missing subject, and a subject cannot be deleted or
re-keyed while elements name it. On PostgreSQL the triggers also lock as the foreign key does, so
an insert and a concurrent delete of its subject cannot both succeed."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import orjson
import pytest
from sqlalchemy import delete, insert, select, text, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, AsyncSession

from services.records.models import RecordItem, RecordSubject
from services.records.repository import RecordsRepository
from shared.db import utcnow
from shared.state import Database

ITEMS, SUBJECTS = RecordItem.__table__, RecordSubject.__table__


def _state_id() -> str:
    return "G" + uuid.uuid4().hex[:10].upper()


def _subject(state_id: str) -> dict[str, object]:
    now = utcnow()
    return {"entity": "student", "state_id": state_id, "version": 1, "change_version": 0, "merged_into": None,
            "created_at": now, "updated_at": now}


def _item(state_id: str, key: str) -> dict[str, object]:
    return {"id": str(uuid.uuid4()), "entity": "student", "state_id": state_id, "section": "assessments",
            "item_key": key, "district_id": "1001", "data": {"subject": "mathematics"}, "version": 1,
            "change_version": 1, "recorded_at": utcnow(), "recorded_by": "test", "submission_id": None}


async def _refused(session: AsyncSession, statement, params=None) -> IntegrityError:
    """Run a statement that must be refused, in a savepoint so the test's transaction goes on."""
    with pytest.raises(IntegrityError) as refused:
        async with session.begin_nested():
            await session.execute(statement, params) if params is not None else await session.execute(statement)
    return refused.value


async def _item_count(session: AsyncSession, *state_ids: str) -> int:
    return len((await session.execute(select(ITEMS.c.id).where(ITEMS.c.state_id.in_(state_ids)))).all())


async def test_an_element_for_a_missing_subject_is_refused_with_the_whole_statement(db: Database) -> None:
    held, missing = _state_id(), _state_id()
    async with db.sessionmaker() as session:
        await session.execute(insert(SUBJECTS), [_subject(held)])
        # ~1,000 elements of one subject and one of a missing subject, in one statement.
        rows = [_item(held, f"k{i}") for i in range(1000)] + [_item(missing, "k0")]
        error = await _refused(session, insert(ITEMS), rows)
        assert await _item_count(session, held, missing) == 0  # nothing of the statement stays
        assert missing not in str(error.orig) and held not in str(error.orig)  # the rule, not the student
        if session.bind.dialect.name == "postgresql":
            assert error.orig.sqlstate == "23503"
            assert "fk_records_item_entity_records_subject" in str(error.orig)

        await session.execute(insert(ITEMS), rows[:-1])  # the same elements without the stray one
        assert await _item_count(session, held) == 1000


async def test_an_element_cannot_move_to_a_missing_subject_but_may_move_to_a_held_one(db: Database) -> None:
    first, second, missing = _state_id(), _state_id(), _state_id()
    async with db.sessionmaker() as session:
        await session.execute(insert(SUBJECTS), [_subject(first), _subject(second)])
        row = _item(first, "k0")
        await session.execute(insert(ITEMS), [row])
        await _refused(session, update(ITEMS).where(ITEMS.c.id == row["id"]).values(state_id=missing))
        await session.execute(update(ITEMS).where(ITEMS.c.id == row["id"]).values(state_id=second))  # a fold
        assert await _item_count(session, second) == 1
        # An update that leaves the subject alone is not checked again (and passes).
        await session.execute(update(ITEMS).where(ITEMS.c.id == row["id"]).values(version=2))


async def test_a_subject_named_by_elements_cannot_be_deleted_or_rekeyed(db: Database) -> None:
    named, other = _state_id(), _state_id()
    async with db.sessionmaker() as session:
        await session.execute(insert(SUBJECTS), [_subject(named), _subject(other)])
        await session.execute(insert(ITEMS), [_item(named, "k0"), _item(named, "k1")])
        where = (SUBJECTS.c.entity == "student") & (SUBJECTS.c.state_id == named)
        await _refused(session, delete(SUBJECTS).where(where))
        await _refused(session, update(SUBJECTS).where(where).values(state_id=_state_id()))
        await session.execute(update(SUBJECTS).where(where).values(version=7))  # not a key: allowed
        await session.execute(delete(SUBJECTS).where((SUBJECTS.c.entity == "student") & (SUBJECTS.c.state_id == other)))
        await session.execute(delete(ITEMS).where(ITEMS.c.state_id == named))
        await session.execute(delete(SUBJECTS).where(where))  # no element names it now
        assert (await session.execute(select(SUBJECTS.c.state_id).where(where))).first() is None


# --- PostgreSQL: concurrent writers ----------------------------------------------------------------


@asynccontextmanager
async def _committed_subjects(engine: AsyncEngine, *state_ids: str) -> AsyncIterator[None]:
    """Subjects committed for a test of concurrent transactions, removed (with any element) after."""
    async with engine.begin() as connection:
        await connection.execute(insert(SUBJECTS), [_subject(s) for s in state_ids])
    try:
        yield
    finally:
        async with engine.begin() as connection:
            await connection.execute(delete(ITEMS).where(ITEMS.c.state_id.in_(state_ids)))
            await connection.execute(delete(SUBJECTS).where(SUBJECTS.c.state_id.in_(state_ids)))


async def _blocked(task: asyncio.Task) -> bool:
    await asyncio.sleep(0.5)
    return not task.done()


def _postgres_only(engine: AsyncEngine) -> None:
    if engine.dialect.name != "postgresql":
        pytest.skip("concurrent transactions are proven on PostgreSQL (CI runs it); SQLite has one writer")


async def _delete_subject(connection: AsyncConnection, state_id: str) -> None:
    await connection.execute(delete(SUBJECTS).where((SUBJECTS.c.entity == "student") & (SUBJECTS.c.state_id == state_id)))


async def test_an_insert_waits_for_a_delete_of_its_subject_and_then_fails(engine: AsyncEngine) -> None:
    _postgres_only(engine)
    sid = _state_id()
    async with _committed_subjects(engine, sid), engine.connect() as deleter, engine.connect() as writer:
        await deleter.begin()
        await _delete_subject(deleter, sid)  # not committed yet
        await writer.begin()
        await writer.execute(text("SET LOCAL lock_timeout = '20s'"))
        inserting = asyncio.create_task(writer.execute(insert(ITEMS), [_item(sid, "k0"), _item(sid, "k1")]))
        assert await _blocked(inserting)  # the subject's lock, as the foreign key waits for it
        await deleter.commit()
        with pytest.raises(IntegrityError):
            await inserting
        await writer.rollback()


async def test_a_delete_waits_for_an_insert_naming_its_subject_and_then_fails(engine: AsyncEngine) -> None:
    _postgres_only(engine)
    sid = _state_id()
    async with _committed_subjects(engine, sid), engine.connect() as writer, engine.connect() as deleter:
        await writer.begin()
        await writer.execute(insert(ITEMS), [_item(sid, "k0")])  # not committed yet
        await deleter.begin()
        await deleter.execute(text("SET LOCAL lock_timeout = '20s'"))
        deleting = asyncio.create_task(_delete_subject(deleter, sid))
        assert await _blocked(deleting)
        await writer.commit()
        with pytest.raises(IntegrityError):  # the delete's check sees the committed element
            await deleting
        await deleter.rollback()
        async with engine.connect() as reader:
            assert (await reader.execute(select(ITEMS.c.id).where(ITEMS.c.state_id == sid))).first() is not None


async def test_a_copy_of_elements_is_checked_too(engine: AsyncEngine) -> None:
    """The bulk paths write with COPY (the benchmark's load) and INSERT ... SELECT (the write path)."""
    _postgres_only(engine)
    held, missing = _state_id(), _state_id()
    columns = list(_item(held, "k").keys())
    async with _committed_subjects(engine, held), engine.connect() as connection:
        raw = (await connection.get_raw_connection()).driver_connection

        def records(batch: str, *state_ids: str) -> list[tuple[object, ...]]:
            return [tuple(orjson.dumps(v).decode() if k == "data" else v for k, v in _item(s, f"{batch}{i}").items())
                    for i, s in enumerate(state_ids)]
        async with raw.transaction():
            await raw.copy_records_to_table("records_item", records=records("a", held, held), columns=columns)
        with pytest.raises(Exception) as refused:
            async with raw.transaction():
                await raw.copy_records_to_table("records_item", records=records("b", held, missing), columns=columns)
        assert getattr(refused.value, "sqlstate", None) == "23503"
        assert await raw.fetchval("SELECT count(*) FROM records_item WHERE state_id = $1", held) == 2


async def test_a_bulk_requests_elements_are_checked_without_a_temporary_file(db: Database) -> None:
    """The check reads a statement's elements from its transition table, which PostgreSQL keeps in
    memory up to `work_mem` and writes to a temporary file past it. A bulk request's ~9,000
    elements (~4.5 MB) did, until the write path raised `work_mem` for its transaction
    (`RecordsRepository.store_items_from_versions`)."""
    if db.engine.dialect.name != "postgresql":
        pytest.skip("SQLite checks elements with its foreign key")
    held = _state_id()
    insert_elements = text(
        "EXPLAIN (ANALYZE, BUFFERS, FORMAT JSON) INSERT INTO records_item (id, entity, state_id, section, item_key, "
        "district_id, data, version, change_version, recorded_at, recorded_by) "
        "SELECT gen_random_uuid()::text, 'student', :sid, 'assessments', :batch || g, '1001', CAST(:data AS json), "
        "1, 1, now(), 'test' FROM generate_series(1, 9000) AS g")
    data = orjson.dumps({"subject": "mathematics", "note": "x" * 600}).decode()  # a bulk element's size

    async def temp_blocks_written(session: AsyncSession, batch: str) -> int:
        (plan,) = await session.scalar(insert_elements, {"sid": held, "batch": batch, "data": data})
        return plan["Plan"]["Temp Written Blocks"]

    async with db.sessionmaker() as session:
        await session.execute(insert(SUBJECTS), [_subject(held)])
        async with session.begin_nested() as before:
            assert await temp_blocks_written(session, "a") > 0  # at the server's default
            await before.rollback()
        far = 10**15  # version ids no test writes: the statements themselves insert nothing
        await RecordsRepository(session).store_items_from_versions(list(range(far, far + 9000)), [])
        assert await temp_blocks_written(session, "b") == 0
