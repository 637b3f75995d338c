"""Breach response (Utah charter plan, section 6): report, route, find the exposure, suspend,
notify, close with findings.

Seed 002, 6.2: "Concerns about security breaches must be reported immediately to the IT security
manager ... Concerns about security breaches that involve the IT Security Manager must be reported
immediately to the Superintendent"; the response team determines whether a breach occurred and
"will identify appropriate consequences"; affected students (adult students) or parents are
notified. Here:

- any staff person reports (who: the token; when discovered; what happened; the suspected
  principals as token subjects; the time window). The report goes to the `security_manager` role,
  or to the state data administrators (level 1, standing for the superintendent) when the reporter
  says it involves the security manager or a suspected principal has worked breaches as security
  manager. Only the party it is routed to and the state data administrators see it, and never a
  principal it names as suspected: everyone else gets 404, as for no such breach;
- the exposure is read from the logs, not from anyone's memory: the records access log (asked over
  HTTP with the caller's own token, so records decides whether the caller may read it) and the
  local FERPA 99.32 disclosure log, for each suspected principal within the window. It is stored,
  and notifications are tracked against its students;
- suspension disables the suspected people and revokes the suspected clients at identity (with the
  caller's token); identity's revocation list is read by every service's token verifier, so their
  tokens stop working everywhere within `SLDS_REVOCATION_CACHE_SECONDS`;
- a confirmed breach closes only once every affected student's family was notified.

Every step is written to `disclosure_breach_event` (who, when, counts) like the other disclosure
workflows; the reports, findings and names stay in the tables, never in the service log.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from typing import Annotated, Any, Literal
from urllib.parse import quote

import httpx
from pydantic import AfterValidator, Field
from sqlalchemy import delete, select
from sqlalchemy.ext.asyncio import AsyncSession

from services.disclosure.breach_models import (
    Breach,
    BreachEvent,
    BreachExposure,
    BreachNotification,
)
from services.disclosure.common import (
    FAMILY_ROLES,
    Name,
    StateStudentId,
    Subject,
    Text,
    audit,
    invalid,
    is_steward,
    problem,
    today,
)
from services.disclosure.models import DisclosureLogEntry, DisclosureLogStudent
from shared.db import utcnow
from shared.errors import Conflict, Forbidden, NotFound, ServiceUnavailable
from shared.peers import peer_client
from shared.policy.principal import Principal
from shared.schemas import IsoDate, IsoDateTime, RequestModel, ResponseModel
from shared.state import ServiceState

SECURITY_MANAGER = "security_manager"
STATE_ADMIN = "state_data_admin"  # level 1: stands for the superintendent when the manager is involved
NOT_STAFF = FAMILY_ROLES | {"public", "researcher", "vendor", "directory_recipient"}
ACCESS_LOG_PATH = "/records/v1/access-log"
ACCESS_LOG_PAGE = 1000
MAX_SUBJECTS = 100


def _to_utc(value: datetime) -> datetime:
    """A time without a zone is UTC; one that has no UTC equivalent (year 1 east of Greenwich)
    is refused."""
    try:
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)
    except OverflowError:
        raise ValueError("is outside the range of representable UTC times") from None


UtcDateTime = Annotated[IsoDateTime, AfterValidator(_to_utc)]


# --- request and response bodies -----------------------------------------------------------------


class BreachIn(RequestModel):
    """A suspected breach: what happened, when it was discovered, whose credentials or which client
    is suspected, and the time window to search. Times without a zone are UTC."""

    description: Text = Field(description="What happened (stored, never logged)")
    discovered_at: UtcDateTime
    suspected_subjects: list[Subject] = Field(min_length=1, max_length=MAX_SUBJECTS,
                                              description="Token subjects: `user:<id>`, `client:<client_id>`")
    window_start: UtcDateTime
    window_end: UtcDateTime = Field(description="Not in the future: the logs cannot show it yet")
    involves_security_manager: bool = Field(False, description="Route to the state data administrators instead")


class NotificationIn(RequestModel):
    state_student_id: StateStudentId
    recipient: Literal["parent", "guardian", "eligible_student"]
    recipient_name: Name | None = None
    method: Literal["mail", "email", "phone", "in_person", "portal"]
    notified_on: IsoDate


class FindingsIn(RequestModel):
    breach_confirmed: bool = Field(description="Whether the response team found that a breach occurred")
    findings: Text
    consequences: Text | None = Field(None, description="E.g. termination of a contract, further legal action")


class SuspensionIn(RequestModel):
    subjects: list[Subject] | None = Field(None, max_length=MAX_SUBJECTS,
                                           description="Some of the suspected subjects; all of them when absent")


class BreachEventOut(ResponseModel):
    action: str
    actor: str
    actor_role: str
    at: datetime
    detail: dict[str, Any] | None = None


class NotificationOut(ResponseModel):
    id: str
    state_student_id: str
    recipient: str
    recipient_name: str | None
    method: str
    notified_on: date
    recorded_by: str
    recorded_at: datetime


class BreachSummary(ResponseModel):
    id: str
    status: str
    routed_to: str
    reported_by: str
    reported_at: datetime
    discovered_at: datetime
    window_start: datetime
    window_end: datetime
    suspected_subjects: list[str]


class BreachOut(BreachSummary):
    reporter_role: str
    description: str
    involves_security_manager: bool
    exposure_computed_at: datetime | None
    affected_students: int
    students_to_notify: list[str]
    notifications: list[NotificationOut]
    suspended_at: datetime | None
    breach_confirmed: bool | None
    findings: str | None
    consequences: str | None
    closed_at: datetime | None
    closed_by: str | None
    history: list[BreachEventOut]


class BreachList(ResponseModel):
    items: list[BreachSummary]
    next_offset: int | None = None


class ExposedStudentOut(ResponseModel):
    state_student_id: str
    fields: list[str]
    actions: list[str]
    sources: list[str]
    first_at: datetime
    last_at: datetime


class SubjectExposureOut(ResponseModel):
    subject: str
    student_count: int
    students: list[ExposedStudentOut]


class ExposureOut(ResponseModel):
    breach_id: str
    computed_at: datetime | None
    window_start: datetime
    window_end: datetime
    affected_students: list[str]
    subjects: list[SubjectExposureOut]


class SuspensionOutcome(ResponseModel):
    subject: str
    outcome: Literal["suspended", "not_found", "failed"]


class SuspensionOut(ResponseModel):
    breach_id: str
    suspended_at: datetime | None
    all_suspended: bool
    outcomes: list[SuspensionOutcome]


# --- reporting and routing ------------------------------------------------------------------------


async def _event(session: AsyncSession, breach: Breach, principal: Principal, action: str,
                 detail: dict[str, Any] | None = None) -> None:
    session.add(BreachEvent(breach_id=breach.id, action=action, actor=principal.subject, actor_role=principal.role,
                            detail=json.dumps(detail, sort_keys=True) if detail else None))
    await session.flush()


async def _acted_as_security_manager(session: AsyncSession, subjects: list[str]) -> bool:
    """Whether any of `subjects` has worked a breach as the security manager: then a breach
    suspecting it must not be routed to that role."""
    found = await session.scalar(select(BreachEvent.id).where(BreachEvent.actor.in_(subjects),
                                                              BreachEvent.actor_role == SECURITY_MANAGER).limit(1))
    return found is not None


async def report_breach(session: AsyncSession, principal: Principal, body: BreachIn) -> Breach:
    if principal.kind != "user" or principal.role in NOT_STAFF:
        raise Forbidden("Breaches are reported by staff; families and outside parties tell the school or the agency.")
    now = utcnow()
    discovered, start, end = body.discovered_at, body.window_start, body.window_end
    problems = []
    if discovered > now:
        problems.append(problem("discovered_at", "Must not be in the future."))
    if end > now:
        problems.append(problem("window_end", "Must not be in the future: the logs cannot show what has not "
                                "happened yet. Report again, or widen the window later."))
    if start > end:
        problems.append(problem("window_start", "Must not be after window_end."))
    if problems:
        raise invalid(problems)
    subjects = sorted(set(body.suspected_subjects))
    involves = body.involves_security_manager or await _acted_as_security_manager(session, subjects)
    breach = Breach(reported_by=principal.subject, reporter_role=principal.role, discovered_at=discovered,
                    description=body.description, suspected_subjects=subjects, window_start=start, window_end=end,
                    involves_security_manager=involves, routed_to=STATE_ADMIN if involves else SECURITY_MANAGER,
                    status="open")
    session.add(breach)
    await session.flush()
    await _event(session, breach, principal, "reported", {"subjects": len(subjects), "routed_to": breach.routed_to})
    audit.info("breach reported", extra={"breach_id": breach.id, "routed_to": breach.routed_to,
                                         "subjects": len(subjects), "actor": principal.subject})
    return breach


def may_work(principal: Principal, breach: Breach) -> bool:
    if principal.subject in breach.suspected_subjects:
        return False  # a suspected principal never sees the investigation of itself
    return is_steward(principal) or principal.role == breach.routed_to


async def get_visible(session: AsyncSession, principal: Principal, breach_id: str, *,
                      for_update: bool = False) -> Breach:
    """The routed party and the state data administrators see a breach; anyone else gets 404,
    as for a breach that does not exist."""
    query = select(Breach).where(Breach.id == breach_id)
    breach = await session.scalar(query.with_for_update() if for_update else query)
    if breach is None or not may_work(principal, breach):
        raise NotFound("No such breach.")
    return breach


async def get_open(session: AsyncSession, principal: Principal, breach_id: str) -> Breach:
    breach = await get_visible(session, principal, breach_id, for_update=True)
    if breach.status == "closed":
        raise Conflict("The breach is closed.", current_status="closed")
    return breach


async def list_breaches(session: AsyncSession, principal: Principal, *, status: str | None, limit: int,
                        offset: int) -> tuple[list[Breach], bool]:
    """The breaches the caller works, and whether more may follow."""
    if not (is_steward(principal) or principal.role == SECURITY_MANAGER):
        raise Forbidden("Breaches are worked by the IT security manager and the state data administrators.")
    query = select(Breach)
    if not is_steward(principal):
        query = query.where(Breach.routed_to == principal.role)
    if status is not None:
        query = query.where(Breach.status == status)
    rows = (await session.scalars(query.order_by(Breach.created_at.desc(), Breach.id)
                                  .offset(offset).limit(limit))).all()
    return [b for b in rows if may_work(principal, b)], len(rows) == limit


async def affected_students(session: AsyncSession, breach_id: str) -> list[str]:
    rows = await session.scalars(select(BreachExposure.state_student_id).where(BreachExposure.breach_id == breach_id)
                                 .distinct().order_by(BreachExposure.state_student_id))
    return list(rows)


async def notifications_of(session: AsyncSession, breach_id: str) -> Sequence[BreachNotification]:
    return (await session.scalars(select(BreachNotification).where(BreachNotification.breach_id == breach_id)
                                  .order_by(BreachNotification.recorded_at, BreachNotification.id))).all()


async def students_to_notify(session: AsyncSession, breach_id: str) -> list[str]:
    told = {n.state_student_id for n in await notifications_of(session, breach_id)}
    return [sid for sid in await affected_students(session, breach_id) if sid not in told]


async def details(session: AsyncSession, breach: Breach) -> dict[str, Any]:
    events = (await session.scalars(select(BreachEvent).where(BreachEvent.breach_id == breach.id)
                                    .order_by(BreachEvent.id))).all()
    history = [{"action": e.action, "actor": e.actor, "actor_role": e.actor_role, "at": e.at,
                "detail": json.loads(e.detail) if e.detail else None} for e in events]
    affected = await affected_students(session, breach.id)
    notifications = await notifications_of(session, breach.id)
    told = {n.state_student_id for n in notifications}
    return {"reported_at": breach.created_at, "affected_students": len(affected),
            "students_to_notify": [sid for sid in affected if sid not in told],
            "notifications": notifications, "history": history}


# --- exposure from the logs -------------------------------------------------------------------------


@dataclass
class Touch:
    """What one subject did to one student's record in the window."""

    fields: set[str] = field(default_factory=set)
    actions: set[str] = field(default_factory=set)
    sources: set[str] = field(default_factory=set)
    first_at: datetime | None = None
    last_at: datetime | None = None

    def add(self, at: datetime, action: str, source: str, fields: list[str]) -> None:
        self.fields.update(fields)
        self.actions.add(action)
        self.sources.add(source)
        self.first_at = at if self.first_at is None else min(self.first_at, at)
        self.last_at = at if self.last_at is None else max(self.last_at, at)


