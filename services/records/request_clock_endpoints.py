"""Parents' and eligible students' requests with their statutory clocks, over HTTP (rules in
`people_requests.py`): inspection requests (FERPA 99.10, 45 days) and the overdue list of
amendment requests (99.20, a reasonable time).

A student who is not the caller's own answers 404, as a record that does not exist. Responses are
`no-store`: they carry the family's words and the staff's notes.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated, Literal

from fastapi import APIRouter, Path, Query, Response
from pydantic import Field

from services.records import people_requests as rules
from services.records.request_clock_models import InspectionRequest
from services.records.rights_endpoints import AmendmentOut, amendment_out
from shared.deps import CurrentPrincipal, DbSession, State
from shared.schemas import IsoDate, RequestModel, ResponseModel

people_requests = APIRouter(prefix="/records/v1", tags=["people's requests"])

NO_STORE = {"Cache-Control": "no-store"}
StudentId = Annotated[str, Path(max_length=16)]
RequestId = Annotated[str, Path(max_length=36)]
AsOf = Annotated[IsoDate | None, Query(description="Judge the clocks on this day (default today, UTC)")]
Limit = Annotated[int, Query(ge=1, le=200)]
Offset = Annotated[int, Query(ge=0, le=100_000)]


class InspectionIn(RequestModel):
    records_requested: Annotated[str | None, Field(
        max_length=2000, description="What the requester wants to see (all of the record when absent); not logged")] = None


class InspectionAnswerIn(RequestModel):
    available_on: Annotated[IsoDate, Field(description="The day the records were (or will be) made available")]
    copies_provided: bool = False
    note: Annotated[str | None, Field(max_length=4000, description="Stored with the request, never logged")] = None


class InspectionOut(ResponseModel):
    id: str
    state_student_id: str
    requester_role: str
    records_requested: str | None = None
    received_on: date
    due_on: date
    state: Literal["open", "overdue", "answered"]
    days_overdue: int = Field(description="Days past the due date (0 unless overdue)")
    answered_on: date | None = None
    answerer_role: str | None = None
    available_on: date | None = None
    copies_provided: bool | None = None
    answered_on_time: bool | None = Field(None, description="Records available by the due date")
    note: str | None = None
    created_at: datetime


class InspectionList(ResponseModel):
    as_of: date
    items: list[InspectionOut]
    next_offset: int | None = None


class AmendmentClockList(ResponseModel):
    as_of: date
    items: list[AmendmentOut]
    next_offset: int | None = None


def _out(request: InspectionRequest, day: date) -> InspectionOut:
    clock = rules.inspection_clock(request, day)
    out = InspectionOut.model_validate({c.key: getattr(request, c.key) for c in InspectionRequest.__table__.columns}
                                       | {"state": clock.state, "days_overdue": clock.days_overdue})
    if request.available_on is not None:
        out.answered_on_time = request.available_on <= request.due_on
    return out


@people_requests.post("/students/{state_student_id}/inspection-requests", status_code=201,
                      response_model=InspectionOut,
                      summary="Ask to inspect and review your (child's) education records (parent or eligible student)",
                      responses={404: {"description": "Not a student of yours"}})
async def request_inspection(state_student_id: StudentId, body: InspectionIn, session: DbSession,
                             principal: CurrentPrincipal, state: State, response: Response) -> InspectionOut:
    """FERPA 34 CFR 99.10: the records are made available within 45 days of the request
    (`SLDS_RECORDS_INSPECTION_RESPONSE_DAYS`). The answer carries the due date."""
    request = await rules.file_inspection_request(session, principal, state_student_id, body.records_requested,
                                                  state.settings.records_inspection_response_days)
    response.headers.update(NO_STORE)
    response.headers["Location"] = f"/records/v1/inspection-requests/{request.id}"
    return _out(request, rules.today())


@people_requests.get("/inspection-requests", response_model=InspectionList,
                     summary="Inspection requests with their clocks (staff who owe them; the requester: their own)")
async def list_inspections(session: DbSession, principal: CurrentPrincipal, response: Response,
                           state: Literal["open", "overdue", "answered"] | None = None,
                           overdue: bool | None = None,
                           state_student_id: Annotated[str | None, Query(max_length=16)] = None,
                           as_of: AsOf = None, limit: Limit = 50, offset: Offset = 0) -> InspectionList:
    """A superintendent or registrar sees the requests owed by their district, a principal those
    owed by their school (where the student was enrolled when the request was received), a state
    data administrator all. `overdue=true` is the overdue list."""
    day = rules.check_as_of(as_of)
    rows = await rules.list_inspection_requests(session, principal, state=state, overdue=overdue,
                                                state_student_id=state_student_id, as_of=day, limit=limit,
                                                offset=offset)
    response.headers.update(NO_STORE)
    return InspectionList(as_of=day, items=[_out(r, day) for r in rows],
                          next_offset=offset + limit if len(rows) == limit else None)


@people_requests.get("/inspection-requests/{request_id}", response_model=InspectionOut,
                     summary="One inspection request with its clock")
async def get_inspection(request_id: RequestId, session: DbSession, principal: CurrentPrincipal,
                         response: Response, as_of: AsOf = None) -> InspectionOut:
    day = rules.check_as_of(as_of)
    request = await rules.get_inspection_request(session, principal, request_id)
    response.headers.update(NO_STORE)
    return _out(request, day)


@people_requests.post("/inspection-requests/{request_id}/answer", response_model=InspectionOut,
                      summary="Record the request answered (the student's superintendent, registrar or principal; "
                              "a state data admin)",
                      responses={409: {"description": "Already answered"}})
async def answer_inspection(request_id: RequestId, body: InspectionAnswerIn, session: DbSession,
                            principal: CurrentPrincipal, response: Response) -> InspectionOut:
    request = await rules.answer_inspection_request(session, principal, request_id, available_on=body.available_on,
                                                    copies_provided=body.copies_provided, note=body.note)
    response.headers.update(NO_STORE)
    return _out(request, rules.today())


@people_requests.get("/amendment-requests", response_model=AmendmentClockList,
                     summary="Amendment requests awaiting a decision or hearing, with their clocks "
                             "(state data admin; the student's superintendent or SIS; the requester: their own)")
async def open_amendments(session: DbSession, principal: CurrentPrincipal, state: State, response: Response,
                          overdue: bool | None = None, as_of: AsOf = None, limit: Limit = 50,
                          offset: Offset = 0) -> AmendmentClockList:
    """Due `SLDS_RECORDS_AMENDMENT_RESPONSE_DAYS` (30) days after the request, or after the hearing
    was asked for. `overdue=true` is the overdue list."""
    day = rules.check_as_of(as_of)
    days = state.settings.records_amendment_response_days
    rows = await rules.list_open_amendments(session, principal, overdue=overdue, as_of=day, response_days=days,
                                            limit=limit, offset=offset)
    response.headers.update(NO_STORE)
    return AmendmentClockList(as_of=day, items=[amendment_out(r, days=days, day=day) for r in rows],
                              next_offset=offset + limit if len(rows) == limit else None)
