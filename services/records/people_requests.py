"""Deadlines on the requests people make of their records: the clock, the state and the overdue list.

Inspection (FERPA 34 CFR 99.10): a parent or eligible student asks to inspect and review the
student's education records; the agency "shall comply with a request ... within a reasonable
period of time, but not more than 45 days after it has received the request" (99.10(b); seed 002:
"within 45 days of receiving an official request"). Here the due date is the day received plus
the `records_inspection_response_days` setting (45 calendar days; calendar days need no business
calendar). The request is owed by the districts and schools the student was enrolled in when it
was received: their superintendent and registrar (district) or principal (school), or a state
data administrator, record it answered: the day the records were made available, whether copies
were provided, a note.

Amendment (99.20(b)): decided "within a reasonable time"; the requests and their workflow live in
`amendments.py`. Here only their clock: due `records_amendment_response_days` calendar days after
the request (or, while a hearing is pending, after the hearing was asked for; 99.22(a)), and the
list of open and overdue ones for the deciders.

States are computed on read for a day (`as_of`, today by default): `open` until the due date,
`overdue` after it, `answered` once answered. Filing, answering and reading the lists are written
to the records access log (ids, roles, dates; never the requester's words or the note).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from sqlalchemy import ColumnElement, and_, exists, false, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from services.records.facts import current_on
from services.records.models import Enrollment, RecordsAccessLogEntry
from services.records.repository import RecordsRepository
from services.records.request_clock_models import InspectionRequest, InspectionRequestScope
from services.records.rights_models import AmendmentRequest
from shared.audit import append_many
from shared.errors import Conflict, Forbidden, NotFound, UnprocessableContent
from shared.policy.access import visible_fields
from shared.policy.principal import Principal
from shared.request_context import current_request_id

FAMILY_ROLES = frozenset({"parent", "eligible_student"})
STATE_STAFF = frozenset({"state_data_admin"})
DISTRICT_STAFF = frozenset({"superintendent", "registrar"})  # of a district that owes the answer
SCHOOL_STAFF = frozenset({"principal"})  # of a school that owes the answer
AMENDMENT_DISTRICT_VIEWERS = frozenset({"superintendent", "district_sis"})  # as amendments.py
OPEN_AMENDMENT_STATUSES = ("requested", "hearing_requested")
EARLIEST_AS_OF, LATEST_AS_OF = date(1900, 1, 1), date(2200, 12, 31)


def today() -> date:
    return datetime.now(UTC).date()


def _invalid(field: str, message: str, code: str = "invalid") -> UnprocessableContent:
    return UnprocessableContent("See 'errors' for every field that needs attention.",
                                errors=[{"field": field, "code": code, "message": message}])


def check_as_of(as_of: date | None) -> date:
    """The day a list is judged on: today unless asked (to see what will be overdue by Friday)."""
    if as_of is None:
        return today()
    if not EARLIEST_AS_OF <= as_of <= LATEST_AS_OF:
        raise _invalid("as_of", "Must be a date between 1900 and 2200.", "out-of-range")
    return as_of


@dataclass(frozen=True)
class Clock:
    """Where a request stands on a day: its due date, state and days past due (0 unless overdue)."""

    due_on: date | None
    state: str
    days_overdue: int = 0


def _clock(due_on: date | None, answered: bool, day: date) -> Clock:
    if answered or due_on is None:
        return Clock(due_on, "answered")
    if day > due_on:
        return Clock(due_on, "overdue", (day - due_on).days)
    return Clock(due_on, "open")


async def _log(session: AsyncSession, principal: Principal, entries: list[dict[str, Any]]) -> None:
    await append_many(session, RecordsAccessLogEntry, entries, actor=principal.subject,
                      request_id=current_request_id())


def _entry(action: str, state_id: str, payload: dict[str, Any]) -> dict[str, Any]:
    return {"action": action, "index_columns": {"state_id": state_id},
            "payload": {"entity": "student", "state_id": state_id, **payload}}


# --- inspection (99.10) -------------------------------------------------------------------------


def inspection_clock(request: InspectionRequest, day: date) -> Clock:
    return _clock(request.due_on, request.status == "answered", day)


async def file_inspection_request(session: AsyncSession, principal: Principal, state_id: str,
                                  records_requested: str | None, response_days: int) -> InspectionRequest:
    """A parent or eligible student asks to inspect and review the record (99.10(a)). Anyone else,
    or a student who is not theirs, is told there is no such record (404)."""
    if principal.role not in FAMILY_ROLES or state_id not in principal.student_ids:
        raise NotFound("No such student record.")
    repo = RecordsRepository(session)
    day = today()
    facts = (await repo.facts_for([state_id], day))[state_id]
    if await repo.subject("student", state_id) is None or not visible_fields(principal, facts, today=day):
        raise NotFound("No such student record.")
    request = InspectionRequest(state_student_id=state_id, requested_by=principal.subject,
                                requester_role=principal.role, records_requested=records_requested,
                                received_on=day, due_on=day + timedelta(days=response_days), status="requested")
    session.add(request)
    await session.flush()
    session.add_all([InspectionRequestScope(request_id=request.id, kind="district", org_id=d)
                     for d in sorted(facts.district_ids)]
                    + [InspectionRequestScope(request_id=request.id, kind="school", org_id=s)
                       for s in sorted(facts.school_ids)])
    await session.flush()
    await _log(session, principal, [_entry("inspection_request", state_id, {
        "role": principal.role, "inspection_request_id": request.id, "received_on": day.isoformat(),
        "due_on": request.due_on.isoformat(), "districts": sorted(facts.district_ids)})])
    return request


def _staff_scope(principal: Principal) -> ColumnElement[bool] | None:
    """The requests a staff member answers (None: every request, for the state)."""
    if principal.role in STATE_STAFF:
        return None
    if principal.role in DISTRICT_STAFF:
        kind, orgs = "district", principal.district_ids
    elif principal.role in SCHOOL_STAFF:
        kind, orgs = "school", principal.school_ids
    else:
        raise AssertionError(principal.role)
    if not orgs:
        return false()
    return exists().where(InspectionRequestScope.request_id == InspectionRequest.id,
                          InspectionRequestScope.kind == kind, InspectionRequestScope.org_id.in_(sorted(orgs)))


def _is_staff(principal: Principal) -> bool:
    return principal.role in STATE_STAFF | DISTRICT_STAFF | SCHOOL_STAFF


def _visibility(principal: Principal) -> ColumnElement[bool] | None:
    if principal.role in FAMILY_ROLES:
        return InspectionRequest.requested_by == principal.subject
    if not _is_staff(principal):
        raise Forbidden("Inspection requests are answered by the student's superintendent, registrar or "
                        "principal, or a state data administrator; parents and eligible students see their own.")
    return _staff_scope(principal)


async def list_inspection_requests(session: AsyncSession, principal: Principal, *, state: str | None,
                                   overdue: bool | None, state_student_id: str | None, as_of: date,
                                   limit: int, offset: int) -> Sequence[InspectionRequest]:
    """Staff: the requests their district, school or the state owes; a parent or eligible student:
    their own. Ordered by due date, the most urgent first."""
    query = select(InspectionRequest)
    scope = _visibility(principal)
    if scope is not None:
        query = query.where(scope)
    is_overdue = and_(InspectionRequest.status == "requested", InspectionRequest.due_on < as_of)
    wanted = {"overdue": is_overdue, "answered": InspectionRequest.status == "answered",
              "open": and_(InspectionRequest.status == "requested", InspectionRequest.due_on >= as_of)}
    if state is not None:
        query = query.where(wanted[state])
    if overdue is not None:
        query = query.where(is_overdue if overdue else or_(InspectionRequest.status == "answered",
                                                           InspectionRequest.due_on >= as_of))
    if state_student_id is not None:
        query = query.where(InspectionRequest.state_student_id == state_student_id)
    query = query.order_by(InspectionRequest.due_on, InspectionRequest.id).offset(offset).limit(limit)
    rows = (await session.scalars(query)).all()
    await _log_reads(session, principal, rows)
    return rows


async def _log_reads(session: AsyncSession, principal: Principal, rows: Iterable[InspectionRequest]) -> None:
    by_student: dict[str, list[str]] = {}
    for row in rows:
        by_student.setdefault(row.state_student_id, []).append(row.id)
    await _log(session, principal, [_entry("read_inspection_requests", sid, {
        "role": principal.role, "inspection_request_ids": ids}) for sid, ids in sorted(by_student.items())])


async def _visible_request(session: AsyncSession, principal: Principal, request_id: str, *,
                           for_update: bool = False) -> InspectionRequest:
    query = select(InspectionRequest).where(InspectionRequest.id == request_id)
    if principal.role in FAMILY_ROLES or _is_staff(principal):
        scope = _visibility(principal)
        if scope is not None:
            query = query.where(scope)
    else:
        raise NotFound("No such inspection request.")
    request = await session.scalar(query.with_for_update() if for_update else query)
    if request is None:
        raise NotFound("No such inspection request.")
    return request


async def get_inspection_request(session: AsyncSession, principal: Principal, request_id: str) -> InspectionRequest:
    request = await _visible_request(session, principal, request_id)
    await _log_reads(session, principal, [request])
    return request


async def answer_inspection_request(session: AsyncSession, principal: Principal, request_id: str, *,
                                    available_on: date, copies_provided: bool,
                                    note: str | None) -> InspectionRequest:
    """Staff who owe the answer record it: the day the records were (or will be) made available
    for inspection, and whether copies were provided. Late answers are recorded all the same
    (`answered_on_time` tells)."""
    request = await _visible_request(session, principal, request_id, for_update=True)
    if principal.role in FAMILY_ROLES:
        raise Forbidden("The request is answered by the student's school, district or the state.")
    if request.status == "answered":
        raise Conflict("The request is already answered.", current_status=request.status)
    if available_on < request.received_on:
        raise _invalid("available_on", "Must not be before the day the request was received.")
    request.status, request.answered_on = "answered", today()
    request.answered_by, request.answerer_role = principal.subject, principal.role
    request.available_on, request.copies_provided, request.note = available_on, copies_provided, note
    await session.flush()
    await _log(session, principal, [_entry("inspection_answered", request.state_student_id, {
        "role": principal.role, "inspection_request_id": request.id, "available_on": available_on.isoformat(),
        "copies_provided": copies_provided, "due_on": request.due_on.isoformat(),
        "on_time": available_on <= request.due_on})])
    return request


# --- amendment (99.20(b): "within a reasonable time") ------------------------------------------


def _start_of(day: date) -> datetime:
    return datetime.combine(day, time(), tzinfo=UTC)


def amendment_clock(request: AmendmentRequest, response_days: int, day: date | None = None) -> Clock:
    """Due `response_days` after the request, or after the hearing was asked for while it is
    pending; answered once decided (or heard)."""
    if request.status == "requested":
        started: datetime | None = request.created_at
    elif request.status == "hearing_requested":
        started = request.hearing_requested_at
    else:
        started = None
    due_on = started.astimezone(UTC).date() + timedelta(days=response_days) if started else None
    return _clock(due_on, started is None, day or today())


async def list_open_amendments(session: AsyncSession, principal: Principal, *, overdue: bool | None,
                               as_of: date, response_days: int, limit: int,
                               offset: int) -> Sequence[AmendmentRequest]:
    """Amendment requests awaiting a decision or a hearing: all of them for a state data
    administrator, those of students enrolled in their district today for a superintendent or
    SIS, their own for a parent or eligible student."""
    query = select(AmendmentRequest).where(AmendmentRequest.status.in_(OPEN_AMENDMENT_STATUSES))
    if principal.role in FAMILY_ROLES:
        query = query.where(AmendmentRequest.requested_by == principal.subject)
    elif principal.role in AMENDMENT_DISTRICT_VIEWERS:
        enrolled = (select(Enrollment.state_student_id)
                    .where(Enrollment.district_id.in_(sorted(principal.district_ids)),
                           current_on(Enrollment.entry_date, Enrollment.exit_date, today())))
        query = query.where(AmendmentRequest.state_student_id.in_(enrolled))
    elif principal.role not in STATE_STAFF:
        raise Forbidden("Amendment requests are seen by the requester, a state data administrator, and the "
                        "superintendent or SIS of the student's district.")
    if overdue is not None:
        cutoff = _start_of(as_of - timedelta(days=response_days))  # overdue: started before the cutoff day
        late = or_(and_(AmendmentRequest.status == "requested", AmendmentRequest.created_at < cutoff),
                   and_(AmendmentRequest.status == "hearing_requested",
                        AmendmentRequest.hearing_requested_at < cutoff))
        query = query.where(late if overdue else ~late)
    query = query.order_by(AmendmentRequest.created_at, AmendmentRequest.id).offset(offset).limit(limit)
    rows = (await session.scalars(query)).all()
    by_student: dict[str, list[str]] = {}
    for row in rows:
        by_student.setdefault(row.state_student_id, []).append(row.id)
    await _log(session, principal, [_entry("read_amendment_requests", sid, {
        "role": principal.role, "amendment_request_ids": ids}) for sid, ids in sorted(by_student.items())])
    return rows
