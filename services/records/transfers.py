"""Record transfers between districts with business-day clocks (Missouri RSMo 167.020).

Section 167.020 asks a district enrolling a transfer student to request the student's records from
the schools previously attended within two business days of enrolment, and a district receiving
such a request to answer within five business days of receiving it.

What "transfer" means here. In a state system the records are already central: the receiving
district does not wait for a file to reach the student's record. It reaches the record through the
student's current enrolment (an `enrollment` element naming it, which puts the student in its
district scope) like any of its students, including what the previous district submitted. What
the law asks to be tracked is the exchange between the two districts: that the request was made
on time, that the previous district answered on time (sending what it holds, in the system or
outside it: cumulative folder, IEP documents, discipline files), and, under FERPA, that the release
to the new school (34 CFR 99.31(a)(2), legal basis `school_of_transfer`) is in the record of
disclosures (99.32). So this module keeps the clocks and the answer, and writes the disclosure
entry; it moves no record elements.

- The receiving district (its SIS client, or a registrar, superintendent or principal account of
  it) makes the request; the student must be enrolled in that district today. The previous
  district defaults to the most recent other district of the student's enrolment history and
  `enrolled_on` to the entry date of the student's current enrolment in the requesting district.
- Clocks, in business days of `shared.calendar` (weekends, the packaged holidays and
  `SLDS_EXTRA_HOLIDAYS` skipped): the request is due `enrolled_on` + 2, the answer
  `requested_on` + 5. "Late" and "overdue" mean at least one business day past the due date, so a
  request due Friday and made on Saturday is not late (no business day was lost), and a request
  due Friday and unanswered on Monday is one business day overdue. The request is dated by the
  server (`requested_on` = today): a district cannot backdate it.
- The previous district answers with the sections it sent, or with the reason there is nothing to
  send. Records sent are written to the disclosure log before the answer is stored, with records'
  own service token; if the entry cannot be written the answer is not stored (503, or 403 when the
  disclosure service refuses it). Records' transaction is ended before that call, as in
  `releases.release`: on SQLite the disclosure service could not write while records holds the
  write lock. Two answers racing for one request can therefore both write a log entry; only the
  first is stored, and the second caller gets 409.
- Every request, answer and read is in records' hash-chained access log (ids, districts, sections,
  dates; never the note or the refusal reason).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any

from sqlalchemy import and_, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from services.records.models import Enrollment, RecordsAccessLogEntry
from services.records.repository import RecordsRepository
from services.records.sections import section_of, sections
from services.records.transfer_models import TransferRequest
from shared.audit import append_many
from shared.calendar import BusinessCalendar
from shared.disclosure_client import DisclosureClient
from shared.errors import Conflict, Forbidden, NotFound, UnprocessableContent
from shared.policy.dictionary import load_data_dictionary
from shared.policy.principal import Principal
from shared.request_context import current_request_id

REQUEST_BUSINESS_DAYS = 2  # RSMo 167.020.2: request within two business days of enrolment
ANSWER_BUSINESS_DAYS = 5  # RSMo 167.020.2: answer within five business days of receiving the request
LEGAL_BASIS = "school_of_transfer"  # 34 CFR 99.31(a)(2), services/disclosure/legal_bases.py
PURPOSE = ("Records of a transfer student sent to the district where the student enrolled "
           "(RSMo 167.020; 34 CFR 99.31(a)(2))")

DISTRICT_ROLES = frozenset({"district_sis", "registrar", "superintendent", "principal"})
STATE_VIEWERS = frozenset({"state_data_admin", "service"})  # level 1: the state sees every request
# Sections a district may say it sent: every student section but the state's own bookkeeping.
TRANSFERABLE_SECTIONS = tuple(name for name, spec in sections("student").items() if not spec.state_only)


def today() -> date:
    """The day the clocks are read against (UTC). One function, so tests can set the day."""
    return datetime.now(UTC).date()


def _problem(field: str, message: str, code: str = "invalid") -> dict[str, str]:
    return {"field": field, "code": code, "message": message}


def _invalid(*problems: dict[str, str]) -> UnprocessableContent:
    return UnprocessableContent("See 'errors' for every field that needs attention.", errors=list(problems))


# --- clocks -------------------------------------------------------------------------------------


def last_business_day_on_or_before(calendar: BusinessCalendar, day: date) -> date:
    while not calendar.is_business_day(day):
        day -= timedelta(days=1)
    return day


def business_days_late(calendar: BusinessCalendar, due: date, day: date) -> int:
    """Business days after `due` up to and including `day` (0: on time)."""
    return calendar.business_days_between(due, day)


@dataclass(frozen=True, slots=True)
class Clock:
    """A request's clocks read on one day."""

    state: str  # requested | answered | overdue
    business_days_overdue: int
    request_late: bool
    request_business_days_late: int
    answered_late: bool | None
    answer_business_days_late: int | None


