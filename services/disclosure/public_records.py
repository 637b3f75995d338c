"""Public records requests (Missouri Sunshine Law, seed 000: RSMo 610.010, 610.023, 610.024,
610.026), kept by the custodian of records.

610.023.3: "Each request for access to a public record shall be acted upon as soon as possible,
but in no event later than the end of the third business day following the date the request is
received by the custodian of records." If access is not granted then, "the custodian shall give a
detailed explanation of the cause for further delay and the place and earliest time and date that
the record will be available". 610.023.4: a denial is explained in writing, citing "the specific
provision of law under which access is denied" (for student data, FERPA, 20 U.S.C. 1232g, through
RSMo 610.021(14)); seed 000: "Requests that are denied must be explained in writing".

- The custodian records each request received: a state data administrator for the agency or any
  district, a superintendent for their own district. Due: `received_on` plus the
  `public_records_response_business_days` setting (3) business days of the configured calendar
  (`shared/calendar.py`: weekends, the packaged holidays and `SLDS_EXTRA_HOLIDAYS`), counted from
  the day after receipt.
- Acting on it: `fulfilled` (a note optional, an exemption when records were withheld in part),
  `denied` (`explanation` and `exemption` required) or `delayed` (`explanation`, `available_at`
  and `place` required; then fulfilled or denied later).
- State on a day: `open` until the due date, `delayed` until the promised day, `overdue` after
  either without action, `fulfilled` or `denied`. `acted_on_time` says whether the first action
  came by the due date.

The audit log (`slds.disclosure`) names ids, districts, statuses and dates; never the requester,
their contact, what they asked for or any explanation.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time

from sqlalchemy import ColumnElement, and_, false, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from services.disclosure.common import audit, invalid, problem, today
from services.disclosure.public_records_models import PublicRecordsRequest
from shared.calendar import BusinessCalendar
from shared.errors import Conflict, Forbidden, NotFound
from shared.policy.principal import Principal

STATE_CUSTODIANS = frozenset({"state_data_admin"})
DISTRICT_CUSTODIANS = frozenset({"superintendent"})  # for their own district
OPEN_STATUSES = ("received", "delayed")
STATES = ("open", "delayed", "overdue", "fulfilled", "denied")
EARLIEST_AS_OF, LATEST_AS_OF = date(1900, 1, 1), date(2200, 12, 31)


@dataclass(frozen=True)
class NewRequest:
    requester_name: str
    requester_contact: str
    description: str
    requested_format: str | None
    received_on: date | None
    district_id: str | None


@dataclass(frozen=True)
class Action:
    action: str  # fulfilled | denied | delayed
    explanation: str | None
    exemption: str | None
    available_at: datetime | None
    place: str | None
    acted_on: date | None


@dataclass(frozen=True)
class Clock:
    due_on: date  # the day the request must be acted on (a delayed one: the day promised)
    state: str
    days_overdue: int = 0


def _start_of(day: date) -> datetime:
    return datetime.combine(day, time(), tzinfo=UTC)


def clock(request: PublicRecordsRequest, day: date) -> Clock:
    if request.status in ("fulfilled", "denied"):
        return Clock(request.due_on, request.status)
    if request.status == "delayed" and request.available_at is not None:
        promised = request.available_at.astimezone(UTC).date()
        return Clock(promised, "overdue", (day - promised).days) if day > promised else Clock(promised, "delayed")
    if day > request.due_on:
        return Clock(request.due_on, "overdue", (day - request.due_on).days)
    return Clock(request.due_on, "open")


def check_as_of(as_of: date | None) -> date:
    if as_of is None:
        return today()
    if not EARLIEST_AS_OF <= as_of <= LATEST_AS_OF:
        raise invalid([problem("as_of", "Must be a date between 1900 and 2200.", "out-of-range")])
    return as_of


def _is_custodian(principal: Principal) -> bool:
    return principal.role in STATE_CUSTODIANS or (principal.role in DISTRICT_CUSTODIANS
                                                  and bool(principal.district_ids))


def _scope(principal: Principal) -> ColumnElement[bool] | None:
    """The requests a custodian keeps (None: all of them, for the state)."""
    if principal.role in STATE_CUSTODIANS:
        return None
    if principal.role in DISTRICT_CUSTODIANS and principal.district_ids:
        return PublicRecordsRequest.district_id.in_(sorted(principal.district_ids))
    return false()


async def record_request(session: AsyncSession, principal: Principal, body: NewRequest,
                         calendar: BusinessCalendar, business_days: int) -> PublicRecordsRequest:
    """The custodian records a request received (in person, by mail, by email: on `received_on`)."""
    if not _is_custodian(principal):
        raise Forbidden("Public records requests are kept by the custodian of records: a state data "
                        "administrator, or a superintendent for their district.")
    problems = []
    day = today()
    received_on = body.received_on or day
    if received_on > day:
        problems.append(problem("received_on", "Must not be in the future.", "future"))
    district_id = body.district_id
    if principal.role in DISTRICT_CUSTODIANS:
        if district_id is None and len(principal.district_ids) == 1:
            (district_id,) = principal.district_ids
        elif district_id is None:
            problems.append(problem("district_id", "Name which of your districts received the request.", "missing"))
        elif district_id not in principal.district_ids:
            problems.append(problem("district_id", "Is not a district you keep the records of.", "not-yours"))
    if problems:
        raise invalid(problems)
    request = PublicRecordsRequest(
        district_id=district_id, requester_name=body.requester_name, requester_contact=body.requester_contact,
        description=body.description, requested_format=body.requested_format, received_on=received_on,
        due_on=calendar.add_business_days(received_on, business_days), status="received",
        recorded_by=principal.subject, recorder_role=principal.role)
    session.add(request)
    await session.flush()
    audit.info("public records request received", extra={
        "public_records_request_id": request.id, "district_id": district_id, "received_on": received_on.isoformat(),
        "due_on": request.due_on.isoformat(), "actor": principal.subject})
    return request


async def list_requests(session: AsyncSession, principal: Principal, *, state: str | None, overdue: bool | None,
                        district_id: str | None, as_of: date, limit: int,
                        offset: int) -> Sequence[PublicRecordsRequest]:
    """The custodian's requests, the most urgent first. `overdue`: not acted on by the due date,
    or delayed past the day promised."""
    if not _is_custodian(principal):
        raise Forbidden("Public records requests are seen by the custodian of records.")
    query = select(PublicRecordsRequest)
    scope = _scope(principal)
    if scope is not None:
        query = query.where(scope)
    if district_id is not None:
        query = query.where(PublicRecordsRequest.district_id == district_id)
    start = _start_of(as_of)
    late = or_(and_(PublicRecordsRequest.status == "received", PublicRecordsRequest.due_on < as_of),
               and_(PublicRecordsRequest.status == "delayed", PublicRecordsRequest.available_at < start))
    wanted = {
        "overdue": late,
        "open": and_(PublicRecordsRequest.status == "received", PublicRecordsRequest.due_on >= as_of),
        "delayed": and_(PublicRecordsRequest.status == "delayed", PublicRecordsRequest.available_at >= start),
        "fulfilled": PublicRecordsRequest.status == "fulfilled",
        "denied": PublicRecordsRequest.status == "denied",
    }
    if state is not None:
        query = query.where(wanted[state])
    if overdue is not None:
        query = query.where(late if overdue else ~late)
    query = query.order_by(PublicRecordsRequest.due_on, PublicRecordsRequest.id).offset(offset).limit(limit)
    return (await session.scalars(query)).all()


async def get_visible(session: AsyncSession, principal: Principal, request_id: str, *,
                      for_update: bool = False) -> PublicRecordsRequest:
    """A custodian's own request; anyone else is told there is no such request."""
    query = select(PublicRecordsRequest).where(PublicRecordsRequest.id == request_id)
    scope = _scope(principal)
    if scope is not None:
        query = query.where(scope)
    request = await session.scalar(query.with_for_update() if for_update else query)
    if request is None:
        raise NotFound("No such public records request.")
    return request


