"""Writing and reading records.

Writes: a submission (one record or a bulk file) is validated against the dictionary row by row,
the state IDs are checked with identity in one call, each row is authorised (a district writes
only its own students), and the accepted rows are versioned in one transaction: an element whose
data did not change makes no new version; one that did replaces the current value and appends a
version, so nothing submitted is ever overwritten out of history.

Reads: the caller's reach and fields come from the policy library alone (`visible_fields` on the
student's relationships today); a student out of reach is indistinguishable from one that does
not exist. Every read and write is written to the hash-chained access log with the field names
that went out, never their values.
"""

from __future__ import annotations

import os
import time
from collections.abc import Awaitable, Callable, Iterable, Sequence
from contextlib import AbstractAsyncContextManager, nullcontext
from dataclasses import dataclass, field
from datetime import UTC, datetime
from functools import cache
from typing import Any

import orjson
from sqlalchemy import bindparam, insert, select, update
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession

from services.records.amendments import statements_for
from services.records.facts import scope_filter
from services.records.identity_directory import IdentityDirectory
from services.records.merges import fold
from services.records.models import (
    RecordItem,
    RecordItemVersion,
    RecordsAccessLogEntry,
    RecordSubject,
    Submission,
)
from services.records.organisations import directory_parents
from services.records.repository import (
    ItemRow,
    RawContextReader,
    ReadContext,
    RecordsRepository,
    SubjectRow,
    assemble,
)
from services.records.sections import ID_FIELD, sections
from services.records.validation import (
    Problem,
    ValidatedRecord,
    nested_fields,
    success_plan_problems,
    validate_record,
)
from services.records.volume import ReadVolume
from shared.audit import StagedChainer, StagedLogBatcher, append_many, lock_chain_within, stage_many
from shared.errors import Forbidden, NotFound, PreconditionFailed, UnprocessableContent
from shared.policy.access import (
    field_names_in,
    project,
    project_with_names,
    row_scope,
    visible_fields,
)
from shared.policy.dictionary import Entity
from shared.policy.principal import Principal
from shared.request_context import current_request_id

WRITER_ROLES = frozenset({"district_sis", "service", "state_data_admin"})
STATE_WRITERS = frozenset({"service", "state_data_admin"})
PLAN_SECTIONS = frozenset({"programs", "special_education", "section_504"})
LEVEL_ONE = frozenset({"state_data_admin", "service"})  # still read archived records


@dataclass(slots=True)
class RowOutcome:
    row: int
    status: str  # created | updated | unchanged | rejected
    state_id: str | None = None
    version: int | None = None
    http_status: int = 200
    errors: list[dict[str, str]] = field(default_factory=list)

    def as_dict(self, id_field: str) -> dict[str, Any]:
        out: dict[str, Any] = {"row": self.row, "status": self.status}
        if self.state_id is not None:
            out[id_field] = self.state_id
        if self.version is not None:
            out["version"] = self.version
        if self.errors:
            out["errors"] = self.errors
        return out


def fields_present(record: Any, prefix: str = "") -> set[str]:
    """Dictionary field names that carry a value in a (projected) record: what went out."""
    names: set[str] = set()
    field_names_in(record, prefix, names)
    return names


