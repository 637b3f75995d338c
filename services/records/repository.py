"""Records' queries. Repositories flush, never commit (one commit per request, in `shared.deps`)."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from sqlalchemy import Integer, String, cast, delete, func, literal, select, union_all
from sqlalchemy.ext.asyncio import AsyncSession

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


class RecordsRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def lock_for_writes(self) -> None:
        """Take the records log lock first: change versions (version row ids) are then handed out
        in commit order, and a reader's access-log append waits for the write to commit."""
        await lock_chain(self.session, RecordsAccessLogEntry)

    async def subjects_for_update(self, entity: str, state_ids: Iterable[str]) -> dict[str, RecordSubject]:
        """Lock the subjects' rows (creating missing ones), in key order so two writers never
        deadlock on each other."""
        ids = sorted(set(state_ids))
        found: dict[str, RecordSubject] = {}
        for start in range(0, len(ids), 1000):
            chunk = ids[start:start + 1000]
            rows = await self.session.scalars(
                select(RecordSubject).where(RecordSubject.entity == entity, RecordSubject.state_id.in_(chunk))
                .order_by(RecordSubject.state_id).with_for_update())
            found.update({s.state_id: s for s in rows})
        missing = [RecordSubject(entity=entity, state_id=i, version=0, change_version=0) for i in ids if i not in found]
        if missing:
            # The records log lock is held, so no other writer can be inserting these rows now.
            self.session.add_all(missing)
            await self.session.flush()
            found.update({s.state_id: s for s in missing})
        return found

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
        rows = await self.session.scalars(
            select(RecordItemVersion)
            .where(RecordItemVersion.entity == entity, RecordItemVersion.id > min_change_version)
            .order_by(RecordItemVersion.id).limit(limit))
        return list(rows)

    async def read_context(self, state_id: str, day: date) -> ReadContext | None:
        """Everything a single read must know before it may send anything (the subject's version
        and merge pointer, the student's relationships today, whether the record is archived or
        carries a statement of disagreement) in one round trip: the read path is latency-bound,
        each statement costing ~0.5 ms of driver and network time here."""
        from services.records.rights_models import ArchiveState, StatementOfDisagreement

        def row(kind: str, number: Any = None, a: Any = None, b: Any = None) -> list[Any]:
            return [literal(kind).label("kind"), cast(number, Integer).label("n") if number is not None
                    else literal(None, Integer).label("n"),
                    cast(a, String).label("a") if a is not None else literal(None, String).label("a"),
                    cast(b, String).label("b") if b is not None else literal(None, String).label("b")]

        parts = [
            select(*row("subject", RecordSubject.version, RecordSubject.merged_into)).where(
                RecordSubject.entity == "student", RecordSubject.state_id == state_id),
            select(*row("enrolled", None, Enrollment.district_id, Enrollment.school_id)).where(
                Enrollment.state_student_id == state_id, current_on(Enrollment.entry_date, Enrollment.exit_date, day)),
            select(*row("teacher", None, SectionStaff.staff_id)).select_from(SectionStudent)
            .join(ClassSection, ClassSection.id == SectionStudent.class_section_id)
            .join(SectionStaff, SectionStaff.class_section_id == SectionStudent.class_section_id)
            .where(SectionStudent.state_student_id == state_id, taught_now(day)),
            select(*row("caseload", None, Caseload.kind, Caseload.staff_id)).where(
                Caseload.state_student_id == state_id, current_on(Caseload.begin_date, Caseload.end_date, day)),
            select(*row("plan", None, StudentPlan.kind)).where(
                StudentPlan.state_student_id == state_id, current_on(StudentPlan.begin_date, StudentPlan.end_date, day)),
            select(*row("archived")).where(ArchiveState.state_student_id == state_id, ArchiveState.archived_at.is_not(None)),
            select(*row("statement")).where(StatementOfDisagreement.state_student_id == state_id).limit(1).subquery().select(),
        ]
        rows = (await self.session.execute(union_all(*parts))).all()
        subject = next(((n, a) for kind, n, a, _ in rows if kind == "subject"), None)
        if subject is None:
            return None
        kinds = lambda wanted: [(a, b) for kind, _, a, b in rows if kind == wanted]
        enrolled, caseloads = kinds("enrolled"), kinds("caseload")
        facts = StudentFacts(
            state_student_id=state_id, district_ids=frozenset(d for d, _ in enrolled),
            school_ids=frozenset(s for _, s in enrolled), teacher_staff_ids=frozenset(t for t, _ in kinds("teacher")),
            counselor_staff_ids=frozenset(s for k, s in caseloads if k == "counselor"),
            service_provider_staff_ids=frozenset(s for k, s in caseloads if k == "service_provider"),
            receives_special_education=("iep", None) in kinds("plan"), has_504_plan=("504", None) in kinds("plan"),
            as_of=day)
        return ReadContext(state_id=state_id, version=subject[0], merged_into=subject[1], facts=facts,
                           archived=bool(kinds("archived")), has_statements=bool(kinds("statement")))

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
            .where(Enrollment.district_id == district_id, Enrollment.state_student_id.in_(ids)))
        return set(rows)

    # --- derived relationship rows ----------------------------------------------------------

    async def refresh_enrollments(self, state_id: str, items: Iterable[RecordItem]) -> None:
        await self.refresh_enrollments_many({state_id: list(items)})

    async def refresh_enrollments_many(self, items_by_student: dict[str, list[RecordItem]]) -> None:
        """Rebuild the students' enrollment rows from their `enrollment` elements."""
        ids = list(items_by_student)
        for start in range(0, len(ids), 1000):
            await self.session.execute(delete(Enrollment).where(Enrollment.state_student_id.in_(ids[start:start + 1000])))
        rows = []
        for state_id, items in items_by_student.items():
            for item in items:
                if item.section != "enrollment":
                    continue
                data = item.data
                rows.append(Enrollment(
                    state_student_id=state_id, item_id=item.id, district_id=data["district_id"],
                    school_id=data["school_id"], entry_date=date.fromisoformat(data["entry_date"]),
                    exit_date=date.fromisoformat(data["exit_date"]) if data.get("exit_date") else None))
        self.session.add_all(rows)
        await self.session.flush()

    async def refresh_plans(self, state_id: str, items: Iterable[RecordItem]) -> None:
        await self.refresh_plans_many({state_id: list(items)})

    async def refresh_plans_many(self, items_by_student: dict[str, list[RecordItem]]) -> None:
        """IEP and 504 plans from the record: a special-education (504) section with its dates, or
        the program flag alone (an open plan)."""
        ids = list(items_by_student)
        for start in range(0, len(ids), 1000):
            await self.session.execute(delete(StudentPlan).where(StudentPlan.state_student_id.in_(ids[start:start + 1000])))
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
                    rows.append(StudentPlan(
                        state_student_id=state_id, kind=kind,
                        begin_date=date.fromisoformat(data[begin]) if data.get(begin) else None,
                        end_date=date.fromisoformat(data[end]) if data.get(end) else None))
                elif programs.get(flag) is True or data:
                    rows.append(StudentPlan(state_student_id=state_id, kind=kind, begin_date=None, end_date=None))
        self.session.add_all(rows)
        await self.session.flush()

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