@asynccontextmanager
async def records_peer(state: ServiceState) -> AsyncIterator[httpx.AsyncClient]:
    """The records service. Apart, at `SLDS_RECORDS_URL`; mounted in one process, every service
    answers on the one in-process peer transport, so the identity peer client reaches records'
    routes as well (every route starts with its service's name)."""
    if state.settings.records_url:
        async with peer_client(state.settings.records_url) as client:
            yield client
    elif state.settings.identity_url:
        raise ServiceUnavailable("SLDS_RECORDS_URL is not set, so the records access log cannot be read.")
    else:
        yield state.identity


async def _access_log_touches(records: httpx.AsyncClient, authorization: str, subject: str, start: datetime,
                              end: datetime) -> dict[str, Touch]:
    """The students (and fields) `subject` read or wrote in the window, from records' access log,
    asked with the caller's own token. Fails closed: a partial answer is no answer."""
    touches: dict[str, Touch] = {}
    after = 0
    while True:
        params: dict[str, str | int] = {"actor": subject, "at_from": start.isoformat(), "at_to": end.isoformat(),
                                        "after_seq": after, "limit": ACCESS_LOG_PAGE}
        try:
            response = await records.get(ACCESS_LOG_PATH, params=params, headers={"Authorization": authorization})
        except httpx.HTTPError:
            raise ServiceUnavailable("The records access log cannot be reached; nothing was computed.") from None
        if response.status_code == 403:
            raise Forbidden("The records service does not let this caller read its access log.")
        if response.status_code != 200:
            raise ServiceUnavailable("The records access log did not answer; nothing was computed.")
        try:
            entries = response.json()["entries"]
            for entry in entries:
                payload = entry["payload"]
                sid = payload.get("state_id")
                if payload.get("entity", "student") != "student" or not sid:
                    continue
                touches.setdefault(sid, Touch()).add(datetime.fromisoformat(entry["at"]), str(entry["action"]),
                                                     "records_access_log", list(payload.get("fields") or []))
            last = int(entries[-1]["seq"]) if entries else after
        except (KeyError, ValueError, TypeError, AttributeError, IndexError):
            raise ServiceUnavailable("The records access log answered in an unknown form.") from None
        if len(entries) < ACCESS_LOG_PAGE:
            return touches
        after = last