class RecordWriter:
    def __init__(self, session: AsyncSession, directory: IdentityDirectory, principal: Principal,
                 authorization: str, *, chainer: StagedChainer | None = None) -> None:
        self.session = session
        self.repo = RecordsRepository(session)
        self.directory = directory
        self.principal = principal
        self.authorization = authorization
        self.chainer = chainer  # folds log entries a write staged into the chain (see `_log_writes`)

    def submitting_district(self, district_id: str | None) -> str | None:
        """The district a submission is for: a district's client writes for its own district (named
        when it has several); state staff and services may name any, or none."""
        p = self.principal
        if p.role not in WRITER_ROLES:
            raise Forbidden("This role does not submit records.")
        if p.role in STATE_WRITERS:
            return district_id
        if district_id is None:
            if len(p.district_ids) != 1:
                raise UnprocessableContent("Name the district this submission is for.",
                                           errors=[Problem("district_id", "Is required.", "required").as_dict()])
            return next(iter(p.district_ids))
        if district_id not in p.district_ids:
            raise Forbidden("A district submits records for its own district only.",
                            errors=[Problem("district_id", "Is not a district of this client.").as_dict()])
        return district_id

    async def submit(self, entity: Entity, rows: Sequence[Any], district_id: str | None, *,
                     if_match: int | None = None) -> tuple[Submission, list[RowOutcome]]:
        """Validate, check and store rows; each row succeeds or fails alone."""
        id_field = ID_FIELD[entity]
        outcomes: list[RowOutcome] = []
        accepted: list[tuple[int, ValidatedRecord]] = []
        for i, body in enumerate(rows):
            record, problems = validate_record(entity, body)
            if record is None:
                outcomes.append(RowOutcome(i, "rejected", http_status=422, errors=[p.as_dict() for p in problems]))
                continue
            refused = self._check_row(record, district_id)
            if refused:
                status, problems = refused
                outcomes.append(RowOutcome(i, "rejected", record.state_id, http_status=status,
                                           errors=[p.as_dict() for p in problems]))
                continue
            accepted.append((i, record))
            outcomes.append(RowOutcome(i, "pending", record.state_id))
        accepted = await self._check_hierarchy(accepted, outcomes)
        statuses = await self.directory.check(entity, [r.state_id for _, r in accepted], district_id,
                                              self.authorization) if accepted else {}
        own: set[str] = set()
        if district_id is not None and self.principal.role not in STATE_WRITERS and entity == "student":
            currents = [s.current_state_id for s in statuses.values() if s.current_state_id]
            own = await self.repo.ever_enrolled_in(district_id, currents)
        ready: list[tuple[int, ValidatedRecord]] = []
        to_fold: set[tuple[str, str]] = set()
        for i, record in accepted:
            status = statuses.get(record.state_id)
            outcome = outcomes[i]
            if status is None or not status.known:
                outcome.status, outcome.http_status = "rejected", 422
                outcome.errors = [Problem(id_field, "Is not a state ID that identity knows.", "unknown-id").as_dict()]
                continue
            record.state_id = status.current_state_id  # a retired ID's record lives under the survivor
            if (district_id is not None and self.principal.role not in STATE_WRITERS
                    and not status.district_holds_local_id and record.state_id not in own):
                outcome.status, outcome.http_status = "rejected", 403
                outcome.errors = [Problem(id_field, "Is not a student of the submitting district: resolve "
                                          "the student through identity first.", "not-own-student").as_dict()]
                continue
            outcome.state_id = record.state_id
            ready.append((i, record))
            to_fold.update((record.state_id, retired) for retired in status.merged_ids)

        if entity == "student":  # records still kept under IDs identity has since retired move first
            for survivor, retired in sorted(to_fold):
                await fold(self.session, survivor, retired, actor=self.principal.subject)
        submission = Submission(entity=entity, actor=self.principal.subject, district_id=district_id,
                                rows=len(rows))
        self.session.add(submission)
        await self.session.flush()
        if ready:
            await self._store(entity, ready, outcomes, submission, district_id, if_match)
        submission.accepted = sum(o.status in ("created", "updated", "unchanged") for o in outcomes)
        submission.rejected = len(rows) - submission.accepted
        return submission, outcomes

    async def _check_hierarchy(self, accepted: list[tuple[int, ValidatedRecord]],
                               outcomes: list[RowOutcome]) -> list[tuple[int, ValidatedRecord]]:
        """A school the organisation directory knows must belong to the district an enrollment or a
        staff assignment names, whoever submits; a school it does not know is accepted (the
        directory may lag behind a district's SIS)."""
        named = [(i, e) for i, r in accepted for e in r.placements if e.data.get("school_id") and e.data.get("district_id")]
        known = await directory_parents(self.session, {e.data["school_id"] for _, e in named}) if named else {}
        refused: dict[int, list[Problem]] = {}
        for i, element in named:
            kind, parent = known.get(element.data["school_id"], (None, None))
            if kind is not None and kind != "school":
                refused.setdefault(i, []).append(Problem(f"{element.path}.school_id",
                                                         "Is not a school in the organisation directory.", "not-a-school"))
            elif kind == "school" and parent != element.data["district_id"]:
                refused.setdefault(i, []).append(Problem(f"{element.path}.school_id", "Is a school of another "
                                                         "district in the organisation directory.", "school-not-in-district"))
        for i, problems in refused.items():
            outcomes[i].status, outcomes[i].http_status = "rejected", 422
            outcomes[i].errors = [p.as_dict() for p in problems]
        return [(i, r) for i, r in accepted if i not in refused]

    def _check_row(self, record: ValidatedRecord, district_id: str | None) -> tuple[int, list[Problem]] | None:
        if self.principal.role in STATE_WRITERS:
            return None
        state_only = _state_only_sections(record.entity)
        problems = [Problem(e.section, "Is written by state data staff only.", "state-only")
                    for e in record.elements if e.section in state_only]
        if problems:
            return 403, problems
        problems = [Problem(f"{e.path}.district_id", "Must be the submitting district.", "other-district")
                    for e in record.placements if e.data.get("district_id") != district_id]
        if record.district_id is not None and record.district_id != district_id:
            problems.append(Problem("district_id", "Must be the submitting district.", "other-district"))
        return (403, problems) if problems else None

    async def _store(self, entity: Entity, ready: list[tuple[int, ValidatedRecord]], outcomes: list[RowOutcome],
                     submission: Submission, district_id: str | None, if_match: int | None) -> None:
        """Work out what changes before taking any lock, then lock the subjects and store it.

        The current subjects and items are read without locks (a snapshot), then the diff, the
        rows, their JSON and the log entries built from them. Then the subjects' rows are locked
        (`FOR UPDATE`) and their (version, change_version) compared with the snapshot: every
        writer of a record's items bumps its version under that row lock, so an equal pair means
        the items read are still current. A subject that moved on meanwhile has its rows worked
        out again from what is stored now.

        On PostgreSQL, submissions for different students run side by side: the subjects' row
        locks are all they share. The change feed's order comes from each writer's change floor
        (`RecordsRepository.hold_change_floor`), not from a lock that one writer holds at a
        time, and the log entries go into the chain if its lock comes soon (else they are
        staged for the chainer: `_log_writes`). SQLite has one writer at a time, whose log lock
        is its database lock, taken here as before.
        """
        # Core statements over plain rows, a few per request whatever its size: building and
        # flushing an ORM object per element cost more than the database work itself.
        await self.session.flush()  # ORM changes made earlier in the request (a fold) go first
        state_ids = sorted({r.state_id for _, r in ready})
        seen = await self.repo.subject_versions(entity, state_ids)  # subjects first, then their items
        current = await self.repo.item_rows(entity, state_ids)
        subjects = {sid: SubjectRow(sid, *seen.get(sid, (0, 0))) for sid in state_ids}
        now = datetime.now(UTC)
        diff = self._diff(entity, ready, outcomes, subjects, current, submission, district_id, now)

        if self.session.bind.dialect.name != "postgresql":
            await self.repo.lock_for_writes()
        locked = await self.repo.subject_rows_for_update(entity, state_ids)
        if if_match is not None:
            (_, record), = ready
            if locked[record.state_id].version != if_match:
                raise PreconditionFailed("The record changed since it was read: fetch it again and retry.",
                                         errors=[{"field": "If-Match", "code": "stale",
                                                  "message": "Does not match the record's current version."}])
        stale = {sid for sid, row in locked.items() if (row.version, row.change_version) != seen.get(sid, (0, 0))}
        if stale:
            again = [(i, r) for i, r in ready if r.state_id in stale]
            for i, _ in again:
                outcomes[i].status, outcomes[i].http_status, outcomes[i].errors = "pending", 200, []
                outcomes[i].version = None
            fresh = await self.repo.item_rows(entity, sorted(stale))
            diff.drop(stale)
            diff.merge(self._diff(entity, again, outcomes, {sid: locked[sid] for sid in stale}, fresh, submission,
                                  district_id, now))
        await self._write(entity, diff, submission, district_id, now)

    def _diff(self, entity: Entity, ready: list[tuple[int, ValidatedRecord]], outcomes: list[RowOutcome],
              subjects: dict[str, SubjectRow], current: dict[str, list[ItemRow]], submission: Submission,
              district_id: str | None, now: datetime) -> _Diff:
        """The changes the rows make to these subjects and items (updated in place), the rows'
        outcomes and log entries: everything but the change versions."""
        encode = self.session.bind.dialect.name == "postgresql"  # JSON text for COPY
        dumps = orjson.dumps
        fresh_ids = iter(_item_ids(sum(len(r.elements) for _, r in ready)))
        diff = _Diff(current=current)
        created, updated = diff.created, diff.updated
        # A subject's stored items by (section, key), built the first time one of its rows needs
        # them: a new student (most of a bulk file) has none to look up.
        keyed: dict[str, dict[tuple[str, str], ItemRow]] = {}
        role, submission_id = self.principal.role, submission.id  # (an ORM attribute: read once)
        for row, record in ready:
            state_id = record.state_id
            items = current.get(state_id)
            if refused := success_plan_problems(record, items or ()):  # needs the stored grade
                outcomes[row].status, outcomes[row].http_status = "rejected", 422
                outcomes[row].errors = [p.as_dict() for p in refused]
                continue
            subject = subjects[state_id]
            was_new = subject.version == 0
            if items:
                by_key = keyed.get(state_id)
                if by_key is None:
                    by_key = keyed[state_id] = {(i.section, i.item_key): i for i in items}
            else:
                by_key = None  # nothing stored: every element is new (a record names each key once)
                items = current[state_id] = []
            changes: list[Change] = []
            changed_sections: set[str] = set()
            shapes: list[tuple[str, ...]] = []  # each changed element's field names
            for element in record.elements:
                section, data = element.section, element.data
                item = None if by_key is None else by_key.get((section, element.key))
                if item is None:
                    item = ItemRow(next(fresh_ids), state_id, section, element.key, data, 1, 0)
                    created[item.id] = item
                    items.append(item)
                    if by_key is not None:
                        by_key[section, element.key] = item
                    operation = "create"
                elif item.data == data:
                    continue
                else:
                    item.data, item.version = data, item.version + 1
                    if item.id not in created:
                        updated[item.id] = item
                    operation = "update"
                changes.append((item, operation, item.version, data, dumps(data).decode() if encode else None))
                changed_sections.add(section)
                shapes.append(_written_names(entity, section, data))
            outcome = outcomes[row]
            if not changed_sections:
                outcome.status, outcome.version = "unchanged", subject.version
                continue
            subject.version += 1
            diff.subjects[state_id] = subject
            if entity == "student":
                if "enrollment" in changed_sections:
                    diff.enrollment_changed.add(state_id)
                if changed_sections & PLAN_SECTIONS:
                    diff.plans_changed.add(state_id)
            outcome.status = "created" if was_new else "updated"
            outcome.http_status = 201 if was_new else 200
            outcome.version = subject.version
            diff.rows[row] = (state_id, changes, {
                "action": "write", "index_columns": {"state_id": state_id},
                "payload": {"entity": entity, "state_id": state_id, "role": role,
                            "district_id": district_id, "submission_id": submission_id,
                            "sections": sorted(changed_sections), "fields": _fields_written(shapes),
                            "ssn_received": record.carried_ssn}})
        return diff

    async def _write(self, entity: Entity, diff: _Diff, submission: Submission, district_id: str | None,
                     now: datetime) -> None:
        """Store a diff: the caller holds the subjects' rows."""
        actor = self.principal.subject
        changes = [c for row in sorted(diff.rows) for c in diff.rows[row][1]]
        if changes:
            postgres = self.session.bind.dialect.name == "postgresql"
            submission_id = submission.id
            # One statement for every version of the request (their ids are the change versions),
            # then the items and subjects learn theirs.
            if postgres:  # each row's tuple built once, in COPY's column order (9,000 a bulk request)
                ids = await self.repo.next_version_ids(len(changes))  # after this writer's change floor
                await self.repo.copy_records(RecordItemVersion.__table__, ("id", *VERSION_COLUMNS), [
                    (i, item.id, entity, item.state_id, item.section, item.item_key, version, operation, text,
                     district_id, now, actor, submission_id)
                    for i, (item, operation, version, _, text) in zip(ids, changes, strict=True)])
            else:
                ids = (await self.session.execute(
                    insert(RecordItemVersion).returning(RecordItemVersion.id, sort_by_parameter_order=True),
                    [dict(zip(VERSION_COLUMNS, (item.id, entity, item.state_id, item.section, item.item_key,
                                                version, operation, data, district_id, now, actor,
                                                submission_id), strict=True))
                     for item, operation, version, data, _ in changes])).scalars().all()
            for (item, _, _, _, _), change_version in zip(changes, ids, strict=True):
                item.change_version = max(item.change_version, change_version)
                subject = diff.subjects[item.state_id]
                subject.change_version = max(subject.change_version, change_version)
            if postgres:
                await self.repo.store_items_from_versions([i.change_version for i in diff.created.values()],
                                                          [i.change_version for i in diff.updated.values()])
            else:
                await self._save_items(entity, diff, district_id, now, actor, submission.id)
            await self.repo.save_subject_rows(entity, diff.subjects.values())
        if diff.enrollment_changed:
            await self.repo.refresh_enrollments_many({sid: diff.current.get(sid, []) for sid in diff.enrollment_changed})
        if diff.plans_changed:
            await self.repo.refresh_plans_many({sid: diff.current.get(sid, []) for sid in diff.plans_changed})
        await self._log_writes([diff.rows[row][2] for row in sorted(diff.rows)], actor)

    async def _log_writes(self, entries: list[dict[str, Any]], actor: str) -> None:
        """Append the write's log entries to the chain if its lock comes within `LOG_LOCK_WAIT`
        (another submission holds it only for its append and commit); else stage them (in this
        transaction: they commit with the write) for the chainer to fold in. Never an unbounded
        wait: this writer holds its students' rows, and the writers that take the lock first
        (merges, amendments) may be waiting for one of them."""
        if not entries:
            return
        request_id = current_request_id()
        if await lock_chain_within(self.session, RecordsAccessLogEntry, LOG_LOCK_WAIT):
            await append_many(self.session, RecordsAccessLogEntry, entries, actor=actor, request_id=request_id)
            return
        await stage_many(self.session, RecordsAccessLogEntry, entries, actor=actor, request_id=request_id)
        if self.chainer is not None:
            self.chainer.kick()

    async def _save_items(self, entity: Entity, diff: _Diff, district_id: str | None, now: datetime, actor: str,
                          submission_id: str) -> None:
        """SQLite: the items as rows of their own (PostgreSQL makes them from the versions)."""
        table = RecordItem.__table__
        if diff.created:
            await self.session.execute(insert(table).returning(table.c.id), [
                {"id": i.id, "entity": entity, "state_id": i.state_id, "section": i.section,
                 "item_key": i.item_key, "district_id": district_id, "data": i.data, "version": i.version,
                 "change_version": i.change_version, "recorded_at": now, "recorded_by": actor,
                 "submission_id": submission_id} for i in diff.created.values()])
        if diff.updated:
            await self.session.execute(
                update(table).where(table.c.id == bindparam("b_id")).values(
                    data=bindparam("b_data"), version=bindparam("b_version"),
                    change_version=bindparam("b_change_version"), district_id=district_id, recorded_at=now,
                    recorded_by=actor, submission_id=submission_id),
                [{"b_id": i.id, "b_data": i.data, "b_version": i.version, "b_change_version": i.change_version}
                 for i in diff.updated.values()])


