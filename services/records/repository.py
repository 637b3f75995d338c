"""Records' queries. Repositories flush, never commit (one commit per request, in `shared.deps`)."""

from __future__ import annotations

import asyncio
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from functools import lru_cache
from typing import Any

import orjson
from sqlalchemy import (
    Date,
    Integer,
    String,
    Text,
    any_,
    bindparam,
    cast,
    delete,
    func,
    insert,
    literal,
    literal_column,
    null,
    select,
    text,
    union_all,
    update,
)
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession

from services.records.facts import current_on, taught_now
from services.records.models import (
    Caseload,
    ClassSection,
    Enrollment,
    RecordItem,
    RecordItemVersion,
    RecordsAccessLogEntry,
    RecordSubject,
    SectionStaff,
    SectionStudent,
    StudentPlan,
)
from services.records.sections import ROOT, sections
from shared.audit import lock_chain
from shared.batching import Coalescer
from shared.db import RawStatement, copy_rows, one_of, utcnow
from shared.policy.principal import StudentFacts

Element = tuple[str, str, dict[str, Any]]  # (section, item_key, data)


@dataclass(frozen=True, slots=True)
class ReadContext:
    state_id: str
    version: int
    merged_into: str | None
    facts: StudentFacts
    archived: bool
    has_statements: bool
    elements: list[Element] | None = None  # the current elements, when asked for


@dataclass(slots=True)
class SubjectRow:
    """A locked subject row for the write path (plain values, not an ORM object)."""

    state_id: str
    version: int
    change_version: int


@dataclass(slots=True)
class ItemRow:
    """A current element for the write path; has what `refresh_*_many` read of a `RecordItem`."""

    id: str
    state_id: str
    section: str
    item_key: str
    data: dict[str, Any]
    version: int
    change_version: int


@lru_cache(maxsize=4)
def _read_context_statement(with_items: bool, many: bool = False) -> Any:
    """Built once: constructing the expression per call cost more CPU than running it. Each row
    starts with the student it is about (`sid`); `many` (PostgreSQL) matches every student of an
    array parameter `sids`, so that one statement serves a batch of concurrent reads."""
    from services.records.rights_models import ArchiveState, StatementOfDisagreement

    day = bindparam("day", type_=Date)
    if many:
        sids = bindparam("sids", type_=ARRAY(String))

        def of(column: Any) -> Any:
            return column == any_(sids)
    else:
        sid = bindparam("sid", type_=String)

        def of(column: Any) -> Any:
            return column == sid

    # Constants inline, not bound: only the parameters above go through the driver per read.
    def row(student: Any, kind: str, number: Any = None, a: Any = None, b: Any = None, d: Any = None) -> list[Any]:
        return [cast(student, String).label("sid"), literal_column(f"'{kind}'", String).label("kind"),
                cast(_or_null(number), Integer).label("n"), cast(_or_null(a), String).label("a"),
                cast(_or_null(b), String).label("b"), cast(_or_null(d), Text).label("d")]

    student = literal_column("'student'", String)
    statement = StatementOfDisagreement.state_student_id

    parts = [
        select(*row(RecordSubject.state_id, "subject", RecordSubject.version, RecordSubject.merged_into)).where(
            RecordSubject.entity == student, of(RecordSubject.state_id)),
        select(*row(Enrollment.state_student_id, "enrolled", None, Enrollment.district_id, Enrollment.school_id))
        .where(of(Enrollment.state_student_id), current_on(Enrollment.entry_date, Enrollment.exit_date, day)),
        select(*row(SectionStudent.state_student_id, "teacher", None, SectionStaff.staff_id)).select_from(SectionStudent)
        .join(ClassSection, ClassSection.id == SectionStudent.class_section_id)
        .join(SectionStaff, SectionStaff.class_section_id == SectionStudent.class_section_id)
        .where(of(SectionStudent.state_student_id), taught_now(day)),
        select(*row(Caseload.state_student_id, "caseload", None, Caseload.kind, Caseload.staff_id)).where(
            of(Caseload.state_student_id), current_on(Caseload.begin_date, Caseload.end_date, day)),
        select(*row(StudentPlan.state_student_id, "plan", None, StudentPlan.kind)).where(
            of(StudentPlan.state_student_id), current_on(StudentPlan.begin_date, StudentPlan.end_date, day)),
        select(*row(ArchiveState.state_student_id, "archived")).where(
            of(ArchiveState.state_student_id), ArchiveState.archived_at.is_not(None)),
        select(*row(statement, "statement")).where(of(statement)).group_by(statement).subquery().select(),
    ]
    if with_items:
        parts.append(select(*row(RecordItem.state_id, "item", None, RecordItem.section, RecordItem.item_key,
                                 RecordItem.data)).where(RecordItem.entity == student, of(RecordItem.state_id)))
    return union_all(*parts)