def _action_problems(request: PublicRecordsRequest, body: Action, acted_on: date) -> list[dict[str, str]]:
    problems = []
    if acted_on > today():
        problems.append(problem("acted_on", "Must not be in the future.", "future"))
    elif acted_on < request.received_on:
        problems.append(problem("acted_on", "Must not be before the day the request was received.", "before-receipt"))
    if body.action == "denied":
        if not body.explanation:
            problems.append(problem("explanation", "A denial is explained in writing (RSMo 610.023.4).", "required"))
        if not body.exemption:
            problems.append(problem("exemption", "Cite the provision of law under which access is denied "
                                    "(e.g. RSMo 610.021(14) and FERPA, 20 U.S.C. 1232g).", "required"))
    if body.action == "delayed":
        if not body.explanation:
            problems.append(problem("explanation", "A delay needs a detailed explanation of its cause "
                                    "(RSMo 610.023.3).", "required"))
        if not body.place:
            problems.append(problem("place", "Say where the records will be available.", "required"))
        if body.available_at is None:
            problems.append(problem("available_at", "Give the earliest date and time the records will be "
                                    "available.", "required"))
        elif body.available_at.tzinfo is None:
            problems.append(problem("available_at", "Must include a UTC offset (e.g. 2026-12-14T09:00:00-06:00)."))
        else:
            try:
                promised = body.available_at.astimezone(UTC).date()
            except OverflowError:
                promised = None
            if promised is None or promised > LATEST_AS_OF:
                problems.append(problem("available_at", "Is too far in the future.", "out-of-range"))
            elif promised < acted_on:
                problems.append(problem("available_at", "Must not be before the day the delay is recorded.",
                                        "before-action"))
        if body.exemption is not None:
            problems.append(problem("exemption", "Is cited when records are withheld (fulfilled in part or "
                                    "denied), not with a delay.", "not-allowed"))
    else:
        for name, value in (("available_at", body.available_at), ("place", body.place)):
            if value is not None:
                problems.append(problem(name, "Is given only with a delay.", "not-allowed"))
    return problems