async def _disclosure_log_touches(session: AsyncSession, subject: str, start: datetime, end: datetime,
                                  touches: dict[str, Touch]) -> None:
    """The students and fields disclosed to `subject` (the receiving party) in the window."""
    entries = (await session.scalars(select(DisclosureLogEntry).where(
        DisclosureLogEntry.party_subject == subject, DisclosureLogEntry.seq > 0,
        DisclosureLogEntry.at >= start, DisclosureLogEntry.at <= end).order_by(DisclosureLogEntry.seq))).all()
    for entry in entries:
        fields = json.loads(entry.payload).get("fields", [])
        students = await session.scalars(select(DisclosureLogStudent.state_student_id)
                                         .where(DisclosureLogStudent.entry_seq == entry.seq))
        for sid in students:
            touches.setdefault(sid, Touch()).add(entry.at, "disclosed", "disclosure_log", fields)


async def compute_exposure(session: AsyncSession, state: ServiceState, principal: Principal, authorization: str,
                           breach_id: str) -> Breach:
    """Search both logs for every suspected subject in the window and store what was found,
    replacing an earlier computation."""
    breach = await get_open(session, principal, breach_id)
    subjects, start, end = list(breach.suspected_subjects), breach.window_start, breach.window_end
    # Records writes its own transaction (its log reader folds staged entries); on SQLite that
    # could not start while this one holds the write lock, so nothing of ours stays open meanwhile.
    await session.commit()
    found: dict[str, dict[str, Touch]] = {}
    async with records_peer(state) as records:
        for subject in subjects:
            found[subject] = await _access_log_touches(records, authorization, subject, start, end)
    breach = await get_open(session, principal, breach_id)
    for subject in subjects:
        await _disclosure_log_touches(session, subject, start, end, found[subject])
    await session.execute(delete(BreachExposure).where(BreachExposure.breach_id == breach.id))
    session.add_all([BreachExposure(breach_id=breach.id, subject=subject, state_student_id=sid,
                                    fields=sorted(t.fields), actions=sorted(t.actions), sources=sorted(t.sources),
                                    first_at=t.first_at, last_at=t.last_at)
                     for subject, touches in found.items() for sid, t in touches.items()])
    breach.exposure_computed_at = utcnow()
    await session.flush()
    students = {sid for touches in found.values() for sid in touches}
    await _event(session, breach, principal, "exposure_computed",
                 {"students": len(students), "entries_by_subject": {s: len(t) for s, t in found.items()}})
    audit.info("breach exposure computed", extra={"breach_id": breach.id, "students": len(students),
                                                  "actor": principal.subject})
    return breach