def _or_null(value: Any) -> Any:
    return null() if value is None else value


def contexts_from_rows(day: date, rows: Sequence[Sequence[Any]], *, with_items: bool) -> dict[str, ReadContext]:
    """The `ReadContext`s of the rows of `_read_context_statement` (sid, kind, n, a, b, d), by
    student, in one pass (it runs on every read). A student without a subject row has none."""
    found: dict[str, _ContextRows] = {}
    for sid, kind, n, a, b, d in rows:
        into = found.get(sid)
        if into is None:
            into = found[sid] = _ContextRows()
        if kind == "item":
            into.items.append((a, b))
            into.texts.append(d)
        elif kind == "subject":
            into.subject = (n, a)
        elif kind == "enrolled":
            into.districts.add(a)
            into.schools.add(b)
        elif kind == "teacher":
            into.teachers.add(a)
        elif kind == "caseload":
            if a == "counselor":
                into.counselors.add(b)
            elif a == "service_provider":
                into.providers.add(b)
        elif kind == "plan":
            into.plans.add(a)
        elif kind == "archived":
            into.archived = True
        elif kind == "statement":
            into.has_statements = True
    return {sid: into.context(sid, day, with_items) for sid, into in found.items() if into.subject is not None}


@dataclass(slots=True)
class _ContextRows:
    """One student's rows of the read-context statement, gathered."""

    subject: tuple[int, str | None] | None = None
    districts: set[str] = field(default_factory=set)
    schools: set[str] = field(default_factory=set)
    teachers: set[str] = field(default_factory=set)
    counselors: set[str] = field(default_factory=set)
    providers: set[str] = field(default_factory=set)
    plans: set[str] = field(default_factory=set)
    archived: bool = False
    has_statements: bool = False
    items: list[tuple[str, str]] = field(default_factory=list)
    texts: list[str] = field(default_factory=list)

    def context(self, state_id: str, day: date, with_items: bool) -> ReadContext:
        assert self.subject is not None
        facts = StudentFacts(
            state_student_id=state_id, district_ids=frozenset(self.districts), school_ids=frozenset(self.schools),
            teacher_staff_ids=frozenset(self.teachers), counselor_staff_ids=frozenset(self.counselors),
            service_provider_staff_ids=frozenset(self.providers), receives_special_education="iep" in self.plans,
            has_504_plan="504" in self.plans, as_of=day)
        elements = None
        if with_items:
            # One JSON document for all the items: one decoder call instead of one per item.
            data = orjson.loads(f"[{','.join(self.texts)}]") if self.texts else []
            elements = [(section, key, value) for (section, key), value in zip(self.items, data, strict=True)]
        return ReadContext(state_id=state_id, version=self.subject[0], merged_into=self.subject[1], facts=facts,
                           archived=self.archived, has_statements=self.has_statements, elements=elements)


class RawContextReader:
    """The current-record read context on PostgreSQL through asyncpg itself, outside any
    transaction: the same statement as `RecordsRepository.read_context`, compiled once, run as
    one autocommit statement (a consistent snapshot on its own). The hot read path's query: the
    ORM session, BEGIN and COMMIT cost more CPU than the query (see docs/benchmarks.md).

    Concurrent reads share one statement (`shared.batching.Coalescer`): the students asked for
    while a statement runs are all fetched by the next, so a busy worker makes one round trip for
    many reads instead of one each."""

    def __init__(self, engine: AsyncEngine, *, max_batch: int = 64, turns: asyncio.Lock | None = None) -> None:
        self.statement = RawStatement(engine, _read_context_statement(True, many=True))
        self.batches: Coalescer[tuple[str, date], ReadContext | None] = Coalescer(self._fetch, max_batch=max_batch,
                                                                                  turns=turns)

    async def read_context(self, state_id: str, day: date) -> ReadContext | None:
        return await self.batches.submit((state_id, day))

    async def _fetch(self, wanted: list[tuple[str, date]]) -> list[ReadContext | None]:
        found: dict[tuple[str, date], ReadContext] = {}
        for day in {day for _, day in wanted}:  # one day in practice (a batch spanning midnight: two)
            sids = sorted({sid for sid, d in wanted if d == day})
            rows = await self.statement.fetch(sids=sids, day=day)
            found.update(((sid, day), context) for sid, context in
                         contexts_from_rows(day, rows, with_items=True).items())
        return [found.get(key) for key in wanted]


