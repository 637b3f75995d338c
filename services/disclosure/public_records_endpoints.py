"""Public records requests (Missouri Sunshine Law) over HTTP (rules in `public_records.py`): the
custodian records each request received, acts on it by the third business day, and follows the
overdue list.

Not student records, but they hold a member of the public's name and contact: a token is always
required and every answer is `no-store`.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated, Literal

from fastapi import APIRouter, Path, Query, Response
from pydantic import Field

from services.disclosure import public_records as rules
from services.disclosure.common import NO_STORE, DistrictId, Name, Text, today
from services.disclosure.public_records_models import PublicRecordsRequest
from shared.calendar import calendar_for
from shared.deps import CurrentPrincipal, DbSession, State
from shared.schemas import IsoDate, IsoDateTime, RequestModel, ResponseModel

public_records = APIRouter(prefix="/disclosure/v1", tags=["public records requests"])

RequestId = Annotated[str, Path(max_length=36)]
State_ = Literal["open", "delayed", "overdue", "fulfilled", "denied"]


class PublicRecordsRequestIn(RequestModel):
    requester_name: Name
    requester_contact: Annotated[str, Field(min_length=1, max_length=500,
                                            description="How to reach the requester (address, email, phone)")]
    description: Annotated[Text, Field(description="The records asked for")]
    requested_format: Annotated[str | None, Field(max_length=200, description="e.g. paper copies, PDF, CSV")] = None
    received_on: Annotated[IsoDate | None, Field(description="The day the custodian received it (default today)")] = None
    district_id: Annotated[DistrictId | None, Field(
        description="The district that received it (a superintendent: one of theirs; absent: the state agency)")] = None


class ActionIn(RequestModel):
    action: Literal["fulfilled", "denied", "delayed"]
    explanation: Annotated[str | None, Field(
        max_length=4000, description="Required to deny (the written explanation) and to delay (the cause)")] = None
    exemption: Annotated[str | None, Field(
        max_length=500, description="The provision of law under which records are withheld (required to deny), "
                                    "e.g. `RSMo 610.021(14); FERPA, 20 U.S.C. 1232g`")] = None
    available_at: Annotated[IsoDateTime | None, Field(
        description="A delay: the earliest date and time the records will be available (with a UTC offset)")] = None
    place: Annotated[str | None, Field(max_length=500, description="A delay: where the records will be available")] = None
    acted_on: Annotated[IsoDate | None, Field(description="The day it was acted on (default today)")] = None


class PublicRecordsRequestOut(ResponseModel):
    id: str
    district_id: str | None = None
    requester_name: str
    requester_contact: str
    description: str
    requested_format: str | None = None
    received_on: date
    due_on: date = Field(description="The end of the third business day after receipt")
    status: Literal["received", "delayed", "fulfilled", "denied"]
    state: State_
    state_due_on: date = Field(description="The day the current state is due: `due_on`, or the day promised "
                                           "when delayed")
    days_overdue: int = Field(description="Days past `state_due_on` (0 unless overdue)")
    acted_on_time: bool | None = Field(None, description="Whether the first action came by `due_on`")
    first_acted_on: date | None = None
    delay_explanation: str | None = None
    available_at: datetime | None = None
    available_place: str | None = None
    delayed_on: date | None = None
    explanation: str | None = None
    exemption: str | None = None
    closed_on: date | None = None
    recorder_role: str
    closer_role: str | None = None
    created_at: datetime


class PublicRecordsRequestList(ResponseModel):
    as_of: date
    items: list[PublicRecordsRequestOut]
    next_offset: int | None = None


def _out(request: PublicRecordsRequest, day: date) -> PublicRecordsRequestOut:
    clock = rules.clock(request, day)
    columns = {c.key: getattr(request, c.key) for c in PublicRecordsRequest.__table__.columns}
    acted = request.first_acted_on
    return PublicRecordsRequestOut.model_validate(columns | {
        "state": clock.state, "state_due_on": clock.due_on, "days_overdue": clock.days_overdue,
        "acted_on_time": None if acted is None else acted <= request.due_on})


@public_records.post("/public-records-requests", status_code=201, response_model=PublicRecordsRequestOut,
                     summary="Record a public records request received (custodian: state data admin; a "
                             "superintendent for their district)",
                     responses={403: {"description": "Not a custodian of records"}})
async def record(body: PublicRecordsRequestIn, session: DbSession, principal: CurrentPrincipal, state: State,
                 response: Response) -> PublicRecordsRequestOut:
    """Due by the end of the third business day after `received_on` (RSMo 610.023.3), counted on
    the configured business calendar (weekends, holidays, `SLDS_EXTRA_HOLIDAYS`)."""
    request = await rules.record_request(
        session, principal, rules.NewRequest(**body.model_dump()), calendar_for(state.settings),
        state.settings.public_records_response_business_days)
    response.headers.update(NO_STORE)
    response.headers["Location"] = f"/disclosure/v1/public-records-requests/{request.id}"
    return _out(request, today())


@public_records.get("/public-records-requests", response_model=PublicRecordsRequestList,
                    summary="Public records requests with their clocks (the custodian); `overdue=true`: the overdue list")
async def list_requests(session: DbSession, principal: CurrentPrincipal, response: Response,
                        state: State_ | None = None, overdue: bool | None = None,
                        district_id: Annotated[str | None, Query(max_length=16)] = None,
                        as_of: Annotated[IsoDate | None, Query(description="Judge the clocks on this day")] = None,
                        limit: Annotated[int, Query(ge=1, le=200)] = 50,
                        offset: Annotated[int, Query(ge=0, le=100_000)] = 0) -> PublicRecordsRequestList:
    day = rules.check_as_of(as_of)
    rows = await rules.list_requests(session, principal, state=state, overdue=overdue, district_id=district_id,
                                     as_of=day, limit=limit, offset=offset)
    response.headers.update(NO_STORE)
    return PublicRecordsRequestList(as_of=day, items=[_out(r, day) for r in rows],
                                    next_offset=offset + limit if len(rows) == limit else None)


@public_records.get("/public-records-requests/{request_id}", response_model=PublicRecordsRequestOut,
                    summary="One public records request with its clock (the custodian)")
async def get(request_id: RequestId, session: DbSession, principal: CurrentPrincipal, response: Response,
              as_of: Annotated[IsoDate | None, Query(description="Judge the clock on this day")] = None,
              ) -> PublicRecordsRequestOut:
    day = rules.check_as_of(as_of)
    request = await rules.get_visible(session, principal, request_id)
    response.headers.update(NO_STORE)
    return _out(request, day)


@public_records.post("/public-records-requests/{request_id}/actions", response_model=PublicRecordsRequestOut,
                     summary="Act on a request: fulfilled, denied (explained in writing) or delayed (the cause, "
                             "the place and the earliest date and time)",
                     responses={409: {"description": "Already fulfilled or denied"},
                                422: {"description": "A denial or delay without its explanation"}})
async def act(request_id: RequestId, body: ActionIn, session: DbSession, principal: CurrentPrincipal,
              response: Response) -> PublicRecordsRequestOut:
    request = await rules.act(session, principal, request_id, rules.Action(**body.model_dump()))
    response.headers.update(NO_STORE)
    return _out(request, today())