def clock(request: TransferRequest, calendar: BusinessCalendar, day: date) -> Clock:
    request_late_by = business_days_late(calendar, request.request_due_on, request.requested_on)
    if request.status == "answered" and request.answered_on is not None:
        answer_late_by = business_days_late(calendar, request.answer_due_on, request.answered_on)
        return Clock("answered", 0, request_late_by > 0, request_late_by, answer_late_by > 0, answer_late_by)
    overdue_by = business_days_late(calendar, request.answer_due_on, day)
    return Clock("overdue" if overdue_by else "requested", overdue_by, request_late_by > 0, request_late_by,
                 None, None)


# --- who acts for which district ----------------------------------------------------------------


def acting_districts(principal: Principal) -> frozenset[str]:
    """The districts a caller makes and answers transfer requests for: those of its account, when
    its role is one a district acts through (SIS, registrar, superintendent, principal)."""
    return principal.district_ids if principal.role in DISTRICT_ROLES else frozenset()


def _requesting_district(principal: Principal, given: str | None) -> str:
    districts = acting_districts(principal)
    if not districts:
        raise Forbidden("Transfer requests are made by the receiving district: its SIS, or a registrar, "
                        "superintendent or principal of it.")
    if given is None:
        if len(districts) > 1:
            raise _invalid(_problem("requesting_district_id", "Is required: you act for several districts.",
                                    "missing"))
        return next(iter(districts))
    if given not in districts:
        raise _invalid(_problem("requesting_district_id", "Is not a district you act for.", "not-yours"))
    return given


def _may_view(principal: Principal, request: TransferRequest) -> bool:
    if principal.role in STATE_VIEWERS:
        return True
    return bool(acting_districts(principal) & {request.requesting_district_id, request.previous_district_id})


# --- access log ---------------------------------------------------------------------------------


def _entry(action: str, request: TransferRequest, principal: Principal, **extra: Any) -> dict[str, Any]:
    return {"action": action, "index_columns": {"state_id": request.state_student_id},
            "payload": {"entity": "student", "state_id": request.state_student_id, "role": principal.role,
                        "transfer_request_id": request.id,
                        "requesting_district_id": request.requesting_district_id,
                        "previous_district_id": request.previous_district_id, **extra}}


async def _log(session: AsyncSession, principal: Principal, entries: list[dict[str, Any]]) -> None:
    await append_many(session, RecordsAccessLogEntry, entries, actor=principal.subject,
                      request_id=current_request_id())


# --- making a request ---------------------------------------------------------------------------


async def _current_id(session: AsyncSession, state_student_id: str) -> str:
    """The ID records keeps the student under (a retired ID's record lives under its survivor)."""
    subject = await RecordsRepository(session).subject("student", state_student_id)
    return subject.merged_into if subject is not None and subject.merged_into else state_student_id


def _previous_district(enrolments: Sequence[Enrollment], requesting: str) -> str | None:
    """The most recent other district of the enrolment history: the latest exit (an enrolment not
    exited counts as the latest), then the latest entry."""
    others = [e for e in enrolments if e.district_id != requesting]
    if not others:
        return None
    latest = max(others, key=lambda e: (e.exit_date or date.max, e.entry_date, e.district_id))
    return latest.district_id