_SAVE_SUBJECTS = text(
    f"UPDATE {RecordSubject.__tablename__} AS s SET version = v.version, change_version = v.change_version, "
    "updated_at = :now FROM unnest(CAST(:ids AS varchar[]), CAST(:versions AS integer[]), "
    "CAST(:changes AS bigint[])) AS v(state_id, version, change_version) "
    "WHERE s.entity = :entity AND s.state_id = v.state_id")
_INSERT_MISSING_SUBJECTS = text(
    f"INSERT INTO {RecordSubject.__tablename__} (entity, state_id, version, change_version, merged_into, "
    "created_at, updated_at) SELECT e.entity, k.i, 0, 0, NULL, e.now, e.now "
    "FROM (SELECT CAST(:entity AS varchar) AS entity, CAST(:now AS timestamptz) AS now) AS e, "
    "unnest(CAST(:ids AS varchar[])) WITH ORDINALITY AS k(i, n) "
    "WHERE NOT EXISTS (SELECT 1 FROM records_subject s WHERE s.entity = e.entity AND s.state_id = k.i) "
    "ORDER BY n ON CONFLICT (entity, state_id) DO NOTHING RETURNING state_id")


# The change floor (see `RecordsRepository.hold_change_floor`): a bigint split into the two int4
# halves of an advisory key, which pg_locks shows as classid (high) and objid (low, unsigned).
_VERSION_SEQUENCE = "pg_get_serial_sequence('records_item_version', 'id')::regclass"
_HOLD_FLOOR = text(
    "SELECT pg_advisory_xact_lock_shared((f >> 32)::int4, (f & 4294967295)::bit(32)::int4) "
    f"FROM (SELECT coalesce(pg_sequence_last_value({_VERSION_SEQUENCE}), 0) AS f) AS floor")
# The sequence is looked up once (a materialised CTE; a subquery is flattened into the select
# list): as nextval's argument the lookup ran once per id, 2.6 us against 0.3 us for nextval.
_NEXT_VERSION_IDS = text(f"WITH s AS MATERIALIZED (SELECT {_VERSION_SEQUENCE} AS seq) "
                         "SELECT nextval(s.seq) FROM s, generate_series(1, :n) ORDER BY 1")
_SEQUENCE_VALUE = text(f"SELECT pg_sequence_last_value({_VERSION_SEQUENCE})")
_LOWEST_FLOOR = text(
    "SELECT min((classid::bigint << 32) | objid::bigint) FROM pg_locks "
    "WHERE locktype = 'advisory' AND objsubid = 2 AND granted AND pid <> pg_backend_pid() "
    "AND database = (SELECT oid FROM pg_database WHERE datname = current_database())")


# A bulk write's items, from the versions it has just stored: each item's last one of them, named
# by id. The ids are joined to the request's range of the primary key (`+ 0` keeps them out of
# the index condition): one range scan and a hash join, where a probe of the index per id, or
# picking each item's last version by sorting the range (`DISTINCT ON`), cost three times as much.
# Not `v.id + 0 = ANY(:last)`: that is as fast only while PostgreSQL plans it for the values given.
# After five runs of a prepared statement it may keep a generic plan (it did below ~2,000,000
# versions), which tests each row against the array in turn: 33x slower at 9,000 ids, and
# quadratic in the request (bench/records_items_plan.py).
_ITEMS_LAST_VERSION = (
    "SELECT v.item_id, v.entity, v.state_id, v.section, v.item_key, v.district_id, "
    "v.data, v.version, v.id AS change_version, v.recorded_at, v.recorded_by, v.submission_id "
    f"FROM {RecordItemVersion.__tablename__} AS v JOIN unnest(CAST(:last AS bigint[])) AS last(id) "
    "ON v.id + 0 = last.id WHERE v.id BETWEEN :lo AND :hi")
