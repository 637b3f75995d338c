"""The family's rights over a record, over HTTP: amendment requests with their decision, hearing
and statement of disagreement (FERPA 34 CFR 99.20-99.22), and expungement requests (Utah
53A-1-1407). The rules live in `amendments.py`; this module is the HTTP surface.

A student the caller does not reach answers 404, as a record that does not exist; one the caller
reaches but may not act on answers 403. Responses are `no-store` (they carry the family's words).
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated, Literal

from fastapi import APIRouter, Path, Response
from pydantic import Field

from services.records import amendments
from services.records.people_requests import amendment_clock
from services.records.rights_models import (
    AmendmentRequest,
    ExpungementRequest,
    StatementOfDisagreement,
)
from shared.deps import CurrentPrincipal, DbSession, State
from shared.schemas import RequestModel, ResponseModel

rights = APIRouter(prefix="/records/v1", tags=["rights"])

NO_STORE = {"Cache-Control": "no-store"}
StudentId = Annotated[str, Path(max_length=16)]
RequestId = Annotated[str, Path(max_length=36)]
Reason = Annotated[str | None, Field(max_length=4000, description="The decision's reasons (not logged)")]


# --- bodies -------------------------------------------------------------------------------------


class AmendmentIn(RequestModel):
    fields: Annotated[list[Annotated[str, Field(max_length=200)]], Field(
        min_length=1, max_length=20, description="Dictionary field names contested (e.g. `demographics.birth_date`)")]
    explanation: Annotated[str, Field(min_length=1, max_length=4000,
                                      description="Why the fields are inaccurate, misleading or violate privacy")]


class AmendmentDecisionIn(RequestModel):
    decision: Literal["amend", "deny"]
    reason: Reason = None


class HearingOutcomeIn(RequestModel):
    outcome: Literal["uphold", "amend"]
    reason: Annotated[str, Field(min_length=1, max_length=4000,
                                 description="Summary of the evidence and the reasons (34 CFR 99.22(f))")]


class StatementIn(RequestModel):
    text: Annotated[str, Field(min_length=1, max_length=4000)]


class ExpungementIn(RequestModel):
    sections: Annotated[list[Annotated[str, Field(max_length=40)]], Field(
        min_length=1, max_length=10, description="Sections to expunge: special_education, section_504, discipline")]


class ExpungementDecisionIn(RequestModel):
    decision: Literal["expunge", "deny"]
    reason: Reason = None


# --- answers ------------------------------------------------------------------------------------


class StatementOut(ResponseModel):
    id: str
    amendment_request_id: str
    state_student_id: str
    fields: list[str]
    text: str
    filed_at: datetime


class AmendmentOut(ResponseModel):
    id: str
    state_student_id: str
    requester_role: str
    fields: list[str]
    explanation: str
    status: str
    decision_reason: str | None = None
    decided_at: datetime | None = None
    hearing_requested_at: datetime | None = None
    hearing_reason: str | None = None
    hearing_decided_at: datetime | None = None
    created_at: datetime
    updated_at: datetime
    hearing_rights: str | None = Field(None, description="Set when the request was denied: the right to a hearing")
    statement_rights: str | None = Field(None, description="Set after a hearing upheld the record")
    statement: StatementOut | None = None
    due_on: date | None = Field(None, description="While awaiting a decision or a hearing: when it is due "
                                "(SLDS_RECORDS_AMENDMENT_RESPONSE_DAYS after the request or the hearing request)")
    overdue: bool = False
    days_overdue: int = 0


class AmendmentList(ResponseModel):
    items: list[AmendmentOut]


class ExpungementOut(ResponseModel):
    id: str
    state_student_id: str
    sections: list[str]
    status: str
    decision_reason: str | None = None
    decided_at: datetime | None = None
    created_at: datetime
    elements_removed: int | None = None
    versions_removed: int | None = None


class ExpungementList(ResponseModel):
    items: list[ExpungementOut]


def amendment_out(request: AmendmentRequest, statement: StatementOfDisagreement | None = None, *, days: int,
                  day: date | None = None) -> AmendmentOut:
    out = AmendmentOut.model_validate(request)
    clock = amendment_clock(request, days, day)
    out.due_on, out.overdue, out.days_overdue = clock.due_on, clock.state == "overdue", clock.days_overdue
    if request.status == "denied":
        out.hearing_rights = amendments.HEARING_RIGHTS.replace("{id}", request.id)
    if request.status == "upheld_after_hearing":
        out.statement_rights = amendments.STATEMENT_RIGHTS.replace("{id}", request.id)
    if statement is not None:
        out.statement = StatementOut.model_validate(statement)
    return out


# --- amendment ----------------------------------------------------------------------------------


@rights.post("/students/{state_student_id}/amendment-requests", status_code=201, response_model=AmendmentOut,
             summary="Ask that fields of your (child's) record be amended (parent or eligible student)",
             responses={404: {"description": "Not a student of yours"}, 422: {"description": "Unknown fields"}})
async def request_amendment(state_student_id: StudentId, body: AmendmentIn, session: DbSession,
                            principal: CurrentPrincipal, response: Response, state: State) -> AmendmentOut:
    request = await amendments.file_amendment_request(session, principal, state_student_id, body.fields,
                                                      body.explanation)
    response.headers.update(NO_STORE)
    response.headers["Location"] = f"/records/v1/students/{state_student_id}/amendment-requests"
    return amendment_out(request, days=state.settings.records_amendment_response_days)


@rights.get("/students/{state_student_id}/amendment-requests", response_model=AmendmentList,
            summary="A student's amendment requests (the requester; state data admins; the student's district)")
async def list_amendments(state_student_id: StudentId, session: DbSession, principal: CurrentPrincipal,
                          response: Response, state: State) -> AmendmentList:
    rows = await amendments.list_amendment_requests(session, principal, state_student_id)
    response.headers.update(NO_STORE)
    return AmendmentList(items=[amendment_out(r, s, days=state.settings.records_amendment_response_days)
                                for r, s in rows])


@rights.post("/amendment-requests/{request_id}/decision", response_model=AmendmentOut,
             summary="Amend or deny (state data admin, or the superintendent of the student's district)")
async def decide_amendment(request_id: RequestId, body: AmendmentDecisionIn, session: DbSession,
                           principal: CurrentPrincipal, response: Response, state: State) -> AmendmentOut:
    """`amend` marks the request amended: the student's district then submits the corrected record
    through the normal submission API (`POST /records/v1/students`), which keeps the old value in
    the record's history. `deny` needs a reason, and the answer carries `hearing_rights`: the
    requester's right to a hearing (34 CFR 99.21(a)(2))."""
    request = await amendments.decide_amendment(session, principal, request_id, body.decision, body.reason)
    response.headers.update(NO_STORE)
    return amendment_out(request, days=state.settings.records_amendment_response_days)


