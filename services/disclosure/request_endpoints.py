"""Data requests over HTTP (rules in `data_requests.py`): file a ticket, assign, fulfil, second-steward
QA, release with the checklist, close."""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Path, Query, Response

from services.disclosure import data_requests
from services.disclosure.models import DataRequest
from services.disclosure.schemas import (
    AssignIn,
    CloseIn,
    DataRequestEventOut,
    DataRequestIn,
    DataRequestList,
    DataRequestOut,
    FulfilIn,
    QaIn,
    ReleaseIn,
)
from shared.deps import CurrentPrincipal, DbSession

tickets = APIRouter(prefix="/disclosure/v1", tags=["data requests"])

RequestId = Annotated[str, Path(max_length=36)]


async def _out(session: DbSession, request: DataRequest) -> DataRequestOut:
    out = DataRequestOut.model_validate(request)
    out.history = [DataRequestEventOut.model_validate(e) for e in await data_requests.history(session, request.id)]
    return out


@tickets.post("/data-requests", status_code=201, response_model=DataRequestOut,
              summary="File a data request (a ticket) with its risk level",
              responses={422: {"description": "High risk without an active agreement, or invalid"}})
async def file(body: DataRequestIn, session: DbSession, principal: CurrentPrincipal,
               response: Response) -> DataRequestOut:
    """Risk levels (Utah 5.3.2): `low` high-level aggregates; `medium` aggregates with low n-sizes
    (disclosure avoidance, second-steward QA); `high` de-identified student-level data (an active
    agreement, second-steward QA)."""
    request = await data_requests.file_request(session, principal, body)
    response.headers["Location"] = f"/disclosure/v1/data-requests/{request.id}"
    return await _out(session, request)


@tickets.get("/data-requests", response_model=DataRequestList,
             summary="List data requests (stewards: all; others: their own)")
async def list_requests(session: DbSession, principal: CurrentPrincipal,
                        status: Literal["ticket", "assigned", "fulfilled", "qa_approved", "released", "closed"]
                        | None = None,
                        assigned_to: Annotated[str | None, Query(max_length=200)] = None,
                        limit: Annotated[int, Query(ge=1, le=200)] = 50,
                        offset: Annotated[int, Query(ge=0, le=100_000)] = 0) -> DataRequestList:
    rows = await data_requests.list_requests(session, principal, status=status, assigned_to=assigned_to,
                                             limit=limit, offset=offset)
    return DataRequestList(items=[DataRequestOut.model_validate(r) for r in rows],
                           next_offset=offset + limit if len(rows) == limit else None)


@tickets.get("/data-requests/{request_id}", response_model=DataRequestOut,
             summary="A data request with its history (stewards; the requester)")
async def get(request_id: RequestId, session: DbSession, principal: CurrentPrincipal) -> DataRequestOut:
    return await _out(session, await data_requests.get_visible(session, principal, request_id))


@tickets.post("/data-requests/{request_id}/assign", response_model=DataRequestOut,
              summary="Assign (or reassign) the request to a data steward (steward)")
async def assign(request_id: RequestId, body: AssignIn, session: DbSession,
                 principal: CurrentPrincipal) -> DataRequestOut:
    return await _out(session, await data_requests.assign(session, principal, request_id, body.assignee, body.note))


@tickets.post("/data-requests/{request_id}/fulfil", response_model=DataRequestOut,
              summary="Record the prepared data set (the assigned steward)")
async def fulfil(request_id: RequestId, body: FulfilIn, session: DbSession,
                 principal: CurrentPrincipal) -> DataRequestOut:
    return await _out(session, await data_requests.fulfil(session, principal, request_id, body.dataset_reference,
                                                          body.note))


@tickets.post("/data-requests/{request_id}/qa", response_model=DataRequestOut,
              summary="Quality assurance: approve, or return to the steward (a different steward)",
              responses={409: {"description": "The steward who fulfilled it cannot QA it"}})
async def qa(request_id: RequestId, body: QaIn, session: DbSession, principal: CurrentPrincipal) -> DataRequestOut:
    return await _out(session, await data_requests.quality_assurance(session, principal, request_id, body.decision,
                                                                     body.note))


@tickets.post("/data-requests/{request_id}/release", response_model=DataRequestOut,
              summary="Release the data set: checklist complete, dataset reference, date stamp (steward)",
              responses={422: {"description": "Checklist incomplete, or the agreement is no longer active"}})
async def release(request_id: RequestId, body: ReleaseIn, session: DbSession,
                  principal: CurrentPrincipal) -> DataRequestOut:
    return await _out(session, await data_requests.release(session, principal, request_id, body))


@tickets.post("/data-requests/{request_id}/close", response_model=DataRequestOut,
              summary="Close the ticket (steward; a note is needed when it was not released)")
async def close(request_id: RequestId, body: CloseIn, session: DbSession,
                principal: CurrentPrincipal) -> DataRequestOut:
    return await _out(session, await data_requests.close(session, principal, request_id, body.note))
