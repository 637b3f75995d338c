"""The retention schedule, run as a job (`slds retention run`, e.g. nightly):

1. Discipline (seed 002 section 7.3: "student-level discipline data will be expunged after three
   years"): every discipline element whose `incident_date` is more than three years before today
   is deleted with all its versions; one "expunge_retention" log entry per student with counts.
2. Archive (seed 000 MOSIS: "All individual student data ... will be active and then archived for
   the length of time required by Missouri records retention schedules. Data that are no longer
   needed will be destroyed"; 001 Maine the same; 002 Utah 7.3: "active retention schedules for
   student records per Utah Division of Archive and Record Services"): a student whose every
   enrollment exited more than `archive_after_years` ago is marked archived
   (`records_archive_state`); reads stop returning archived students to anyone but the state. A student who
   enrolls again is un-archived by the next run.
3. Destroy: `destroy_after_years` after the last exit the archived record's non-permanent sections
   are deleted with all their versions. The permanent ones are kept: grades (courses),
   transcripts, enrollment and assessments, which Utah 53A-1-1407 never lets go. The student's
   identity (names, birth date) stays with the identity service, so the kept record still names
   its student by state ID.

Students with no enrollment at all are never archived (nothing says they left). Everything is
one transaction; `dry_run` only counts. Nothing written here logs a value: the log entries carry
state IDs, section names, counts and the cut-off dates.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import asdict, dataclass, field
from datetime import date
from typing import Any

from sqlalchemy import delete, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from services.records.amendments import prune_statements, remove_elements
from services.records.models import (
    Enrollment,
    RecordItem,
    RecordItemVersion,
    RecordsAccessLogEntry,
    RecordSubject,
)
from services.records.repository import RecordsRepository
from services.records.rights_models import ArchiveState
from services.records.sections import sections
from shared.audit import append_many
from shared.db import new_uuid, utcnow

ACTOR = "system:retention"
# The schedule's periods are settings (`SLDS_RECORDS_DISCIPLINE_YEARS`, `..._ARCHIVE_AFTER_YEARS`,
# `..._DESTROY_AFTER_YEARS`): a state sets its own records schedule without a code change.
# Defaults: discipline expunged after three years (seed 002 section 7.3); active, then archived
# ("active and then archived for the length of time required by ... records retention
# schedules", seeds 000 and 001) once the student has been gone five years, past the window in
# which a district still needs the record for transfers, re-enrolment and corrections to its
# reports (the five-year extended graduation cohort); the non-permanent sections destroyed seven
# years after the last exit (five active plus two archived), the common state schedule for
# non-permanent student records (special education files, health and behavioural records).


@dataclass(frozen=True)
class RetentionSchedule:
    discipline_years: int = 3
    archive_after_years: int = 5
    destroy_after_years: int = 7


PERMANENT_SECTIONS = frozenset({"enrollment", "courses", "transcript", "assessments"})

_DISCIPLINE = tuple(spec for spec in sections("student").values() if spec.retention == "discipline")
for _spec in _DISCIPLINE:  # the cut-off compares the natural key's leading date
    assert _spec.date_field and _spec.key[:1] == (_spec.date_field,), _spec.name


@dataclass
class RetentionReport:
    today: date
    dry_run: bool
    discipline_cutoff: date
    archive_cutoff: date
    destroy_cutoff: date
    discipline_students: int = 0
    discipline_elements: int = 0
    discipline_versions: int = 0
    archived: list[str] = field(default_factory=list)
    unarchived: list[str] = field(default_factory=list)
    destroyed: list[str] = field(default_factory=list)
    destroyed_elements: int = 0
    destroyed_versions: int = 0
    statements_removed: int = 0

    def as_dict(self) -> dict[str, Any]:
        out = asdict(self)
        for key in ("today", "discipline_cutoff", "archive_cutoff", "destroy_cutoff"):
            out[key] = out[key].isoformat()
        for key in ("archived", "unarchived", "destroyed"):
            out[key] = len(out[key])
        return out


def years_before(day: date, years: int) -> date:
    try:
        return day.replace(year=day.year - years)
    except ValueError:  # 29 February
        return day.replace(year=day.year - years, day=28)


async def is_archived(session: AsyncSession, state_id: str) -> bool:
    """Whether the student's record is archived by the retention schedule."""
    state = await session.get(ArchiveState, state_id)
    return state is not None and state.archived_at is not None