@rights.post("/amendment-requests/{request_id}/hearing-request", response_model=AmendmentOut,
             summary="Ask for a hearing after a denial (the requester)")
async def hearing_request(request_id: RequestId, session: DbSession, principal: CurrentPrincipal,
                          response: Response, state: State) -> AmendmentOut:
    request = await amendments.request_hearing(session, principal, request_id)
    response.headers.update(NO_STORE)
    return amendment_out(request, days=state.settings.records_amendment_response_days)


@rights.post("/amendment-requests/{request_id}/hearing-outcome", response_model=AmendmentOut,
             summary="Record the hearing's written decision (a state data admin other than the first decider)")
async def hearing_outcome(request_id: RequestId, body: HearingOutcomeIn, session: DbSession,
                          principal: CurrentPrincipal, response: Response, state: State) -> AmendmentOut:
    """`amend`: the district submits the corrected record as after a first-decision amend.
    `uphold`: the answer carries `statement_rights`."""
    request = await amendments.record_hearing_outcome(session, principal, request_id, body.outcome, body.reason)
    response.headers.update(NO_STORE)
    return amendment_out(request, days=state.settings.records_amendment_response_days)


@rights.post("/amendment-requests/{request_id}/statement-of-disagreement", status_code=201,
             response_model=StatementOut,
             summary="Place a statement of disagreement in the record (the requester, after a denial or an upheld hearing)")
async def statement_of_disagreement(request_id: RequestId, body: StatementIn, session: DbSession,
                                    principal: CurrentPrincipal, response: Response) -> StatementOfDisagreement:
    statement = await amendments.file_statement(session, principal, request_id, body.text)
    response.headers.update(NO_STORE)
    return statement


# --- expungement --------------------------------------------------------------------------------


@rights.post("/students/{state_student_id}/expungement-requests", status_code=201, response_model=ExpungementOut,
             summary="Ask that expungeable sections of your record be expunged (eligible student, 23 or older)",
             responses={422: {"description": "Under 23, or a section that may not be expunged"}})
async def request_expungement(state_student_id: StudentId, body: ExpungementIn, session: DbSession,
                              principal: CurrentPrincipal, response: Response) -> ExpungementRequest:
    request = await amendments.file_expungement_request(session, principal, state_student_id, body.sections)
    response.headers.update(NO_STORE)
    return request


@rights.get("/students/{state_student_id}/expungement-requests", response_model=ExpungementList,
            summary="A student's expungement requests (the student; state data admins)")
async def list_expungements(state_student_id: StudentId, session: DbSession, principal: CurrentPrincipal,
                            response: Response) -> ExpungementList:
    rows = await amendments.list_expungement_requests(session, principal, state_student_id)
    response.headers.update(NO_STORE)
    return ExpungementList(items=[ExpungementOut.model_validate(r) for r in rows])


@rights.post("/expungement-requests/{request_id}/decision", response_model=ExpungementOut,
             summary="Expunge (delete the sections' elements and all their versions) or deny (state data admin)")
async def decide_expungement(request_id: RequestId, body: ExpungementDecisionIn, session: DbSession,
                             principal: CurrentPrincipal, response: Response) -> ExpungementOut:
    request, counts = await amendments.decide_expungement(session, principal, request_id, body.decision, body.reason)
    response.headers.update(NO_STORE)
    out = ExpungementOut.model_validate(request)
    if request.status == "expunged":
        out.elements_removed, out.versions_removed = counts["elements_removed"], counts["versions_removed"]
    return out
