"""The rights a parent or eligible student exercises over a student record, and the removal of
record elements that expungement and the retention schedule share.

Amendment (FERPA 34 CFR 99.20-99.22, Subpart C): a parent or eligible student asks that fields
they believe inaccurate, misleading or in violation of the student's privacy be amended; the
state (a state data administrator) or the student's current district (its superintendent)
decides within a reasonable time. An amendment decided "amend" is carried out by the district
submitting the corrected record through the normal submission API (the record keeps its
history). A denial tells the requester of the right to a hearing; a hearing conducted by someone
without a direct interest in the outcome (not who denied the request) upholds or amends; after a
refusal the requester may place a statement of disagreement in the record, kept with the contested
part of the record as long as that part is kept and disclosed whenever it is disclosed
(`statements_for`).

Expungement (Utah 53A-1-1407, seed 002 section 7): a student at least 23 years old may ask that
the expungeable sections (medical and behavioural: special education, section 504, discipline;
never grades, transcripts, enrollment or assessments) be expunged; a state data administrator
decides. Expunged elements and every version of them are deleted, not flagged; the access log
keeps that it happened, with the sections and the number of rows, never the data.

Every action is written to the records access log with ids, roles and field or section names;
the requester's explanation, the statement's text and the deciders' reasons are stored in their
tables and never logged.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, date, datetime
from typing import Any

from sqlalchemy import delete, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from services.records.models import (
    RecordItem,
    RecordItemVersion,
    RecordsAccessLogEntry,
    RecordSubject,
)
from services.records.repository import RecordsRepository
from services.records.rights_models import (
    AmendmentRequest,
    ExpungementRequest,
    StatementOfDisagreement,
)
from services.records.sections import expungeable, section_of
from shared.audit import append_many
from shared.db import utcnow
from shared.errors import Conflict, Forbidden, NotFound, UnprocessableContent
from shared.policy.access import visible_fields
from shared.policy.principal import Principal, StudentFacts
from shared.request_context import current_request_id

REDACTED = "[removed with the expunged part of the record]"

FAMILY_ROLES = frozenset({"parent", "eligible_student"})  # who holds FERPA rights over a record
STATE_DECIDERS = frozenset({"state_data_admin"})
DISTRICT_DECIDERS = frozenset({"superintendent"})  # of a district the student is enrolled in now
DISTRICT_VIEWERS = frozenset({"superintendent", "district_sis"})
PLAN_SECTIONS = frozenset({"programs", "special_education", "section_504"})
EXPUNGEMENT_AGE = 23  # Utah 53A-1-1407: "upon request of the student if the student is at least 23"

HEARING_RIGHTS = (
    "The request to amend the record was denied. Under FERPA (34 CFR 99.21 and 99.22) you have the "
    "right to a hearing to challenge the content of the record: ask for one with "
    "POST /records/v1/amendment-requests/{id}/hearing-request. The hearing is held within a reasonable "
    "time after the request, you are told its date, time and place in advance, it is conducted by an "
    "official who has no direct interest in its outcome, you may present relevant evidence and be "
    "assisted or represented by anyone you choose (at your own expense), and its decision is written, "
    "based only on the evidence presented, with a summary of that evidence and the reasons. If the "
    "hearing decides not to amend, you may place a statement in the record commenting on the contested "
    "information or saying why you disagree (POST /records/v1/amendment-requests/{id}/"
    "statement-of-disagreement); you may also file one now instead of asking for a hearing. The "
    "statement is kept with the contested part of the record as long as that part is kept and is "
    "disclosed whenever that part is disclosed."
)
STATEMENT_RIGHTS = (
    "The hearing decided not to amend the record. You may place a statement in the record commenting "
    "on the contested information or saying why you disagree (POST /records/v1/amendment-requests/{id}/"
    "statement-of-disagreement). It is kept with the contested part of the record as long as that part "
    "is kept and is disclosed whenever that part is disclosed (34 CFR 99.21(b)(2) and (c))."
)


def _today() -> date:
    return datetime.now(UTC).date()


def _problem(field: str, message: str, code: str = "invalid") -> dict[str, str]:
    return {"field": field, "code": code, "message": message}


def _invalid(*problems: dict[str, str]) -> UnprocessableContent:
    return UnprocessableContent("See 'errors' for every field that needs attention.", errors=list(problems))


async def _log(session: AsyncSession, principal_subject: str, entries: list[dict[str, Any]],
               request_id: str | None = None) -> None:
    await append_many(session, RecordsAccessLogEntry, entries, actor=principal_subject,
                      request_id=request_id or current_request_id())


def _entry(action: str, state_id: str, payload: dict[str, Any]) -> dict[str, Any]:
    return {"action": action, "index_columns": {"state_id": state_id},
            "payload": {"entity": "student", "state_id": state_id, **payload}}


class _Student:
    """What the caller has to do with one student: whether the record exists, its facts today and
    the fields the caller may see of it (empty: out of reach)."""

    def __init__(self, state_id: str, exists: bool, facts: StudentFacts, fields: frozenset[str]) -> None:
        self.state_id, self.exists, self.facts, self.fields = state_id, exists, facts, fields

    @property
    def reached(self) -> bool:
        return self.exists and bool(self.fields)


async def _student(session: AsyncSession, principal: Principal, state_id: str) -> _Student:
    repo = RecordsRepository(session)
    today = _today()
    exists = await repo.subject("student", state_id) is not None
    facts = (await repo.facts_for([state_id], today))[state_id]
    return _Student(state_id, exists, facts, visible_fields(principal, facts, today=today) if exists else frozenset())


def _is_family(principal: Principal, state_id: str) -> bool:
    return principal.role in FAMILY_ROLES and state_id in principal.student_ids


def _in_current_district(principal: Principal, student: _Student) -> bool:
    return not principal.district_ids.isdisjoint(student.facts.district_ids)


def _may_view_requests(principal: Principal, student: _Student) -> bool:
    """Who sees a student's amendment requests: the family (their own requests), state data
    administrators, and the superintendent or SIS of a district the student is enrolled in now."""
    if principal.role in STATE_DECIDERS or _is_family(principal, student.state_id):
        return True
    return principal.role in DISTRICT_VIEWERS and _in_current_district(principal, student)


def _refuse(student: _Student, message: str) -> Exception:
    """A caller who does not reach the student learns nothing (404, as for a missing record)."""
    if not student.reached:
        return NotFound("No such student record.")
    return Forbidden(message)


# --- amendment --------------------------------------------------------------------------------


async def file_amendment_request(session: AsyncSession, principal: Principal, state_id: str,
                                 fields: list[str], explanation: str) -> AmendmentRequest:
    """A parent or eligible student asks that fields of their (child's) record be amended
    (99.20(a)). The fields must be dictionary fields the requester may see in the record."""
    student = await _student(session, principal, state_id)
    if not _is_family(principal, state_id) or not student.reached:
        raise _refuse(student, "Amendment is requested by a parent or eligible student.")
    problems = []
    seen: dict[str, int] = {}
    for i, name in enumerate(fields):
        if name in seen:
            problems.append(_problem(f"fields[{i}]", f"Repeats fields[{seen[name]}].", "duplicate"))
        elif name not in student.fields:
            problems.append(_problem(f"fields[{i}]", "Is not a field of this student's record that you may see "
                                     "(see GET /records/v1/data-dictionary).", "unknown-field"))
        seen.setdefault(name, i)
    if problems:
        raise _invalid(*problems)
    request = AmendmentRequest(state_student_id=state_id, requested_by=principal.subject,
                               requester_role=principal.role, fields=list(fields), explanation=explanation,
                               status="requested")
    session.add(request)
    await session.flush()
    await _log(session, principal.subject, [_entry("amendment_request", state_id, {
        "role": principal.role, "amendment_request_id": request.id, "fields": sorted(fields)})])
    return request


async def list_amendment_requests(session: AsyncSession, principal: Principal,
                                  state_id: str) -> list[tuple[AmendmentRequest, StatementOfDisagreement | None]]:
    """A student's amendment requests, oldest first, each with its statement of disagreement. A
    parent or eligible student sees the requests they filed themselves (another parent's words are
    theirs)."""
    student = await _student(session, principal, state_id)
    if not student.exists or not _may_view_requests(principal, student):
        raise _refuse(student, "This role does not see amendment requests.")
    query = select(AmendmentRequest).where(AmendmentRequest.state_student_id == state_id)
    if principal.role in FAMILY_ROLES:
        query = query.where(AmendmentRequest.requested_by == principal.subject)
    requests = list(await session.scalars(query.order_by(AmendmentRequest.created_at, AmendmentRequest.id)))
    statements = {s.amendment_request_id: s for s in await session.scalars(
        select(StatementOfDisagreement).where(StatementOfDisagreement.state_student_id == state_id))}
    await _log(session, principal.subject, [_entry("read_amendment_requests", state_id, {
        "role": principal.role, "amendment_request_ids": [r.id for r in requests],
        "statement_ids": [statements[r.id].id for r in requests if r.id in statements]})])
    return [(r, statements.get(r.id)) for r in requests]


async def _amendment_for(session: AsyncSession, principal: Principal,
                         request_id: str) -> tuple[AmendmentRequest, _Student]:
    # The records log lock first, then the request's row: the order every record write and
    # expungement takes, so a hearing that withdraws a statement never deadlocks with an expunge.
    await RecordsRepository(session).lock_for_writes()
    request = await session.get(AmendmentRequest, request_id, with_for_update=True)
    if request is None:
        raise NotFound("No such amendment request.")
    student = await _student(session, principal, request.state_student_id)
    mine = request.requested_by == principal.subject
    if not (mine or (principal.role not in FAMILY_ROLES and _may_view_requests(principal, student))):
        raise NotFound("No such amendment request.")
    return request, student


def _expect_status(request: AmendmentRequest, *allowed: str) -> None:
    if request.status not in allowed:
        raise Conflict(f"The request is {request.status}; this step needs it to be {' or '.join(allowed)}.",
                       current_status=request.status)


async def decide_amendment(session: AsyncSession, principal: Principal, request_id: str, decision: str,
                           reason: str | None) -> AmendmentRequest:
    """The first decision (99.21(a)). "amend": the request is marked amended and the student's
    district then submits the corrected record through the normal submission API
    (POST /records/v1/students), which versions it like any correction. "deny": a reason is
    required and the requester is told of the right to a hearing."""
    request, student = await _amendment_for(session, principal, request_id)
    decider = principal.role in STATE_DECIDERS or (
        principal.role in DISTRICT_DECIDERS and _in_current_district(principal, student))
    if not decider:
        raise Forbidden("Amendment requests are decided by a state data administrator or the superintendent "
                        "of the student's district.")
    if decision == "deny" and not reason:
        raise _invalid(_problem("reason", "Is required to deny a request.", "required"))
    _expect_status(request, "requested")
    request.status = "amended" if decision == "amend" else "denied"
    request.decision_reason, request.decided_by, request.decided_at = reason, principal.subject, utcnow()
    await session.flush()
    await _log(session, principal.subject, [_entry("amendment_decision", request.state_student_id, {
        "role": principal.role, "amendment_request_id": request.id, "decision": decision,
        "status": request.status, "fields": sorted(request.fields)})])
    return request


async def request_hearing(session: AsyncSession, principal: Principal, request_id: str) -> AmendmentRequest:
    """The requester asks for a hearing after a denial (99.21(a)(2), 99.22)."""
    request, _ = await _amendment_for(session, principal, request_id)
    if request.requested_by != principal.subject:
        raise Forbidden("A hearing is requested by the person who asked for the amendment.")
    _expect_status(request, "denied")
    request.status, request.hearing_requested_at = "hearing_requested", utcnow()
    await session.flush()
    await _log(session, principal.subject, [_entry("amendment_hearing_request", request.state_student_id, {
        "role": principal.role, "amendment_request_id": request.id})])
    return request


async def record_hearing_outcome(session: AsyncSession, principal: Principal, request_id: str, outcome: str,
                                 reason: str) -> AmendmentRequest:
    """The hearing's written decision (99.22(f)), recorded by a state data administrator who did not
    make the first decision (99.22(c): no direct interest in the outcome). "amend": the district
    submits the corrected record, and a statement filed after the denial is withdrawn (there is no
    longer a refusal to disagree with). "uphold": the requester may file a statement."""
    request, _ = await _amendment_for(session, principal, request_id)
    if principal.role not in STATE_DECIDERS:
        raise Forbidden("The hearing outcome is recorded by a state data administrator.")
    _expect_status(request, "hearing_requested")
    if request.decided_by == principal.subject:
        raise Forbidden("The hearing is conducted by someone other than who denied the request.")
    request.status = "amended_after_hearing" if outcome == "amend" else "upheld_after_hearing"
    request.hearing_reason, request.hearing_decided_by, request.hearing_decided_at = reason, principal.subject, utcnow()
    withdrawn = None
    if outcome == "amend":
        statement = await session.scalar(select(StatementOfDisagreement).where(
            StatementOfDisagreement.amendment_request_id == request.id))
        if statement is not None:
            withdrawn = statement.id
            await session.delete(statement)
    await session.flush()
    await _log(session, principal.subject, [_entry("amendment_hearing_outcome", request.state_student_id, {
        "role": principal.role, "amendment_request_id": request.id, "outcome": outcome,
        "status": request.status, "statement_withdrawn": withdrawn})])
    return request


async def file_statement(session: AsyncSession, principal: Principal, request_id: str,
                         text: str) -> StatementOfDisagreement:
    """The requester places a statement of disagreement in the record (99.21(b)(2)): after the
    hearing upheld the record, or after the denial when no hearing is wanted. One per request."""
    request, _ = await _amendment_for(session, principal, request_id)
    if request.requested_by != principal.subject:
        raise Forbidden("The statement is filed by the person who asked for the amendment.")
    _expect_status(request, "denied", "upheld_after_hearing")
    if await session.scalar(select(StatementOfDisagreement.id).where(
            StatementOfDisagreement.amendment_request_id == request.id)) is not None:
        raise Conflict("A statement of disagreement is already in the record for this request.")
    statement = StatementOfDisagreement(amendment_request_id=request.id, state_student_id=request.state_student_id,
                                        fields=list(request.fields), text=text, filed_by=principal.subject,
                                        filed_at=utcnow())
    session.add(statement)
    await session.flush()
    await _log(session, principal.subject, [_entry("statement_of_disagreement", request.state_student_id, {
        "role": principal.role, "amendment_request_id": request.id, "statement_id": statement.id,
        "fields": sorted(request.fields)})])
    return statement


async def statements_for(session: AsyncSession, state_student_id: str,
                         visible_fields: frozenset[str]) -> list[dict[str, Any]]:
    """The statements of disagreement to disclose with a student's record: those whose contested
    fields include a field the caller receives (99.21(c): disclosed whenever the contested part of
    the record is disclosed). Each names only the contested fields the caller may see. Pass the
    fields that actually go out (or the caller's visible fields); the caller's read log entry
    should name the statement ids disclosed."""
    if not visible_fields:
        return []
    rows = await session.scalars(select(StatementOfDisagreement)
                                 .where(StatementOfDisagreement.state_student_id == state_student_id)
                                 .order_by(StatementOfDisagreement.filed_at, StatementOfDisagreement.id))
    out = []
    for statement in rows:
        shown = sorted(set(statement.fields) & visible_fields)
        if shown:
            out.append({"id": statement.id, "amendment_request_id": statement.amendment_request_id,
                        "fields": shown, "text": statement.text, "filed_at": statement.filed_at.isoformat()})
    return out


# --- removing record elements (expungement and retention) -----------------------------------------


async def remove_elements(session: AsyncSession, subject: RecordSubject, sections: Iterable[str], *,
                          keys_before: str | None = None) -> tuple[int, int]:
    """Delete a student's current elements of `sections` and every version of them (with
    `keys_before`, only those whose natural key sorts before it: a list section keyed by its date
    first, as discipline is). Then refresh what is derived from them, bump the record's version and
    drop the statements of disagreement whose contested part is gone. The caller holds the records
    log lock and the subject's row (`RecordsRepository.lock_for_writes`, `subjects_for_update`).
    Returns (elements, versions) removed."""
    names = sorted(set(sections))
    if not names:
        return 0, 0
    state_id = subject.state_id

    def where(model: type[RecordItem | RecordItemVersion]) -> list[Any]:
        conditions = [model.entity == "student", model.state_id == state_id, model.section.in_(names)]
        if keys_before is not None:  # (the "*" of an earlier expunge marker is no element's key)
            conditions += [func.substr(model.item_key, 1, len(keys_before)) < keys_before, model.item_key != "*"]
        return conditions

    versions = (await session.execute(delete(RecordItemVersion).where(*where(RecordItemVersion))
                                      .execution_options(synchronize_session=False))).rowcount or 0
    items = (await session.execute(delete(RecordItem).where(*where(RecordItem))
                                   .execution_options(synchronize_session=False))).rowcount or 0
    if items or versions:
        # The change feed must tell syncing systems to drop their copy: one marker version per
        # section, with no data and no natural key (a key such as a discipline incident's type
        # would itself say what was removed).
        now = utcnow()
        await RecordsRepository(session).hold_change_floor()  # before the markers take change versions
        session.add_all([RecordItemVersion(
            item_id=f"expunged:{name}", entity="student", state_id=state_id, section=name, item_key="*",
            version=0, operation="expunge", data=None, district_id=None, recorded_at=now,
            recorded_by="slds:retention", submission_id=None) for name in names])
        # A request's explanation may repeat what was removed; the request stays, its words go.
        for request in await session.scalars(select(AmendmentRequest).where(
                AmendmentRequest.state_student_id == state_id)):
            if any(section_of("student", f) in names for f in request.fields):
                request.explanation = REDACTED
        if PLAN_SECTIONS.intersection(names):
            repo = RecordsRepository(session)
            remaining = (await repo.items("student", [state_id])).get(state_id, [])
            await repo.refresh_plans(state_id, remaining)
        subject.version += 1
        await session.flush()
    return items, versions


async def prune_statements(session: AsyncSession, state_id: str) -> list[str]:
    """Delete the statements of disagreement none of whose contested sections is still in the
    record (a statement is kept as long as the contested part is kept, 99.21(c)(1)). Returns
    their ids."""
    statements = list(await session.scalars(select(StatementOfDisagreement)
                                            .where(StatementOfDisagreement.state_student_id == state_id)))
    if not statements:
        return []
    present = set(await session.scalars(select(RecordItem.section).distinct().where(
        RecordItem.entity == "student", RecordItem.state_id == state_id)))
    gone = [s for s in statements if not any(section_of("student", f) in present for f in s.fields)]
    for statement in gone:
        await session.delete(statement)
    await session.flush()
    return [s.id for s in gone]


# --- expungement --------------------------------------------------------------------------------


def _age(birth: date, today: date) -> int:
    return today.year - birth.year - ((today.month, today.day) < (birth.month, birth.day))


async def file_expungement_request(session: AsyncSession, principal: Principal, state_id: str,
                                   sections: list[str]) -> ExpungementRequest:
    """An eligible student of at least 23 asks that expungeable sections of their own record be
    expunged (Utah 53A-1-1407)."""
    student = await _student(session, principal, state_id)
    if principal.role != "eligible_student" or state_id not in principal.student_ids or not student.reached:
        raise _refuse(student, "Expungement is requested by the student (an eligible student) for their own record.")
    allowed = expungeable("student")
    problems = []
    seen: dict[str, int] = {}
    for i, name in enumerate(sections):
        if name in seen:
            problems.append(_problem(f"sections[{i}]", f"Repeats sections[{seen[name]}].", "duplicate"))
        elif name not in allowed:
            problems.append(_problem(f"sections[{i}]", "May not be expunged: only " + ", ".join(sorted(allowed))
                                     + " (grades, transcripts, enrollment and assessments are kept).",
                                     "not-expungeable"))
        seen.setdefault(name, i)
    demographics = await session.scalar(select(RecordItem).where(
        RecordItem.entity == "student", RecordItem.state_id == state_id, RecordItem.section == "demographics"))
    birth = (demographics.data or {}).get("birth_date") if demographics is not None else None
    if not birth:
        problems.append(_problem("demographics.birth_date", "Is not in the record, so the student's age cannot "
                                 "be established.", "age-unknown"))
    elif _age(date.fromisoformat(birth), _today()) < EXPUNGEMENT_AGE:
        problems.append(_problem("demographics.birth_date", f"The student must be at least {EXPUNGEMENT_AGE} "
                                 "years old to request expungement.", "too-young"))
    if problems:
        raise _invalid(*problems)
    request = ExpungementRequest(state_student_id=state_id, requested_by=principal.subject,
                                 sections=list(sections), status="requested")
    session.add(request)
    await session.flush()
    await _log(session, principal.subject, [_entry("expungement_request", state_id, {
        "role": principal.role, "expungement_request_id": request.id, "sections": sorted(sections)})])
    return request


async def list_expungement_requests(session: AsyncSession, principal: Principal,
                                    state_id: str) -> list[ExpungementRequest]:
    """A student's expungement requests: for the student and state data administrators."""
    student = await _student(session, principal, state_id)
    own = principal.role == "eligible_student" and state_id in principal.student_ids
    if not student.exists or not (own or principal.role in STATE_DECIDERS):
        raise _refuse(student, "This role does not see expungement requests.")
    query = select(ExpungementRequest).where(ExpungementRequest.state_student_id == state_id)
    requests = list(await session.scalars(query.order_by(ExpungementRequest.created_at, ExpungementRequest.id)))
    await _log(session, principal.subject, [_entry("read_expungement_requests", state_id, {
        "role": principal.role, "expungement_request_ids": [r.id for r in requests]})])
    return requests


async def decide_expungement(session: AsyncSession, principal: Principal, request_id: str, decision: str,
                             reason: str | None) -> tuple[ExpungementRequest, dict[str, int]]:
    """A state data administrator decides. "expunge" deletes the sections' elements and all their
    versions (gone, not flagged), refreshes the derived plans, bumps the record's version and logs
    the sections and row counts; "deny" needs a reason."""
    request = await session.get(ExpungementRequest, request_id)
    if request is None or (principal.role not in STATE_DECIDERS and request.requested_by != principal.subject):
        raise NotFound("No such expungement request.")
    if principal.role not in STATE_DECIDERS:
        raise Forbidden("Expungement requests are decided by a state data administrator.")
    if decision == "deny" and not reason:
        raise _invalid(_problem("reason", "Is required to deny a request.", "required"))
    repo = RecordsRepository(session)
    await repo.lock_for_writes()  # before the request row: the same order as every record write
    await session.refresh(request, with_for_update=True)
    if request.status != "requested":
        raise Conflict(f"The request is {request.status}; only a pending request is decided.", current_status=request.status)
    counts = {"elements_removed": 0, "versions_removed": 0}
    payload: dict[str, Any] = {"role": principal.role, "expungement_request_id": request.id,
                               "sections": sorted(request.sections)}
    if decision == "expunge":
        if await repo.subject("student", request.state_student_id) is None:
            raise NotFound("No such student record.")
        subject = (await repo.subjects_for_update("student", [request.state_student_id]))[request.state_student_id]
        items, versions = await remove_elements(session, subject, request.sections)
        withdrawn = await prune_statements(session, request.state_student_id)
        counts = {"elements_removed": items, "versions_removed": versions}
        payload |= {**counts, "statements_removed": withdrawn, "record_version": subject.version}
    request.status = "expunged" if decision == "expunge" else "denied"
    request.decision_reason, request.decided_by, request.decided_at = reason, principal.subject, utcnow()
    await session.flush()
    await _log(session, principal.subject, [_entry("expunge" if decision == "expunge" else "expungement_denied",
                                                   request.state_student_id, payload)])
    return request, counts