async def run_retention(session: AsyncSession, today: date, *, dry_run: bool = False,
                        schedule: RetentionSchedule = RetentionSchedule()) -> RetentionReport:
    report = RetentionReport(today=today, dry_run=dry_run,
                             discipline_cutoff=years_before(today, schedule.discipline_years),
                             archive_cutoff=years_before(today, schedule.archive_after_years),
                             destroy_cutoff=years_before(today, schedule.destroy_after_years))
    run_id = f"retention-{new_uuid()}"
    repo = RecordsRepository(session)
    if not dry_run:
        await repo.lock_for_writes()
    discipline = await _old_discipline(session, report.discipline_cutoff.isoformat())
    doomed = await _to_destroy(session, report.destroy_cutoff)
    if not dry_run:
        # Every student the run changes, locked at once in key order: submissions lock theirs in
        # key order without the log lock, so two calls here with different sets could deadlock
        # with one of them.
        subjects = await repo.subjects_for_update("student", set(discipline[0]) | set(discipline[1]) | set(doomed))
    else:
        subjects = {}
    log: list[dict[str, Any]] = []
    await _discipline(session, report, log, discipline, subjects)
    await _archive(session, report, log)
    await _destroy(session, report, log, doomed, subjects)
    if log:
        await append_many(session, RecordsAccessLogEntry, log, actor=ACTOR, request_id=run_id)
    return report


def _entry(action: str, state_id: str, payload: dict[str, Any]) -> dict[str, Any]:
    return {"action": action, "index_columns": {"state_id": state_id},
            "payload": {"entity": "student", "state_id": state_id, "role": "system", **payload}}


async def _counts(session: AsyncSession, model: Any, *conditions: Any) -> dict[str, int]:
    rows = await session.execute(select(model.state_id, func.count()).where(model.entity == "student", *conditions)
                                 .group_by(model.state_id))
    return {sid: n for sid, n in rows}


async def _old_discipline(session: AsyncSession, cutoff: str) -> tuple[dict[str, int], dict[str, int]]:
    """Per student, how many discipline elements and versions are older than `cutoff`."""
    names = [spec.name for spec in _DISCIPLINE]

    def old(model: Any) -> list[Any]:
        return [model.section.in_(names), func.substr(model.item_key, 1, len(cutoff)) < cutoff,
                model.item_key != "*"]  # an expunge marker (see amendments.remove_elements) is not an incident

    return (await _counts(session, RecordItem, *old(RecordItem)),
            await _counts(session, RecordItemVersion, *old(RecordItemVersion)))


async def _discipline(session: AsyncSession, report: RetentionReport, log: list[dict[str, Any]],
                      found: tuple[dict[str, int], dict[str, int]], subjects: dict[str, RecordSubject]) -> None:
    cutoff = report.discipline_cutoff.isoformat()
    names = [spec.name for spec in _DISCIPLINE]
    items, versions = found
    students = sorted(set(items) | set(versions))
    report.discipline_students = len(students)
    if report.dry_run:
        report.discipline_elements, report.discipline_versions = sum(items.values()), sum(versions.values())
        return
    for sid in students:
        removed, removed_versions = await remove_elements(session, subjects[sid], names, keys_before=cutoff)
        statements = await prune_statements(session, sid)
        report.discipline_elements += removed
        report.discipline_versions += removed_versions
        report.statements_removed += len(statements)
        log.append(_entry("expunge_retention", sid, {
            "sections": names, "rule": f"discipline incidents before {cutoff}", "cutoff": cutoff,
            "elements_removed": removed, "versions_removed": removed_versions, "statements_removed": statements,
            "record_version": subjects[sid].version}))