async def exposure_of(session: AsyncSession, breach: Breach) -> dict[str, Any]:
    rows = (await session.scalars(select(BreachExposure).where(BreachExposure.breach_id == breach.id)
                                  .order_by(BreachExposure.subject, BreachExposure.state_student_id))).all()
    by_subject: dict[str, list[BreachExposure]] = {s: [] for s in breach.suspected_subjects}
    for row in rows:
        by_subject.setdefault(row.subject, []).append(row)
    return {"breach_id": breach.id, "computed_at": breach.exposure_computed_at, "window_start": breach.window_start,
            "window_end": breach.window_end, "affected_students": sorted({r.state_student_id for r in rows}),
            "subjects": [{"subject": s, "student_count": len(items), "students": items}
                         for s, items in by_subject.items()]}


# --- suspension ------------------------------------------------------------------------------------


def _identity_path(subject: str) -> str:
    kind, _, ident = subject.partition(":")
    if kind == "user":
        return f"/identity/v1/users/{quote(ident, safe='')}/disable"
    return f"/identity/v1/clients/{quote(ident, safe='')}/revoke"


async def suspend(session: AsyncSession, state: ServiceState, principal: Principal, authorization: str,
                  breach_id: str, body: SuspensionIn) -> tuple[Breach, list[dict[str, str]]]:
    """Disable the suspected people and revoke the suspected clients at identity, with the
    caller's token (identity decides who may). Each subject's outcome is recorded."""
    breach = await get_open(session, principal, breach_id)
    subjects = list(breach.suspected_subjects)
    if body.subjects is not None:
        outside = [i for i, s in enumerate(body.subjects) if s not in subjects]
        if outside:
            raise invalid([problem(f"subjects[{i}]", "Is not a suspected subject of this breach.", "not-suspected")
                           for i in outside])
        subjects = sorted(set(body.subjects))
    await session.commit()  # identity writes in its own transaction (SQLite: one writer at a time)
    outcomes = []
    for subject in subjects:
        try:
            response = await state.identity.post(_identity_path(subject), headers={"Authorization": authorization})
        except httpx.HTTPError:
            outcomes.append({"subject": subject, "outcome": "failed"})
            continue
        if response.status_code == 403:
            raise Forbidden("Identity does not let this caller disable accounts or revoke clients.")
        outcome = {200: "suspended", 404: "not_found"}.get(response.status_code, "failed")
        outcomes.append({"subject": subject, "outcome": outcome})
    breach = await get_open(session, principal, breach_id)
    if any(o["outcome"] == "suspended" for o in outcomes):
        breach.suspended_at = breach.suspended_at or utcnow()
    counts: dict[str, int] = {}
    for o in outcomes:
        counts[o["outcome"]] = counts.get(o["outcome"], 0) + 1
    await _event(session, breach, principal, "suspended", counts)
    audit.info("breach subjects suspended", extra={"breach_id": breach.id, "actor": principal.subject, **counts})
    return breach, outcomes