# How long a submission waits for the access log's chain lock before it stages its entries.
# Staging costs about four times a direct append; the holder keeps the lock only for its own
# append and commit (milliseconds), and a deadlock with a merge or amendment ends after this.
LOG_LOCK_WAIT = "250ms"

VERSION_COLUMNS = ("item_id", "entity", "state_id", "section", "item_key", "version", "operation", "data",
                   "district_id", "recorded_at", "recorded_by", "submission_id")


# One element's new value, a version to write: (item, operation "create" | "update", the item's
# version it makes, data, data as JSON text for PostgreSQL's COPY or None). A tuple, not a class:
# a bulk request makes ~9,000 and a class's constructor cost as much as the rest of their step.
Change = tuple[ItemRow, str, int, dict[str, Any], str | None]


@dataclass(slots=True)
class _Diff:
    """What a submission changes, worked out before the records log lock."""

    current: dict[str, list[ItemRow]]  # the subjects' items as they will be
    rows: dict[int, tuple[str, list[Change], dict[str, Any]]] = field(default_factory=dict)  # changed rows: log entry
    created: dict[str, ItemRow] = field(default_factory=dict)
    updated: dict[str, ItemRow] = field(default_factory=dict)
    subjects: dict[str, SubjectRow] = field(default_factory=dict)  # changed
    enrollment_changed: set[str] = field(default_factory=set)
    plans_changed: set[str] = field(default_factory=set)

    def drop(self, state_ids: set[str]) -> None:
        """Forget what was worked out for these subjects (they changed since it was)."""
        self.rows = {row: v for row, v in self.rows.items() if v[0] not in state_ids}
        self.created = {k: i for k, i in self.created.items() if i.state_id not in state_ids}
        self.updated = {k: i for k, i in self.updated.items() if i.state_id not in state_ids}
        self.subjects = {k: s for k, s in self.subjects.items() if k not in state_ids}
        self.enrollment_changed -= state_ids
        self.plans_changed -= state_ids
        for sid in state_ids:
            self.current.pop(sid, None)

    def merge(self, other: _Diff) -> None:
        self.rows.update(other.rows)
        self.created.update(other.created)
        self.updated.update(other.updated)
        self.subjects.update(other.subjects)
        self.enrollment_changed |= other.enrollment_changed
        self.plans_changed |= other.plans_changed
        self.current.update(other.current)