async def _gone_since(session: AsyncSession, cutoff: date) -> set[str]:
    """Students with enrollments, every one of them exited before `cutoff`."""
    rows = await session.scalars(
        select(Enrollment.state_student_id).group_by(Enrollment.state_student_id)
        .having(func.count(Enrollment.exit_date) == func.count(), func.max(Enrollment.exit_date) < cutoff))
    return set(rows)


async def _archive(session: AsyncSession, report: RetentionReport, log: list[dict[str, Any]]) -> None:
    gone = await _gone_since(session, report.archive_cutoff)
    states = {s.state_student_id: s for s in await session.scalars(select(ArchiveState))}
    report.archived = sorted(sid for sid in gone if sid not in states or states[sid].archived_at is None)
    report.unarchived = sorted(sid for sid, s in states.items() if sid not in gone)
    if report.dry_run:
        return
    now = utcnow()
    for sid in report.archived:
        if sid in states:
            states[sid].archived_at = now
        else:
            session.add(ArchiveState(state_student_id=sid, archived_at=now, destroyed_at=None))
        log.append(_entry("archive_retention", sid, {"rule": "every enrollment exited before the "
                                                             "archive cutoff", "cutoff": report.archive_cutoff.isoformat()}))
    if report.unarchived:
        # Enrolled again: active once more (the log keeps that it was archived, and destroyed).
        await session.execute(delete(ArchiveState).where(ArchiveState.state_student_id.in_(report.unarchived)))
        log.extend(_entry("unarchive_retention", sid, {"rule": "enrolled again"}) for sid in report.unarchived)
    await session.flush()


async def _to_destroy(session: AsyncSession, cutoff: date) -> list[str]:
    """Students gone since `cutoff` whose records are not destroyed yet."""
    gone = await _gone_since(session, cutoff)
    done = set(await session.scalars(select(ArchiveState.state_student_id)
                                     .where(ArchiveState.destroyed_at.is_not(None))))
    return sorted(gone - done)


async def _destroy(session: AsyncSession, report: RetentionReport, log: list[dict[str, Any]],
                   students: list[str], subjects: dict[str, RecordSubject]) -> None:
    report.destroyed = students
    if not students:
        return
    doomed = [name for name in sections("student") if name not in PERMANENT_SECTIONS]
    if report.dry_run:
        counts: dict[str, int] = defaultdict(int)
        for model, key in ((RecordItem, "destroyed_elements"), (RecordItemVersion, "destroyed_versions")):
            for start in range(0, len(students), 1000):
                found = await _counts(session, model, model.state_id.in_(students[start:start + 1000]),
                                      model.section.in_(doomed))
                counts[key] += sum(found.values())
        report.destroyed_elements, report.destroyed_versions = counts["destroyed_elements"], counts["destroyed_versions"]
        return
    now = utcnow()
    for sid in students:
        removed, removed_versions = await remove_elements(session, subjects[sid], doomed)
        statements = await prune_statements(session, sid)
        state = await session.get(ArchiveState, sid)
        if state is None:  # archived by this same run (added above) or never: the row is there now
            state = ArchiveState(state_student_id=sid, archived_at=now)
            session.add(state)
        state.destroyed_at = now
        report.destroyed_elements += removed
        report.destroyed_versions += removed_versions
        report.statements_removed += len(statements)
        log.append(_entry("destroy_retention", sid, {
            "rule": "every enrollment exited before the destroy cutoff",
            "cutoff": report.destroy_cutoff.isoformat(), "sections_kept": sorted(PERMANENT_SECTIONS),
            "elements_removed": removed, "versions_removed": removed_versions,
            "statements_removed": statements, "record_version": subjects[sid].version}))
    await session.flush()