async def act(session: AsyncSession, principal: Principal, request_id: str, body: Action) -> PublicRecordsRequest:
    """Record how the request was acted on. A request not yet acted on may be fulfilled, denied or
    delayed; a delayed one is then fulfilled or denied; a closed one is not acted on again."""
    request = await get_visible(session, principal, request_id, for_update=True)
    acted_on = body.acted_on or today()
    problems = _action_problems(request, body, acted_on)
    if problems:
        raise invalid(problems)
    allowed = {"received": ("fulfilled", "denied", "delayed"), "delayed": ("fulfilled", "denied")}.get(request.status, ())
    if body.action not in allowed:
        raise Conflict(f"A request that is {request.status} cannot be {body.action}.", current_status=request.status,
                       allowed=list(allowed))
    if request.delayed_on is not None and acted_on < request.delayed_on:
        raise invalid([problem("acted_on", "Must not be before the delay was recorded.", "before-delay")])
    from_status = request.status
    request.first_acted_on = request.first_acted_on or acted_on
    if body.action == "delayed":
        request.status, request.delay_explanation = "delayed", body.explanation
        request.available_at, request.available_place = body.available_at, body.place
        request.delayed_on, request.delayed_by = acted_on, principal.subject
    else:
        request.status, request.explanation, request.exemption = body.action, body.explanation, body.exemption
        request.closed_on, request.closed_by, request.closer_role = acted_on, principal.subject, principal.role
    await session.flush()
    audit.info("public records request acted on", extra={
        "public_records_request_id": request.id, "district_id": request.district_id, "from_status": from_status,
        "to_status": request.status, "acted_on": acted_on.isoformat(), "due_on": request.due_on.isoformat(),
        "on_time": request.first_acted_on <= request.due_on, "actor": principal.subject})
    return request