# Field names a write logs, by entity, section and the element's keys in order: an element's
# names depend only on those unless it holds sub-records. Keys are dictionary names (validated),
# so the combinations are few; the bound keeps a stream of odd ones from growing it for ever.
_WRITTEN_NAMES: dict[tuple[str, str, tuple[str, ...]], tuple[str, ...]] = {}
_WRITTEN_NAMES_MAX = 65_536


# The sorted field names a row's changed elements write, by their shapes (`_written_names`, in
# order): records of a bulk file repeat a few combinations, and merging and sorting ~40 names
# per row was a tenth of working out the changes.
_FIELDS_WRITTEN: dict[tuple[tuple[str, ...], ...], tuple[str, ...]] = {}
_FIELDS_WRITTEN_MAX = 4_096


def _fields_written(shapes: list[tuple[str, ...]]) -> list[str]:
    key = tuple(shapes)
    fields = _FIELDS_WRITTEN.get(key)
    if fields is None:
        fields = tuple(sorted(set().union(*shapes)))
        if len(_FIELDS_WRITTEN) < _FIELDS_WRITTEN_MAX:
            _FIELDS_WRITTEN[key] = fields
    return list(fields)


@cache
def _state_only_sections(entity: Entity) -> frozenset[str]:
    return frozenset(name for name, spec in sections(entity).items() if spec.state_only)