async def create_request(session: AsyncSession, principal: Principal, calendar: BusinessCalendar, *,
                         state_student_id: str, requesting_district_id: str | None,
                         previous_district_id: str | None, enrolled_on: date | None) -> TransferRequest:
    requesting = _requesting_district(principal, requesting_district_id)
    day = today()
    repo = RecordsRepository(session)
    await repo.lock_for_writes()  # serialises requests, so a duplicate is a 409, never a 500
    student = await _current_id(session, state_student_id)
    enrolments = list(await session.scalars(
        select(Enrollment).where(Enrollment.state_student_id == student).order_by(Enrollment.entry_date)))
    current = [e for e in enrolments if e.district_id == requesting and e.entry_date <= day
               and (e.exit_date is None or e.exit_date >= day)]
    if not current:
        # The same answer whether or not records holds the student: nothing about another
        # district's student is learnt here.
        raise _invalid(_problem("state_student_id", "Is not currently enrolled in the requesting district "
                                "(submit the student's enrollment first).", "not-enrolled"))
    problems = []
    enrolled = enrolled_on or min(e.entry_date for e in current)
    if enrolled > day:
        problems.append(_problem("enrolled_on", "Must not be in the future."))
    previous = previous_district_id or _previous_district(enrolments, requesting)
    if previous is None:
        problems.append(_problem("previous_district_id", "Is required: records holds no enrolment of this "
                                 "student in another district.", "missing"))
    elif previous == requesting:
        problems.append(_problem("previous_district_id", "Must be another district than the requesting one."))
    if problems:
        raise _invalid(*problems)
    assert previous is not None
    existing = await session.scalar(select(TransferRequest.id).where(
        TransferRequest.state_student_id == student, TransferRequest.requesting_district_id == requesting,
        TransferRequest.previous_district_id == previous, TransferRequest.enrolled_on == enrolled))
    if existing is not None:
        raise Conflict("This district already requested this student's records from that district for this "
                       "enrolment.", transfer_request_id=existing)
    request = TransferRequest(
        state_student_id=student, requesting_district_id=requesting, previous_district_id=previous,
        enrolled_on=enrolled, requested_on=day,
        request_due_on=calendar.add_business_days(enrolled, REQUEST_BUSINESS_DAYS),
        answer_due_on=calendar.add_business_days(day, ANSWER_BUSINESS_DAYS),
        requested_by=principal.subject, requester_role=principal.role, status="requested", sections_sent=[])
    session.add(request)
    await session.flush()
    await _log(session, principal, [_entry("transfer_request", request, principal,
                                           enrolled_on=enrolled.isoformat(), requested_on=day.isoformat(),
                                           request_due_on=request.request_due_on.isoformat(),
                                           answer_due_on=request.answer_due_on.isoformat())])
    return request


# --- answering ----------------------------------------------------------------------------------


def section_problems(names: Sequence[str]) -> list[dict[str, str]]:
    problems, seen = [], {}
    for i, name in enumerate(names):
        if name in seen:
            problems.append(_problem(f"sections[{i}]", f"Repeats sections[{seen[name]}].", "duplicate"))
        elif name not in TRANSFERABLE_SECTIONS:
            problems.append(_problem(f"sections[{i}]", "Is not a section of a student record a district sends "
                                     "(see GET /records/v1/data-dictionary).", "unknown-section"))
        seen.setdefault(name, i)
    return problems


def disclosed_fields(section_names: Iterable[str]) -> list[str]:
    """The dictionary fields of the sections sent, without those never disclosed (the SSN)."""
    wanted = set(section_names)
    return sorted(spec.name for spec in load_data_dictionary().fields_for("student")
                  if section_of("student", spec.name) in wanted and not spec.never_returned)


def _answer_problems(outcome: str, section_names: Sequence[str], refusal_reason: str | None) -> list[dict[str, str]]:
    if outcome == "records_sent":
        problems = section_problems(section_names)
        if not section_names:
            problems.append(_problem("sections", "Name at least one section sent.", "missing"))
        if refusal_reason:
            problems.append(_problem("refusal_reason", "Is only for an answer with nothing to send."))
        return problems
    problems = []
    if section_names:
        problems.append(_problem("sections", "Must be empty when there is nothing to send."))
    if not refusal_reason:
        problems.append(_problem("refusal_reason", "Is required: say why there is nothing to send.", "missing"))
    return problems


async def _visible(session: AsyncSession, principal: Principal, request_id: str, *,
                   for_update: bool = False) -> TransferRequest:
    request = await session.get(TransferRequest, request_id, with_for_update=for_update, populate_existing=True)
    if request is None or not _may_view(principal, request):
        raise NotFound("No such transfer request.")  # a district not involved learns nothing
    return request


def _expect_open(request: TransferRequest) -> None:
    if request.status != "requested":
        raise Conflict("The request was already answered.", current_status=request.status)


