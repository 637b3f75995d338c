"""Data requests by risk level (seed 002, Utah 5.3.2) and the release checklist (8.1.5, Appendix C).

- low: high-level aggregates. A steward fulfils and releases; no second review is required.
- medium: aggregates with low n-sizes. Disclosure avoidance is applied, and another data steward
  does the quality assurance (QA) before release.
- high: de-identified student-level data. Needs an active agreement (the MOA), plus the same
  second-steward QA.

    ticket -> assigned (to a steward) -> fulfilled (by the assignee) -> qa_approved (by a
    different steward) -> released (checklist complete, dataset reference, date stamp) -> closed
    fulfilled -> assigned   (QA returns it to the steward for changes)
    fulfilled -> released   (low risk only)
    ticket | assigned -> closed   (declined or withdrawn; a note says why)

A ticket is filed by a steward for a requester, or by a researcher, vendor or staff member as
themselves. Every step is written to `disclosure_data_request_event` (who, when, note). The
requester sees their own requests; stewards see all.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from services.disclosure import agreements as agreement_rules
from services.disclosure.bans import refuse_if_banned
from services.disclosure.common import (
    FAMILY_ROLES,
    SecondStewardRequired,
    TransitionNotAllowed,
    audit,
    invalid,
    is_steward,
    problem,
    require_steward,
    today,
)
from services.disclosure.models import Agreement, DataRequest, DataRequestEvent
from services.disclosure.schemas import DataRequestIn, ReleaseIn
from shared.errors import Forbidden, NotFound
from shared.policy.principal import Principal

NON_REQUESTER_ROLES = FAMILY_ROLES | {"public", "service"}  # families use consent; services log releases
QA_REQUIRED = frozenset({"medium", "high"})

FLOW: dict[str, frozenset[str]] = {
    "ticket": frozenset({"assigned", "closed"}),
    "assigned": frozenset({"assigned", "fulfilled", "closed"}),
    "fulfilled": frozenset({"qa_approved", "assigned", "released"}),
    "qa_approved": frozenset({"released"}),
    "released": frozenset({"closed"}),
    "closed": frozenset(),
}


def _allowed(request: DataRequest) -> list[str]:
    allowed = set(FLOW[request.status])
    if request.status == "fulfilled" and request.risk_level in QA_REQUIRED:
        allowed.discard("released")
    return sorted(allowed)


def _require_step(request: DataRequest, to: str) -> None:
    if to not in _allowed(request):
        raise TransitionNotAllowed("data request", request.status, to, _allowed(request),
                                   risk_level=request.risk_level)


async def _move(session: AsyncSession, principal: Principal, request: DataRequest, to: str,
                note: str | None) -> DataRequest:
    from_status, request.status = request.status, to
    session.add(DataRequestEvent(data_request_id=request.id, from_status=from_status, to_status=to,
                                 actor=principal.subject, actor_role=principal.role, note=note))
    await session.flush()
    audit.info("data request step", extra={"data_request_id": request.id, "from_status": from_status,
                                           "to_status": to, "risk_level": request.risk_level,
                                           "actor": principal.subject})
    return request


async def _active_agreement_problems(session: AsyncSession, agreement_id: str | None, day: date,
                                     requester_organisation: str, requester_subject: str | None) -> list[dict[str, str]]:
    if agreement_id is None:
        return [problem("agreement_id", "Is required for a high-risk request: an active agreement (MOA).", "missing")]
    agreement = await session.get(Agreement, agreement_id)
    if agreement is None:
        return [problem("agreement_id", "Is not a known agreement.", "unknown")]
    return agreement_rules.coverage_problems(
        agreement, await agreement_rules.subjects_of(session, agreement.id), day=day,
        party_organisation=requester_organisation, party_subject=requester_subject)


async def file_request(session: AsyncSession, principal: Principal, body: DataRequestIn) -> DataRequest:
    if principal.role in NON_REQUESTER_ROLES:
        raise Forbidden("This role does not file data requests.")
    if body.requester_subject is not None and not is_steward(principal):
        raise invalid([problem("requester_subject", "Only a data steward files a request for someone else.",
                               "not-allowed")])
    subject = body.requester_subject if is_steward(principal) else principal.subject
    day = today()
    problems = []
    if body.risk_level == "high":
        problems += [{**p, "field": "requester" if p["field"] == "party" else p["field"]}
                     for p in await _active_agreement_problems(session, body.agreement_id, day,
                                                               body.requester.organisation, subject)]
    elif body.agreement_id is not None and await session.get(Agreement, body.agreement_id) is None:
        problems.append(problem("agreement_id", "Is not a known agreement.", "unknown"))
    if problems:
        raise invalid(problems)
    await refuse_if_banned(session, day, what="data request", organisations=[body.requester.organisation],
                           subjects=[subject], field_prefix="requester.")
    request = DataRequest(requester_name=body.requester.name, requester_organisation=body.requester.organisation,
                          requester_subject=subject, description=body.description, purpose=body.purpose,
                          risk_level=body.risk_level, agreement_id=body.agreement_id, status="ticket",
                          created_by=principal.subject)
    session.add(request)
    await session.flush()
    session.add(DataRequestEvent(data_request_id=request.id, from_status=None, to_status="ticket",
                                 actor=principal.subject, actor_role=principal.role))
    await session.flush()
    audit.info("data request filed", extra={"data_request_id": request.id, "risk_level": request.risk_level,
                                            "actor": principal.subject})
    return request


async def get_visible(session: AsyncSession, principal: Principal, request_id: str, *,
                      for_update: bool = False) -> DataRequest:
    query = select(DataRequest).where(DataRequest.id == request_id)
    request = await session.scalar(query.with_for_update() if for_update else query)
    if request is None or not (is_steward(principal) or principal.subject in (request.requester_subject,
                                                                               request.created_by)):
        raise NotFound("No such data request.")
    return request


async def history(session: AsyncSession, request_id: str) -> Sequence[DataRequestEvent]:
    return (await session.scalars(select(DataRequestEvent).where(DataRequestEvent.data_request_id == request_id)
                                  .order_by(DataRequestEvent.id))).all()


async def list_requests(session: AsyncSession, principal: Principal, *, status: str | None,
                        assigned_to: str | None, limit: int, offset: int) -> Sequence[DataRequest]:
    query = select(DataRequest)
    if not is_steward(principal):
        query = query.where(DataRequest.requester_subject == principal.subject)
    if status is not None:
        query = query.where(DataRequest.status == status)
    if assigned_to is not None:
        query = query.where(DataRequest.assigned_to == assigned_to)
    query = query.order_by(DataRequest.created_at.desc(), DataRequest.id).offset(offset).limit(limit)
    return (await session.scalars(query)).all()


async def _for_step(session: AsyncSession, principal: Principal, request_id: str, to: str, what: str) -> DataRequest:
    request = await get_visible(session, principal, request_id, for_update=True)
    require_steward(principal, what)
    _require_step(request, to)
    return request


async def assign(session: AsyncSession, principal: Principal, request_id: str, assignee: str | None,
                 note: str | None) -> DataRequest:
    request = await _for_step(session, principal, request_id, "assigned", "assign a data request")
    target = assignee or principal.subject
    if not target.startswith("user:"):
        raise invalid([problem("assignee", "Must be a data steward's user account (`user:<id>`).")])
    request.assigned_to = target
    return await _move(session, principal, request, "assigned", note)


async def fulfil(session: AsyncSession, principal: Principal, request_id: str, dataset_reference: str,
                 note: str | None) -> DataRequest:
    request = await _for_step(session, principal, request_id, "fulfilled", "fulfil a data request")
    if principal.subject != request.assigned_to:
        raise Forbidden("Only the steward the request is assigned to fulfils it.", rule="fulfilled-by-assignee")
    request.fulfilled_by, request.fulfilled_dataset_reference = principal.subject, dataset_reference
    return await _move(session, principal, request, "fulfilled", note)


async def quality_assurance(session: AsyncSession, principal: Principal, request_id: str, decision: str,
                            note: str | None) -> DataRequest:
    to = "qa_approved" if decision == "approve" else "assigned"
    request = await _for_step(session, principal, request_id, to, "quality-assure a data request")
    if principal.subject == request.fulfilled_by:
        raise SecondStewardRequired("Quality assurance must be done by a data steward other than the one who "
                                    "fulfilled the request.", rule="second-steward-qa")
    if decision == "return" and not note:
        raise invalid([problem("note", "Say what must change before the request passes QA.", "missing")])
    request.qa_by = principal.subject
    return await _move(session, principal, request, to, note)


async def release(session: AsyncSession, principal: Principal, request_id: str, body: ReleaseIn) -> DataRequest:
    request = await _for_step(session, principal, request_id, "released", "release a data set")
    day = body.released_on or today()
    problems = [problem(f"checklist.{area}", "Must be completed before release.", "incomplete")
                for area in ("reliability", "validity", "presentation") if not getattr(body.checklist, area)]
    if day > today():
        problems.append(problem("released_on", "Must not be in the future."))
    if request.risk_level == "high":
        problems += [p for p in await _active_agreement_problems(session, request.agreement_id, day,
                                                                 request.requester_organisation,
                                                                 request.requester_subject)
                     if p["field"] != "party"]  # the agreement's parties were checked when filed
    if problems:
        raise invalid(problems, "The release checklist is not complete or the request is no longer covered.")
    await refuse_if_banned(session, day, what="release", organisations=[request.requester_organisation],
                           subjects=[request.requester_subject])
    request.checklist_reliability = body.checklist.reliability
    request.checklist_validity = body.checklist.validity
    request.checklist_presentation = body.checklist.presentation
    request.released_by, request.released_dataset_reference, request.released_on = (
        principal.subject, body.dataset_reference, day)
    return await _move(session, principal, request, "released", None)


async def close(session: AsyncSession, principal: Principal, request_id: str, note: str | None) -> DataRequest:
    request = await _for_step(session, principal, request_id, "closed", "close a data request")
    if request.status != "released" and not note:
        raise invalid([problem("note", "Say why a request that was not released is closed.", "missing")])
    return await _move(session, principal, request, "closed", note)