_INSERT_ITEMS_FROM_VERSIONS = text(
    f"INSERT INTO {RecordItem.__tablename__} (id, entity, state_id, section, item_key, district_id, data, version, "
    f"change_version, recorded_at, recorded_by, submission_id) {_ITEMS_LAST_VERSION}")
# The statement trigger that checks inserted items' subjects (migration d7e8f9a0b1c2) reads them
# from a transition table, which PostgreSQL keeps in memory up to `work_mem` (4 MB by default),
# else in a temporary file. A 1,000-record request inserts ~9,000 items of ~400 bytes (~4.5 MB
# with the store's overhead): written out and read back, ~4% of PostgreSQL's CPU per request.
# Raised for that transaction only (SET LOCAL), and only for a statement past what the default
# holds; 64 MB holds over 100,000.
_ITEMS_WITHIN_WORK_MEM = 4_000
_ROOM_FOR_INSERTED_ITEMS = text("SET LOCAL work_mem = '64MB'")
_UPDATE_ITEMS_FROM_VERSIONS = text(
    f"UPDATE {RecordItem.__tablename__} AS i SET data = v.data, version = v.version, "
    "change_version = v.change_version, district_id = v.district_id, recorded_at = v.recorded_at, "
    f"recorded_by = v.recorded_by, submission_id = v.submission_id FROM ({_ITEMS_LAST_VERSION}) AS v "
    "WHERE i.id = v.item_id")


class RecordsRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    def _one_of(self, column: Any, values: Sequence[str]) -> Any:
        return one_of(self.session.bind.dialect.name, column, list(values))

    async def lock_for_writes(self) -> None:
        """Take the records log lock first: the writes that are not bulk submissions (merges,
        amendments, transfers, retention) hold it to commit, one at a time, and take their subjects'
        rows after it. A submission on PostgreSQL does not take it (see `RecordWriter._store`)."""
        await lock_chain(self.session, RecordsAccessLogEntry)

    async def hold_change_floor(self) -> None:
        """Say, until this transaction ends, that it may write change versions above the version
        sequence's current value (PostgreSQL; SQLite has one writer at a time).

        Change versions (version row ids) come from a sequence, so concurrent writers may commit
        them out of order, and a change feed reading "id > n" must not pass an id a writer still
        in progress holds. Each writer of versions first takes a shared advisory lock whose key is
        the sequence's value (its floor: every id it takes is above it); the feed serves only ids
        up to the lowest floor held (`change_horizon`). Locks, unlike rows, are seen by others
        before the writer commits, and go away by themselves when it commits or aborts. The
        two-int4 key form is the floor's alone (the other advisory locks here use one bigint)."""
        if self.session.bind.dialect.name == "postgresql":
            await self.session.execute(_HOLD_FLOOR)

    async def change_horizon(self) -> int | None:
        """The highest change version the feed may serve now (None: any, on SQLite). First the
        sequence's value, then the floors held: an id taken before the first read belongs to a
        writer that held its floor before taking it, so at the second read it still holds it
        or has ended (and the feed's query, started after, sees its rows). The reader's own
        floor does not count: it sees its own transaction's rows."""
        if self.session.bind.dialect.name != "postgresql":
            return None
        handed_out = await self.session.scalar(_SEQUENCE_VALUE) or 0
        lowest_floor = await self.session.scalar(_LOWEST_FLOOR)
        return handed_out if lowest_floor is None else min(handed_out, lowest_floor)

    async def subjects_for_update(self, entity: str, state_ids: Iterable[str]) -> dict[str, RecordSubject]:
        """Lock the subjects' rows (creating missing ones), in key order so two writers never
        deadlock on each other (on PostgreSQL missing ones first, as `subject_rows_for_update`)."""
        ids = sorted(set(state_ids))
        await self._insert_missing_subjects(entity, ids)
        found: dict[str, RecordSubject] = {}
        for start in range(0, len(ids), 1000):
            chunk = ids[start:start + 1000]
            rows = await self.session.scalars(
                select(RecordSubject).where(RecordSubject.entity == entity, RecordSubject.state_id.in_(chunk))
                .order_by(RecordSubject.state_id).with_for_update())
            found.update({s.state_id: s for s in rows})
        missing = [RecordSubject(entity=entity, state_id=i, version=0, change_version=0) for i in ids if i not in found]
        if missing:  # SQLite: the database's write lock is held, so no one else is inserting them
            self.session.add_all(missing)
            await self.session.flush()
            found.update({s.state_id: s for s in missing})
        return found

    async def subject_rows_for_update(self, entity: str, state_ids: Iterable[str]) -> dict[str, SubjectRow]:
        """`subjects_for_update` in Core, for bulk writes: the same locks in the same order, without
        building an ORM object per row. Call `save_subject_rows` with the changed ones.

        On PostgreSQL a submission holds no lock that orders writers (see `RecordWriter._store`),
        so missing subjects are inserted first, in key order, skipping any another writer has
        stored (`ON CONFLICT DO NOTHING` waits for a writer inserting the same key to end), and
        then the others are locked in key order (a row this transaction inserted is its own
        until it commits). Before the locks a writer holds only rows it inserted itself, which no
        other writer can have locked, so two writers never deadlock."""
        await self.session.flush()  # ORM changes made earlier in the request (a fold) go first
        t = RecordSubject.__table__
        ids = sorted(set(state_ids))
        found = {sid: SubjectRow(sid, 0, 0) for sid in await self._insert_missing_subjects(entity, ids)}
        stored = [sid for sid in ids if sid not in found]
        for start in range(0, len(stored), 1000):
            rows = await self.session.execute(
                select(t.c.state_id, t.c.version, t.c.change_version)
                .where(t.c.entity == entity, self._one_of(t.c.state_id, stored[start:start + 1000]))
                .order_by(t.c.state_id).with_for_update())
            found.update({sid: SubjectRow(sid, version, change) for sid, version, change in rows})
        missing = [i for i in ids if i not in found]
        if missing:  # SQLite: the database's write lock is held, so no one else is inserting them
            now = utcnow()
            await self.session.execute(insert(t).returning(t.c.state_id), [
                {"entity": entity, "state_id": i, "version": 0, "change_version": 0, "merged_into": None,
                 "created_at": now, "updated_at": now} for i in missing])
            found.update({i: SubjectRow(i, 0, 0) for i in missing})
        return found

    async def _insert_missing_subjects(self, entity: str, ids: list[str]) -> set[str]:
        """PostgreSQL: store the subjects not stored yet, in key order, before any is locked;
        the IDs this transaction inserted."""
        inserted: set[str] = set()
        if self.session.bind.dialect.name != "postgresql":
            return inserted
        now = utcnow()
        for start in range(0, len(ids), 1000):
            inserted.update(await self.session.scalars(_INSERT_MISSING_SUBJECTS, {
                "entity": entity, "ids": ids[start:start + 1000], "now": now}))
        return inserted

    async def save_subject_rows(self, entity: str, rows: Iterable[SubjectRow]) -> None:
        rows = list(rows)
        if rows and self.session.bind.dialect.name == "postgresql":
            # One statement over arrays: an UPDATE per subject (asyncpg's executemany) was one
            # execution per record of a bulk write.
            await self.session.execute(_SAVE_SUBJECTS, {
                "entity": entity, "now": utcnow(), "ids": [r.state_id for r in rows],
                "versions": [r.version for r in rows], "changes": [r.change_version for r in rows]})
            return
        t = RecordSubject.__table__
        params = [{"b_entity": entity, "b_state_id": r.state_id, "b_version": r.version,
                   "b_change_version": r.change_version} for r in rows]
        if params:
            await self.session.execute(
                update(t).where(t.c.entity == bindparam("b_entity"), t.c.state_id == bindparam("b_state_id"))
                .values(version=bindparam("b_version"), change_version=bindparam("b_change_version"),
                        updated_at=utcnow()), params)

    async def subject_versions(self, entity: str, state_ids: Sequence[str]) -> dict[str, tuple[int, int]]:
        """(version, change_version) of the subjects that exist, read without locks: the write
        path's snapshot, checked again under the locks (see `RecordWriter._store`)."""
        t = RecordSubject.__table__
        out: dict[str, tuple[int, int]] = {}
        for start in range(0, len(state_ids), 1000):
            rows = await self.session.execute(
                select(t.c.state_id, t.c.version, t.c.change_version)
                .where(t.c.entity == entity, self._one_of(t.c.state_id, state_ids[start:start + 1000])))
            out.update({sid: (version, change) for sid, version, change in rows})
        return out

    async def copy_records(self, table: Any, columns: Sequence[str], records: list[tuple[Any, ...]]) -> None:
        """PostgreSQL: COPY tuples already in `columns` order (JSON columns as text) in the
        session's transaction; the write path builds them so, with no dict per row."""
        if not records:
            return
        await self.session.flush()
        connection = await self.session.connection()
        raw = (await connection.get_raw_connection()).driver_connection
        await raw.copy_records_to_table(table.name, records=records, columns=list(columns))

    async def store_items_from_versions(self, created: list[int], updated: list[int]) -> None:
        """PostgreSQL: insert the created items and update the updated ones, each from its last
        version just stored: `created` and `updated` are those versions' ids. Each statement scans
        only the range its ids span. The rows then go over the wire and through JSON parsing once,
        as versions, not twice."""
        if len(created) > _ITEMS_WITHIN_WORK_MEM:
            await self.session.execute(_ROOM_FOR_INSERTED_ITEMS)
        for statement, last in ((_INSERT_ITEMS_FROM_VERSIONS, created), (_UPDATE_ITEMS_FROM_VERSIONS, updated)):
            if last:
                await self.session.execute(statement, {"lo": min(last), "hi": max(last), "last": last})

    async def copy_rows(self, table: Any, rows: list[dict[str, Any]], encoded: dict[int, str] | None = None) -> bool:
        return await copy_rows(self.session, table, rows, encoded)

    async def next_version_ids(self, n: int) -> list[int]:
        """`n` change versions, ascending, for versions written with COPY (PostgreSQL), after the
        transaction's floor is held (`hold_change_floor`). Concurrent writers may interleave, so
        the ids need not be consecutive."""
        await self.hold_change_floor()
        return list(await self.session.scalars(_NEXT_VERSION_IDS, {"n": n}))

    async def item_rows(self, entity: str, state_ids: Sequence[str]) -> dict[str, list[ItemRow]]:
        """The current elements of many records in Core (see `items`)."""
        t = RecordItem.__table__
        out: dict[str, list[ItemRow]] = defaultdict(list)
        for start in range(0, len(state_ids), 1000):
            rows = await self.session.execute(
                select(t.c.id, t.c.state_id, t.c.section, t.c.item_key, t.c.data, t.c.version, t.c.change_version)
                .where(t.c.entity == entity, self._one_of(t.c.state_id, state_ids[start:start + 1000])))
            for row in rows:
                out[row[1]].append(ItemRow(*row))
        return out

    async def subject(self, entity: str, state_id: str) -> RecordSubject | None:
        return await self.session.get(RecordSubject, (entity, state_id))

    async def items(self, entity: str, state_ids: Sequence[str]) -> dict[str, list[RecordItem]]:
        out: dict[str, list[RecordItem]] = defaultdict(list)
        for start in range(0, len(state_ids), 1000):
            rows = await self.session.scalars(
                select(RecordItem).where(RecordItem.entity == entity,
                                         RecordItem.state_id.in_(state_ids[start:start + 1000])))
            for item in rows:
                out[item.state_id].append(item)
        return out

    async def elements_as_of(self, entity: str, state_id: str, as_of: datetime) -> list[Element]:
        """The record as it stood at `as_of`: for each element, its last version recorded by
        then, unless that was a deletion."""
        latest = (
            select(RecordItemVersion.item_id, func.max(RecordItemVersion.id).label("id"))
            .where(RecordItemVersion.entity == entity, RecordItemVersion.state_id == state_id,
                   RecordItemVersion.recorded_at <= as_of)
            .group_by(RecordItemVersion.item_id).subquery()
        )
        rows = await self.session.scalars(
            select(RecordItemVersion).join(latest, RecordItemVersion.id == latest.c.id))
        return [(v.section, v.item_key, v.data) for v in rows if v.operation != "delete" and v.data is not None]

    async def history(self, entity: str, state_id: str, *, limit: int, offset: int) -> list[RecordItemVersion]:
        rows = await self.session.scalars(
            select(RecordItemVersion)
            .where(RecordItemVersion.entity == entity, RecordItemVersion.state_id == state_id)
            .order_by(RecordItemVersion.id.desc()).limit(limit).offset(offset))
        return list(rows)

    async def changes(self, entity: str, min_change_version: int, limit: int) -> list[RecordItemVersion]:
        """Versions after `min_change_version`, in id order, up to the change horizon: a version
        a writer in progress may still commit below it is never passed over."""
        query = (select(RecordItemVersion)
                 .where(RecordItemVersion.entity == entity, RecordItemVersion.id > min_change_version)
                 .order_by(RecordItemVersion.id).limit(limit))
        horizon = await self.change_horizon()
        if horizon is not None:
            query = query.where(RecordItemVersion.id <= horizon)
        return list(await self.session.scalars(query))

    async def read_context(self, state_id: str, day: date, *, with_items: bool = True) -> ReadContext | None:
        """Everything a single read must know before it may send anything (the subject's version
        and merge pointer, the student's relationships today, whether the record is archived or
        carries a statement of disagreement) and, `with_items`, the record's current elements, in
        one round trip: the read path is latency-bound, each statement costing ~0.5 ms of driver
        and network time here."""
        rows = (await self.session.execute(_read_context_statement(with_items), {"sid": state_id, "day": day})).all()
        return contexts_from_rows(day, rows, with_items=with_items).get(state_id)

    async def archive_and_statements(self, state_ids: Sequence[str]) -> tuple[set[str], set[str]]:
        """Which of these students are archived by the retention schedule, and which have a
        statement of disagreement on file: one round trip, for the read path."""
        from services.records.rights_models import ArchiveState, StatementOfDisagreement

        ids = list(state_ids)
        archived = select(ArchiveState.state_student_id.label("sid"), literal("archived").label("what")).where(
            ArchiveState.state_student_id.in_(ids), ArchiveState.archived_at.is_not(None))
        statements = select(StatementOfDisagreement.state_student_id.label("sid"), literal("statement").label("what")).where(
            StatementOfDisagreement.state_student_id.in_(ids))
        rows = (await self.session.execute(union_all(archived, statements))).all()
        return {sid for sid, what in rows if what == "archived"}, {sid for sid, what in rows if what == "statement"}

    async def ever_enrolled_in(self, district_id: str, state_ids: Iterable[str]) -> set[str]:
        ids = list(set(state_ids))
        rows = await self.session.scalars(
            select(Enrollment.state_student_id).distinct()
            .where(Enrollment.district_id == district_id, self._one_of(Enrollment.state_student_id, ids)))
        return set(rows)

    # --- derived relationship rows ----------------------------------------------------------

    async def refresh_enrollments(self, state_id: str, items: Iterable[RecordItem]) -> None:
        await self.refresh_enrollments_many({state_id: list(items)})

    async def refresh_enrollments_many(self, items_by_student: dict[str, list[Any]]) -> None:
        """Rebuild the students' enrollment rows from their `enrollment` elements (`RecordItem`s
        or `ItemRow`s)."""
        await self.session.flush()
        ids = list(items_by_student)
        for start in range(0, len(ids), 1000):
            table = Enrollment.__table__
            await self.session.execute(delete(table).where(self._one_of(table.c.state_student_id, ids[start:start + 1000])))
        rows = []
        for state_id, items in items_by_student.items():
            for item in items:
                if item.section != "enrollment":
                    continue
                data = item.data
                rows.append({
                    "state_student_id": state_id, "item_id": item.id, "district_id": data["district_id"],
                    "school_id": data["school_id"], "entry_date": date.fromisoformat(data["entry_date"]),
                    "exit_date": date.fromisoformat(data["exit_date"]) if data.get("exit_date") else None})
        if rows and not await copy_rows(self.session, Enrollment.__table__, rows):
            await self.session.execute(insert(Enrollment.__table__).returning(Enrollment.__table__.c.id), rows)

    async def refresh_plans(self, state_id: str, items: Iterable[RecordItem]) -> None:
        await self.refresh_plans_many({state_id: list(items)})

    async def refresh_plans_many(self, items_by_student: dict[str, list[Any]]) -> None:
        """IEP and 504 plans from the record: a special-education (504) section with its dates, or
        the program flag alone (an open plan)."""
        await self.session.flush()
        ids = list(items_by_student)
        for start in range(0, len(ids), 1000):
            table = StudentPlan.__table__
            await self.session.execute(delete(table).where(self._one_of(table.c.state_student_id, ids[start:start + 1000])))
        single = {name for name, spec in sections("student").items() if spec.shape == "single"}
        rows = []
        for state_id, items in items_by_student.items():
            by_section = {i.section: i.data for i in items if i.section in single}
            programs = by_section.get("programs", {})
            for kind, section, begin, end, flag in (
                ("iep", "special_education", "iep_begin_date", "iep_end_date", "special_education"),
                ("504", "section_504", "plan_begin_date", "plan_end_date", "section_504"),
            ):
                data = by_section.get(section)
                if programs.get(flag) is False:
                    continue  # the district says the program ended; stale plan dates do not count
                if data and (data.get(begin) or data.get(end)):
                    rows.append({
                        "state_student_id": state_id, "kind": kind,
                        "begin_date": date.fromisoformat(data[begin]) if data.get(begin) else None,
                        "end_date": date.fromisoformat(data[end]) if data.get(end) else None})
                elif programs.get(flag) is True or data:
                    rows.append({"state_student_id": state_id, "kind": kind, "begin_date": None, "end_date": None})
        if rows:
            await self.session.execute(insert(StudentPlan.__table__).returning(StudentPlan.__table__.c.id), rows)

    # --- relationships for many students at once (list pages, change feeds) ------------------

    async def facts_for(self, state_ids: Sequence[str], day: date) -> dict[str, StudentFacts]:
        ids = list(dict.fromkeys(state_ids))
        districts: dict[str, set[str]] = defaultdict(set)
        schools: dict[str, set[str]] = defaultdict(set)
        teachers: dict[str, set[str]] = defaultdict(set)
        counselors: dict[str, set[str]] = defaultdict(set)
        providers: dict[str, set[str]] = defaultdict(set)
        plans: dict[str, set[str]] = defaultdict(set)
        if ids:
            for sid, district, school in (await self.session.execute(
                    select(Enrollment.state_student_id, Enrollment.district_id, Enrollment.school_id)
                    .where(Enrollment.state_student_id.in_(ids), current_on(Enrollment.entry_date, Enrollment.exit_date, day)))):
                districts[sid].add(district)
                schools[sid].add(school)
            for sid, staff in (await self.session.execute(
                    select(SectionStudent.state_student_id, SectionStaff.staff_id).select_from(SectionStudent)
                    .join(ClassSection, ClassSection.id == SectionStudent.class_section_id)
                    .join(SectionStaff, SectionStaff.class_section_id == SectionStudent.class_section_id)
                    .where(SectionStudent.state_student_id.in_(ids),
                           taught_now(day)))):
                teachers[sid].add(staff)
            for sid, kind, staff in (await self.session.execute(
                    select(Caseload.state_student_id, Caseload.kind, Caseload.staff_id)
                    .where(Caseload.state_student_id.in_(ids), current_on(Caseload.begin_date, Caseload.end_date, day)))):
                (counselors if kind == "counselor" else providers)[sid].add(staff)
            for sid, kind in (await self.session.execute(
                    select(StudentPlan.state_student_id, StudentPlan.kind)
                    .where(StudentPlan.state_student_id.in_(ids), current_on(StudentPlan.begin_date, StudentPlan.end_date, day)))):
                plans[sid].add(kind)
        return {
            sid: StudentFacts(
                state_student_id=sid, district_ids=frozenset(districts[sid]), school_ids=frozenset(schools[sid]),
                teacher_staff_ids=frozenset(teachers[sid]), counselor_staff_ids=frozenset(counselors[sid]),
                service_provider_staff_ids=frozenset(providers[sid]),
                receives_special_education="iep" in plans[sid], has_504_plan="504" in plans[sid], as_of=day)
            for sid in ids
        }


def assemble(entity: str, state_id: str, elements: Iterable[Element]) -> dict[str, Any]:
    """The record document from its elements: root fields at the top, single sections as
    objects, list sections as lists in natural-key order."""
    from services.records.sections import ID_FIELD

    specs = sections(entity)  # type: ignore[arg-type]
    record: dict[str, Any] = {ID_FIELD[entity]: state_id}  # type: ignore[index]
    lists: dict[str, list[tuple[str, dict[str, Any]]]] = defaultdict(list)
    for section, key, data in elements:
        if section == ROOT:
            record.update(data)
        elif specs[section].shape == "single":
            record[section] = data
        else:
            lists[section].append((key, data))
    for section, rows in lists.items():
        record[section] = [data for _, data in sorted(rows, key=lambda r: r[0])]
    return record
