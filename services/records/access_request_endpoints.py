"""Requests for access beyond a role, decided in writing; granted access is scoped and time-limited.

The rules live in `access_requests.py`; this module is the HTTP surface. A request the caller may
not see answers 404, as one that does not exist; one the caller sees but may not act on, 403.
Responses are `no-store` (they name students and carry the requester's and deciders' words).
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated, Literal

from fastapi import APIRouter, Path, Query, Response
from pydantic import Field

from services.records import access_requests as rules
from services.records.access_request_models import AccessRequest
from shared.deps import CurrentPrincipal, DbSession, State
from shared.schemas import IsoDate, RequestModel, ResponseModel

access_requests = APIRouter(prefix="/records/v1", tags=["access requests"])

NO_STORE = {"Cache-Control": "no-store"}
# No control characters in identifiers and no NUL in text: PostgreSQL refuses NUL in text, and a
# refusal there would be a 500, not the 422 it is.
ID_PATTERN = r"^[^\x00-\x1f\x7f]+$"
TEXT_PATTERN = r"^[^\x00]+$"
RequestId = Annotated[str, Path(max_length=36, pattern=ID_PATTERN)]
Status = Literal["pending", "granted", "denied", "revoked", "expired"]
FieldName = Annotated[str, Field(min_length=1, max_length=200, pattern=ID_PATTERN)]
Id = Annotated[str, Field(min_length=1, max_length=16, pattern=ID_PATTERN)]
Reason = Annotated[str, Field(min_length=1, max_length=4000, pattern=TEXT_PATTERN,
                              description="The written decision (never logged)")]


# --- bodies -------------------------------------------------------------------------------------


class AccessRequestIn(RequestModel):
    district_id: Annotated[Id | None, Field(description="The district the request concerns; defaults to "
                                                        "the requester's only district")] = None
    fields: Annotated[list[FieldName], Field(
        min_length=1, max_length=50, description="The precise information: student fields of the data dictionary "
                                                 "(e.g. `discipline.incident_type`)")]
    student_ids: Annotated[list[Id], Field(default_factory=list, max_length=500,
                                           description="State IDs of the students")]
    school_ids: Annotated[list[Id], Field(default_factory=list, max_length=50,
                                          description="Schools of the district: every student currently enrolled there")]
    need: Annotated[str, Field(min_length=1, max_length=4000, pattern=TEXT_PATTERN,
                               description="The legitimate educational need for the information (never logged)")]
    starts_on: Annotated[IsoDate | None, Field(description="First day of access; defaults to today")] = None
    ends_on: Annotated[IsoDate, Field(description="Last day of access (required; at most the configured maximum)")]


class AccessDecisionIn(RequestModel):
    decision: Literal["granted", "denied"]
    reason: Reason
    fields: Annotated[list[FieldName] | None, Field(
        max_length=50, description="Grant fewer fields than asked (granted only)")] = None
    student_ids: Annotated[list[Id] | None, Field(
        max_length=500, description="Grant fewer students than asked (granted only)")] = None
    school_ids: Annotated[list[Id] | None, Field(
        max_length=50, description="Grant fewer schools than asked (granted only)")] = None
    ends_on: Annotated[IsoDate | None, Field(description="An earlier end than asked (granted only)")] = None


class RevocationIn(RequestModel):
    reason: Reason


# --- answers ------------------------------------------------------------------------------------


class AccessRequestOut(ResponseModel):
    id: str
    requested_by: str
    requester_role: str
    district_id: str
    fields: list[str]
    student_ids: list[str]
    school_ids: list[str]
    need: str
    starts_on: date
    ends_on: date
    status: str = Field(description="pending, granted, denied, revoked, or expired (granted, past its end)")
    in_force: bool = Field(description="Whether the granted access applies to the requester's reads today")
    decision_reason: str | None = None
    decided_by: str | None = None
    decider_role: str | None = None
    decided_at: datetime | None = None
    granted_fields: list[str] | None = None
    granted_student_ids: list[str] | None = None
    granted_school_ids: list[str] | None = None
    granted_ends_on: date | None = None
    revocation_reason: str | None = None
    revoked_by: str | None = None
    revoked_at: datetime | None = None
    created_at: datetime
    updated_at: datetime


class AccessRequestList(ResponseModel):
    items: list[AccessRequestOut]
    next_offset: int | None = None


def _out(request: AccessRequest) -> AccessRequestOut:
    columns = {c.key: getattr(request, c.key) for c in AccessRequest.__table__.columns}
    return AccessRequestOut.model_validate({**columns, "status": rules.effective_status(request),
                                            "in_force": rules.in_force(request)})


# --- routes -------------------------------------------------------------------------------------


@access_requests.post("/access-requests", status_code=201, response_model=AccessRequestOut,
                      summary="Apply in writing for access beyond your role (district staff)",
                      responses={403: {"description": "Not a district staff member"},
                                 422: {"description": "Unknown fields, schools outside the district, bad dates"}})
async def file(body: AccessRequestIn, session: DbSession, state: State, principal: CurrentPrincipal,
               response: Response) -> AccessRequestOut:
    """Connecticut item 10: state the precise information (fields of which students or schools) and
    the legitimate educational need. The superintendent of the district, or a state data
    administrator, decides in writing."""
    request = await rules.file_request(session, principal, rules.Application(
        district_id=body.district_id, fields=body.fields, student_ids=body.student_ids, school_ids=body.school_ids,
        need=body.need, starts_on=body.starts_on, ends_on=body.ends_on), state.settings.records_access_grant_max_days)
    response.headers.update(NO_STORE)
    response.headers["Location"] = f"/records/v1/access-requests/{request.id}"
    return _out(request)


@access_requests.get("/access-requests", response_model=AccessRequestList,
                     summary="Access requests for review (state data admins: all; superintendents: their "
                             "district; staff: their own)")
async def list_requests(session: DbSession, principal: CurrentPrincipal, response: Response,
                        status: Status | None = None,
                        active_on: Annotated[IsoDate | None, Query(description="Grants in force on this day")] = None,
                        district_id: Annotated[str | None, Query(max_length=16, pattern=ID_PATTERN)] = None,
                        limit: Annotated[int, Query(ge=1, le=200)] = 50,
                        offset: Annotated[int, Query(ge=0, le=100_000)] = 0) -> AccessRequestList:
    rows = await rules.list_requests(session, principal, status=status, active_on=active_on, district_id=district_id,
                                     limit=limit, offset=offset)
    response.headers.update(NO_STORE)
    return AccessRequestList(items=[_out(r) for r in rows], next_offset=offset + limit if len(rows) == limit else None)


@access_requests.get("/access-requests/{request_id}", response_model=AccessRequestOut,
                     summary="An access request with its decision (the requester; its deciders)")
async def get(request_id: RequestId, session: DbSession, principal: CurrentPrincipal,
              response: Response) -> AccessRequestOut:
    request = await rules.get_visible(session, principal, request_id)
    response.headers.update(NO_STORE)
    return _out(request)


@access_requests.post("/access-requests/{request_id}/decision", response_model=AccessRequestOut,
                      summary="Grant (as asked, or narrower) or deny, in writing (the district's superintendent; "
                              "a state data administrator)",
                      responses={409: {"description": "Already decided"},
                                 422: {"description": "No reason, wider than asked, students outside the district"}})
async def decide(request_id: RequestId, body: AccessDecisionIn, session: DbSession, principal: CurrentPrincipal,
                 response: Response) -> AccessRequestOut:
    """`reason` is the written decision the requester reads. A grant may narrow the fields,
    students or schools and end earlier; only students currently enrolled in the district are
    granted. No one decides their own request."""
    request = await rules.decide(session, principal, request_id, rules.Decision(
        decision=body.decision, reason=body.reason, fields=body.fields, student_ids=body.student_ids,
        school_ids=body.school_ids, ends_on=body.ends_on))
    response.headers.update(NO_STORE)
    return _out(request)


@access_requests.post("/access-requests/{request_id}/revocation", response_model=AccessRequestOut,
                      summary="End granted access before its end date, with a reason (the deciders)",
                      responses={409: {"description": "Not granted, or already expired or revoked"}})
async def revoke(request_id: RequestId, body: RevocationIn, session: DbSession, principal: CurrentPrincipal,
                 response: Response) -> AccessRequestOut:
    request = await rules.revoke(session, principal, request_id, body.reason)
    response.headers.update(NO_STORE)
    return _out(request)
