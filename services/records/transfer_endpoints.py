"""Record transfers between districts with business-day clocks (Missouri 167.020) over HTTP; the
rules, and what "transfer" means where records are already central, are in `transfers.py`.

A request the caller's districts are not party to answers 404, as one that does not exist; the
receiving district may read a request but not answer it (403). Responses are `no-store`: they say
which districts a student attended.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated, Literal

from fastapi import APIRouter, Path, Query, Response
from pydantic import Field

from services.records import transfers as rules
from services.records.releases import disclosure_link
from services.records.transfer_models import TransferRequest
from shared.calendar import BusinessCalendar, calendar_for
from shared.deps import CurrentPrincipal, DbSession, State
from shared.schemas import IsoDate, RequestModel, ResponseModel

transfers = APIRouter(prefix="/records/v1", tags=["record transfers"])

NO_STORE = {"Cache-Control": "no-store"}
# Identifiers are plain ASCII: a NUL byte or other control character is a 422, never a database error.
ID_PATTERN = r"^[A-Za-z0-9_-]+$"
NO_NUL = r"^[^\x00]*$"  # PostgreSQL text holds no NUL byte
RequestId = Annotated[str, Path(max_length=36, pattern=ID_PATTERN)]
DistrictId = Annotated[str, Field(min_length=1, max_length=16, pattern=ID_PATTERN)]
StudentId = Annotated[str, Field(min_length=1, max_length=16, pattern=ID_PATTERN, description="A state student ID")]


class TransferRequestIn(RequestModel):
    state_student_id: StudentId
    requesting_district_id: DistrictId | None = Field(
        None, description="The receiving district; needed only when the caller acts for several")
    previous_district_id: DistrictId | None = Field(
        None, description="The district asked for the records; defaults to the most recent other district of "
                          "the student's enrolment history")
    enrolled_on: IsoDate | None = Field(
        None, description="Defaults to the entry date of the student's current enrolment in the requesting district")

    model_config = RequestModel.model_config | {
        "json_schema_extra": {"examples": [{"state_student_id": "4820175936"},
                                           {"state_student_id": "4820175936", "previous_district_id": "1001",
                                            "enrolled_on": "2026-11-25"}]}}


class TransferAnswerIn(RequestModel):
    outcome: Literal["records_sent", "nothing_to_send"]
    sections: Annotated[list[Annotated[str, Field(max_length=40, pattern=ID_PATTERN)]], Field(
        default_factory=list, max_length=20,
        description="Record sections sent (`records_sent`), e.g. `enrollment`, `special_education`")]
    note: Annotated[str | None, Field(max_length=4000, pattern=NO_NUL,
                                      description="For the receiving district (never logged)")] = None
    refusal_reason: Annotated[str | None, Field(
        max_length=4000, pattern=NO_NUL,
        description="Why there is nothing to send (`nothing_to_send`; never logged)")] = None

    model_config = RequestModel.model_config | {
        "json_schema_extra": {"examples": [
            {"outcome": "records_sent", "sections": ["enrollment", "assessments", "special_education"],
             "note": "IEP documents sent by secure file transfer"},
            {"outcome": "nothing_to_send", "refusal_reason": "No record of the student at this district"}]}}


class TransferOut(ResponseModel):
    id: str
    state_student_id: str
    requesting_district_id: str
    previous_district_id: str
    enrolled_on: date
    requested_on: date
    request_due_on: date = Field(description="enrolled_on + 2 business days")
    request_late: bool
    request_business_days_late: int
    answer_due_on: date = Field(description="requested_on + 5 business days")
    status: Literal["requested", "answered"]
    state: Literal["requested", "answered", "overdue"] = Field(
        description="`overdue`: unanswered at least one business day past answer_due_on")
    business_days_overdue: int
    requester_role: str
    answered_on: date | None = None
    answered_late: bool | None = None
    answer_business_days_late: int | None = None
    answerer_role: str | None = None
    outcome: Literal["records_sent", "nothing_to_send"] | None = None
    sections_sent: list[str]
    note: str | None = None
    refusal_reason: str | None = None
    disclosure_seq: int | None = Field(None, description="The FERPA 99.32 disclosure-log entry of the release")
    created_at: datetime
    updated_at: datetime


class TransferList(ResponseModel):
    items: list[TransferOut]
    next_offset: int | None = None


def _out(request: TransferRequest, calendar: BusinessCalendar) -> TransferOut:
    c = rules.clock(request, calendar, rules.today())
    columns = {col.key: getattr(request, col.key) for col in TransferRequest.__table__.columns}
    return TransferOut.model_validate({
        **columns, "state": c.state, "business_days_overdue": c.business_days_overdue,
        "request_late": c.request_late, "request_business_days_late": c.request_business_days_late,
        "answered_late": c.answered_late, "answer_business_days_late": c.answer_business_days_late})



@transfers.post("/transfer-requests", status_code=201, response_model=TransferOut,
                summary="Request a transfer student's records from the previous district (the receiving district)",
                responses={403: {"description": "Not a district role"},
                           409: {"description": "Already requested for this enrolment"},
                           422: {"description": "Not enrolled in the requesting district, or no previous district"}})
async def request_records(body: TransferRequestIn, session: DbSession, principal: CurrentPrincipal, state: State,
                          response: Response) -> TransferOut:
    """Starts both 167.020 clocks: `request_due_on` (enrolment + 2 business days; `request_late`
    says whether this request came after it) and `answer_due_on` (today + 5 business days)."""
    calendar = calendar_for(state.settings)
    request = await rules.create_request(
        session, principal, calendar, state_student_id=body.state_student_id,
        requesting_district_id=body.requesting_district_id, previous_district_id=body.previous_district_id,
        enrolled_on=body.enrolled_on)
    response.headers.update(NO_STORE)
    response.headers["Location"] = f"/records/v1/transfer-requests/{request.id}"
    return _out(request, calendar)


@transfers.get("/transfer-requests", response_model=TransferList,
               summary="Transfer requests of the caller's districts, as receiver or sender (the state: all)")
async def list_requests(session: DbSession, principal: CurrentPrincipal, state: State, response: Response,
                        role: Literal["receiving", "sending"] | None = None,
                        status: Literal["requested", "answered"] | None = None,
                        overdue: bool | None = None,
                        district_id: Annotated[str | None, Query(max_length=16, pattern=ID_PATTERN)] = None,
                        state_student_id: Annotated[str | None, Query(max_length=16, pattern=ID_PATTERN)] = None,
                        limit: Annotated[int, Query(ge=1, le=200)] = 50,
                        offset: Annotated[int, Query(ge=0, le=100_000)] = 0) -> TransferList:
    """`overdue=true`: unanswered and at least one business day past the answer due date; the list
    is ordered by `answer_due_on`, oldest first. `role` splits the caller's districts' requests into
    those they made (`receiving`) and those they must answer (`sending`); for the state it applies
    to `district_id`."""
    calendar = calendar_for(state.settings)
    rows = await rules.list_requests(session, principal, calendar, role=role, status=status, overdue=overdue,
                                     district_id=district_id, state_student_id=state_student_id, limit=limit,
                                     offset=offset)
    response.headers.update(NO_STORE)
    return TransferList(items=[_out(r, calendar) for r in rows],
                        next_offset=offset + limit if len(rows) == limit else None)


@transfers.get("/transfer-requests/{request_id}", response_model=TransferOut,
               summary="One transfer request with its clocks (the two districts; the state)",
               responses={404: {"description": "No such request, or not one of your districts'"}})
async def get_request(request_id: RequestId, session: DbSession, principal: CurrentPrincipal, state: State,
                      response: Response) -> TransferOut:
    request = await rules.get_request(session, principal, request_id)
    response.headers.update(NO_STORE)
    return _out(request, calendar_for(state.settings))


@transfers.post("/transfer-requests/{request_id}/answer", response_model=TransferOut,
                summary="Answer a transfer request: the sections sent, or why there is nothing (the previous district)",
                responses={403: {"description": "Not the previous district, or the disclosure log refused"},
                           404: {"description": "No such request, or not one of your districts'"},
                           409: {"description": "Already answered"},
                           422: {"description": "Unknown section, or a missing refusal reason"},
                           503: {"description": "The disclosure log cannot be written: nothing was answered"}})
async def answer(request_id: RequestId, body: TransferAnswerIn, session: DbSession, principal: CurrentPrincipal,
                 state: State, response: Response) -> TransferOut:
    """`records_sent` writes the release into the FERPA 99.32 record of disclosures (legal basis
    `school_of_transfer`, 34 CFR 99.31(a)(2)) before the answer is stored: the parent sees it at
    `GET /disclosure/v1/students/{id}/disclosures`. If the entry cannot be written, nothing is
    answered (503, or 403 when the disclosure service refuses it)."""
    request = await rules.answer_request(session, disclosure_link(state), principal, request_id,
                                         outcome=body.outcome, section_names=body.sections, note=body.note,
                                         refusal_reason=body.refusal_reason)
    response.headers.update(NO_STORE)
    return _out(request, calendar_for(state.settings))