# --- notification and closing ------------------------------------------------------------------------


async def record_notification(session: AsyncSession, principal: Principal, breach_id: str,
                              body: NotificationIn) -> BreachNotification:
    breach = await get_open(session, principal, breach_id)
    if breach.exposure_computed_at is None:
        raise Conflict("Compute the exposure first: notifications are tracked against its students.",
                       rule="exposure-first")
    problems = []
    if body.state_student_id not in await affected_students(session, breach.id):
        problems.append(problem("state_student_id", "Is not a student affected by this breach.", "not-affected"))
    if body.notified_on > today():
        problems.append(problem("notified_on", "Must not be in the future."))
    elif body.notified_on < breach.discovered_at.date():
        problems.append(problem("notified_on", "Must not be before the breach was discovered."))
    if problems:
        raise invalid(problems)
    notification = BreachNotification(breach_id=breach.id, state_student_id=body.state_student_id,
                                      recipient=body.recipient, recipient_name=body.recipient_name, method=body.method,
                                      notified_on=body.notified_on, recorded_by=principal.subject)
    session.add(notification)
    await session.flush()
    await _event(session, breach, principal, "notified", {"method": body.method, "recipient": body.recipient})
    audit.info("breach notification recorded", extra={"breach_id": breach.id, "actor": principal.subject})
    return notification


async def close(session: AsyncSession, principal: Principal, breach_id: str, body: FindingsIn) -> Breach:
    """Record the findings and consequences and close. A confirmed breach needs its exposure
    computed and every affected student's family notified first."""
    breach = await get_open(session, principal, breach_id)
    if body.breach_confirmed:
        if breach.exposure_computed_at is None:
            raise Conflict("Compute the exposure before closing a confirmed breach.", rule="exposure-first")
        waiting = await students_to_notify(session, breach.id)
        if waiting:
            raise Conflict(f"{len(waiting)} affected students' families have not been notified yet.",
                           rule="notifications-outstanding", students_to_notify=len(waiting))
    breach.breach_confirmed = body.breach_confirmed
    breach.findings, breach.consequences = body.findings, body.consequences
    breach.status, breach.closed_at, breach.closed_by = "closed", utcnow(), principal.subject
    await session.flush()
    await _event(session, breach, principal, "closed", {"breach_confirmed": body.breach_confirmed})
    audit.info("breach closed", extra={"breach_id": breach.id, "confirmed": body.breach_confirmed,
                                       "actor": principal.subject})
    return breach