def _written_names(entity: Entity, section: str, data: dict[str, Any]) -> tuple[str, ...]:
    """`field_names_in` for one element (the identifiers' fields carry no section prefix): most
    of a bulk write's elements repeat a few shapes, and naming each field anew was ~8% of the
    write's time in the app."""
    keys = tuple(data)
    cache_key = (entity, section, keys)
    names = _WRITTEN_NAMES.get(cache_key)
    if names is None:
        found: set[str] = set()
        field_names_in(data, "" if section == "identifiers" else section, found)
        names = tuple(found)
        if nested_fields(entity, section).isdisjoint(keys) and len(_WRITTEN_NAMES) < _WRITTEN_NAMES_MAX:
            _WRITTEN_NAMES[cache_key] = names
    return names


def _item_ids(n: int) -> list[str]:
    """`n` new item ids: time-ordered UUIDs (RFC 9562 version 7: the millisecond, then a counter
    over the request's ids in its 26 "random" bits, then 48 random bits), so that the items' and
    versions' id indexes grow at their right edge. Random (version 4) ids put each of a record's
    ~9 elements on a leaf page of its own in two indexes, most of a bulk write's database work
    once the tables outgrow memory."""
    ms = f"{time.time_ns() // 1_000_000:012x}"
    head = f"{ms[:8]}-{ms[8:]}-7"
    tail = os.urandom(6 * n).hex()
    counters = _ID_COUNTERS[:n] if n <= len(_ID_COUNTERS) else [_id_counter(c) for c in range(n)]
    return [head + counter + tail[i:i + 12] for counter, i in zip(counters, range(0, 12 * n, 12), strict=True)]