def disclosure_entry(request: TransferRequest, principal: Principal, fields: list[str], day: date) -> dict[str, Any]:
    """The FERPA 99.32 entry of a release to the receiving district (its requester is the party)."""
    district = f"District {request.requesting_district_id}"
    return {"party": {"name": f"{district} (records request)", "organisation": district,
                      "subject": request.requested_by},
            "legal_basis": LEGAL_BASIS, "purpose": PURPOSE, "fields": fields, "students": [request.state_student_id],
            "disclosed_on": day.isoformat(),
            "reference": f"transfer request {request.id} answered by district {request.previous_district_id} "
                         f"({principal.subject})"}


async def answer_request(session: AsyncSession, link: DisclosureClient, principal: Principal, request_id: str, *,
                         outcome: str, section_names: Sequence[str], note: str | None,
                         refusal_reason: str | None) -> TransferRequest:
    """The previous district answers: the sections it sent (logged as a disclosure first), or why
    there is nothing to send."""
    problems = _answer_problems(outcome, section_names, refusal_reason)
    if outcome == "records_sent":
        await link.prepare()  # the service token, before records' transaction starts (SQLite)
    request = await _visible(session, principal, request_id)
    if request.previous_district_id not in acting_districts(principal):
        raise Forbidden("A transfer request is answered by the previous district.")
    _expect_open(request)
    if problems:
        raise _invalid(*problems)
    day = today()
    seq = None
    if outcome == "records_sent":
        entry = disclosure_entry(request, principal, disclosed_fields(section_names), day)
        await session.commit()  # nothing written yet: end the transaction before disclosure writes
        seq = await link.log(entry)
    await RecordsRepository(session).lock_for_writes()
    request = await _visible(session, principal, request_id, for_update=True)
    _expect_open(request)
    request.status, request.answered_on = "answered", day
    request.answered_by, request.answerer_role, request.outcome = principal.subject, principal.role, outcome
    request.sections_sent = list(section_names)
    request.note, request.refusal_reason, request.disclosure_seq = note, refusal_reason, seq
    await session.flush()
    await _log(session, principal, [_entry("transfer_answer", request, principal, outcome=outcome,
                                           sections=sorted(section_names), answered_on=day.isoformat(),
                                           disclosure_seq=seq)])
    return request


# --- reading ------------------------------------------------------------------------------------


async def get_request(session: AsyncSession, principal: Principal, request_id: str) -> TransferRequest:
    request = await _visible(session, principal, request_id)
    await _log(session, principal, [_entry("read_transfer_request", request, principal)])
    return request


async def list_requests(session: AsyncSession, principal: Principal, calendar: BusinessCalendar, *,
                        role: str | None, status: str | None, overdue: bool | None, district_id: str | None,
                        state_student_id: str | None, limit: int, offset: int) -> list[TransferRequest]:
    """The requests the caller's districts made (`receiving`) or must answer (`sending`); the state
    sees every district's. `overdue` selects open requests at least one business day past their
    answer due date: those due before the last business day on or before today."""
    if principal.role in STATE_VIEWERS:
        districts = frozenset({district_id}) if district_id else None
    else:
        districts = acting_districts(principal)
        if not districts:
            raise Forbidden("Transfer requests are seen by the districts involved and the state.")
        if district_id is not None:
            if district_id not in districts:
                raise _invalid(_problem("district_id", "Is not a district you act for.", "not-yours"))
            districts = frozenset({district_id})
    query = select(TransferRequest)
    if districts is not None:
        receiving = TransferRequest.requesting_district_id.in_(districts)
        sending = TransferRequest.previous_district_id.in_(districts)
        query = query.where({"receiving": receiving, "sending": sending}.get(role or "", or_(receiving, sending)))
    if status is not None:
        query = query.where(TransferRequest.status == status)
    if state_student_id is not None:
        query = query.where(TransferRequest.state_student_id == state_student_id)
    if overdue is not None:
        cutoff = last_business_day_on_or_before(calendar, today())
        late = and_(TransferRequest.status == "requested", TransferRequest.answer_due_on < cutoff)
        query = query.where(late if overdue else ~late)
    rows = list(await session.scalars(query.order_by(TransferRequest.answer_due_on, TransferRequest.created_at,
                                                     TransferRequest.id).limit(limit).offset(offset)))
    await _log(session, principal, [_entry("read_transfer_request", r, principal) for r in rows])
    return rows