def _id_counter(c: int) -> str:
    """An id's counter: 12 bits after the version nibble, the variant bits, 14 more bits."""
    return f"{c >> 14:03x}-{8 | (c >> 12) & 3:x}{c & 0xfff:03x}-"


# Formatting the counter of each id was most of `_item_ids`' time: a request's first 32,768 are
# formatted once (a bulk request of 1,000 records has ~9,000 elements).
_ID_COUNTERS = [_id_counter(c) for c in range(1 << 15)]


class VolumeExceeded(Exception):
    """The caller passed its hourly read allowance; the alert is already logged."""


Withhold = Callable[[list[str]], Awaitable[set[str]]]


@dataclass(frozen=True, slots=True)
class HotReads:
    """PostgreSQL outside a test's borrowed connection: a current single-record read fetches its
    context with one autocommit statement and stages its log entry by group commit, with no
    transaction of its own (see `RawContextReader` and `StagedLogBatcher`)."""

    contexts: RawContextReader
    log: StagedLogBatcher
    engine: AsyncEngine  # for the volume counter's flush
    transaction: Callable[[], AbstractAsyncContextManager[AsyncSession]]  # for the rare steps that write


class RecordReader:
    def __init__(self, session: AsyncSession | None, principal: Principal, *, reads_per_hour: int,
                 volume: ReadVolume, chainer: StagedChainer | None = None, hot: HotReads | None = None) -> None:
        self.session = session  # None with `hot`: a transaction is opened only when a rare step needs one
        self.hot = hot
        self.repo = RecordsRepository(session)
        self.principal = principal
        self.reads_per_hour = reads_per_hour
        self.volume = volume
        self.chainer = chainer  # given: read entries are staged, and it folds them into the chain
        self.released: list[tuple[str, dict[str, Any]]] = []  # a list read's students and their records
        self.withhold: Withhold | None = None  # given: students to leave out (directory opt-outs)

    async def student(self, state_id: str, *, as_of: datetime | None, purpose: str | None) -> tuple[dict[str, Any], ReadContext]:
        today = datetime.now(UTC).date()
        current = as_of is None
        hot = self.hot if current else None
        read_context = ((lambda sid: hot.contexts.read_context(sid, today)) if hot is not None
                        else (lambda sid: self.repo.read_context(sid, today, with_items=current)))
        context = await read_context(state_id)
        for _ in range(8):  # a retired ID answers with its survivor's record
            if context is None or context.merged_into is None:
                break
            context = await read_context(context.merged_into)
        if context is None or context.merged_into is not None:
            raise NotFound("No such student record.")
        state_id = context.state_id
        fields = visible_fields(self.principal, context.facts, today=today)
        if not fields or (context.archived and self.principal.role not in LEVEL_ONE):
            raise NotFound("No such student record.")  # out of reach, or archived: out of active use
        if self.withhold is not None and state_id in await self.withhold([state_id]):
            raise NotFound("No such student record.")
        await self.count_reads(1)
        if current:
            elements = context.elements or []
        else:
            elements = await self.repo.elements_as_of("student", state_id, as_of)
        record, names = project_with_names(assemble("student", state_id, elements), fields)
        if context.has_statements:
            await self._attach_statements(state_id, record, names)
        await self.log_reads([(state_id, record)], purpose, as_of=as_of, names=[names])
        return record, context

    async def _attach_statements(self, state_id: str, record: dict[str, Any], names: set[str] | None = None) -> None:
        """FERPA 99.21(c): a statement of disagreement goes out whenever the part of the record it
        contests does. `names`: the record's `fields_present`, when known."""
        async with self._transaction() as session:
            statements = await statements_for(session, state_id,
                                              frozenset(fields_present(record) if names is None else names))
        if statements:
            record["statements_of_disagreement"] = statements
            if names is not None:  # they go out too, and the access log says so
                names |= fields_present({"statements_of_disagreement": statements})

    async def students(self, *, district_id: str | None, school_id: str | None, after: str | None,
                       limit: int, offset: int, purpose: str | None) -> tuple[list[dict[str, Any]], str | None]:
        """A page of projected records and the last state ID the page's query reached (None at
        the end), which the endpoint seals into an opaque cursor: a role that may not see state
        IDs must not learn them from paging either."""
        today = datetime.now(UTC).date()
        scope = row_scope(self.principal, today=today)
        query = select(RecordSubject.state_id).where(scope_filter(scope, today))
        if district_id or school_id:
            from services.records.facts import current_on
            from services.records.models import Enrollment
            conditions = [Enrollment.state_student_id == RecordSubject.state_id,
                          current_on(Enrollment.entry_date, Enrollment.exit_date, today)]
            if district_id:
                conditions.append(Enrollment.district_id == district_id)
            if school_id:
                conditions.append(Enrollment.school_id == school_id)
            query = query.where(select(Enrollment.id).where(*conditions).exists())
        if after:
            query = query.where(RecordSubject.state_id > after)
        ids = list(await self.session.scalars(query.order_by(RecordSubject.state_id).limit(limit).offset(offset)))
        if not ids:
            return [], None
        facts = await self.repo.facts_for(ids, today)
        items = await self.repo.items("student", ids)
        archived, with_statements = await self.repo.archive_and_statements(ids)
        if self.principal.role in LEVEL_ONE:
            archived = set()
        out: list[tuple[str, dict[str, Any]]] = []
        for sid in ids:
            fields = visible_fields(self.principal, facts[sid], today=today)
            if not fields or sid in archived:  # the SQL filter and the policy disagree: trust the policy
                continue
            record = project(assemble("student", sid, [(i.section, i.item_key, i.data) for i in items[sid]]), fields)
            if sid in with_statements:
                await self._attach_statements(sid, record)
            out.append((sid, record))
        if self.withhold is not None and out:
            withheld = await self.withhold([sid for sid, _ in out])
            out = [(sid, record) for sid, record in out if sid not in withheld]
        await self.count_reads(len(out))
        await self.log_reads(out, purpose)
        self.released = out
        return [record for _, record in out], (ids[-1] if len(ids) == limit else None)

    async def count_reads(self, n: int) -> None:
        """The volume alarm: past the caller's hourly limit, log one alert for the hour and refuse."""
        if n == 0:
            return
        actor = self.principal.subject
        reads, alert = await self.volume.count(self._transaction, actor, n, self.reads_per_hour,
                                               raw=self.hot.engine if self.hot is not None else None)
        if reads <= self.reads_per_hour:
            return
        if alert:
            async with self._transaction() as session:
                await append_many(session, RecordsAccessLogEntry, [{
                    "action": "volume_alert",
                    "payload": {"role": self.principal.role, "reads_this_hour": reads, "limit": self.reads_per_hour},
                }], actor=actor, request_id=current_request_id())
        raise VolumeExceeded

    def _transaction(self) -> AbstractAsyncContextManager[AsyncSession]:
        """The request's session, or (hot path) a transaction of its own, committed at the end."""
        if self.session is not None:
            return nullcontext(self.session)
        assert self.hot is not None
        return self.hot.transaction()

    async def log_reads(self, records: Iterable[tuple[str, dict[str, Any]]], purpose: str | None,
                        *, as_of: datetime | None = None, action: str = "read",
                        names: Sequence[set[str]] | None = None) -> None:
        """`names`: each record's `fields_present`, when the projection already gave it."""
        records = list(records)
        sent = names if names is not None else [fields_present(record) for _, record in records]
        entries = [{"action": action, "index_columns": {"state_id": sid},
                    "payload": {"entity": "student", "state_id": sid, "role": self.principal.role,
                                "fields": sorted(fields), "purpose": purpose,
                                "as_of": as_of.isoformat() if as_of else None}}
                   for (sid, _), fields in zip(records, sent, strict=True)]
        if self.chainer is None:
            await append_many(self.session, RecordsAccessLogEntry, entries, actor=self.principal.subject,
                              request_id=current_request_id())
            return
        if self.hot is not None and as_of is None:
            if await self.hot.log.stage(entries, actor=self.principal.subject, request_id=current_request_id()):
                self.chainer.kick()  # staged (a writer held the chain's lock): the chainer folds them in
            return
        # Staged, not chained here: the chain lock, held to commit, would serialise every reader.
        await stage_many(self.session, RecordsAccessLogEntry, entries, actor=self.principal.subject,
                         request_id=current_request_id())
        if entries:
            self.chainer.kick()
