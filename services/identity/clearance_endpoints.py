"""Non-disclosure agreements and annual privacy training: the clearance PII access depends on.

Rules in `clearance.py`. Recording takes effect at the person's next token (user tokens live
15 minutes); the services then refuse their reads of student data with 403 "clearance required"
until both are current.
"""

from __future__ import annotations

from datetime import date
from typing import Annotated, Literal

from fastapi import APIRouter, Path, Query, Response
from pydantic import Field

from services.identity import clearance as rules
from shared.deps import CurrentPrincipal, DbSession, State
from shared.schemas import IsoDate, RequestModel, ResponseModel

clearance = APIRouter(prefix="/identity/v1", tags=["nda and training"])

UserId = Annotated[str, Path(max_length=36)]
NO_STORE = {"Cache-Control": "no-store"}
Missing = Literal["nda", "training"]


class NdaSignatureIn(RequestModel):
    agreement_version: str = Field(min_length=1, max_length=50, description="The version of the NDA text signed")
    signed_on: IsoDate = Field(description="The day it was signed; not in the future")


class TrainingCompletionIn(RequestModel):
    course: str = Field(default=rules.DEFAULT_COURSE, min_length=1, max_length=200)
    course_version: str = Field(min_length=1, max_length=50, description="The year's or edition's version")
    completed_on: IsoDate = Field(description="The day it was completed; not in the future")


class NdaSignatureOut(ResponseModel):
    id: str
    agreement_version: str
    signed_on: date
    recorded_by: str


class TrainingCompletionOut(ResponseModel):
    id: str
    course: str
    course_version: str
    completed_on: date
    recorded_by: str


class ClearanceSummary(ResponseModel):
    user_id: str
    username: str
    display_name: str
    role: str
    district_ids: list[str]
    school_ids: list[str]
    requires_clearance: bool
    cleared: bool = Field(description="Whether student PII reaches the person today (from their next token)")
    cleared_until: date | None = Field(description="The last day the person is cleared; None without NDA or training")
    missing: list[Missing] = Field(description="What is missing or expired (empty for a role that needs none)")
    due_on: date | None = Field(description="The last day the current training counts; renew by then")
    nda_version: str | None
    nda_signed_on: date | None
    training_completed_on: date | None


class ClearanceOut(ClearanceSummary):
    nda_signatures: list[NdaSignatureOut]
    training_completions: list[TrainingCompletionOut]


class DueList(ResponseModel):
    as_of: date
    within_days: int
    items: list[ClearanceSummary]


class NdaRecorded(NdaSignatureOut):
    clearance: ClearanceSummary


class TrainingRecorded(TrainingCompletionOut):
    clearance: ClearanceSummary


def _summary(standing: rules.Clearance) -> ClearanceSummary:
    user = standing.user
    return ClearanceSummary(
        user_id=user.id, username=user.username, display_name=user.display_name, role=user.role,
        district_ids=list(user.district_ids), school_ids=list(user.school_ids),
        requires_clearance=standing.required, cleared=standing.cleared, cleared_until=standing.cleared_until,
        missing=standing.missing if standing.required else [], due_on=standing.valid_through,
        nda_version=standing.nda.agreement_version if standing.nda else None,
        nda_signed_on=standing.nda.signed_on if standing.nda else None,
        training_completed_on=standing.training.completed_on if standing.training else None)


async def _standing(session: DbSession, state: State, user: object) -> ClearanceSummary:
    (standing,) = await rules.standings(session, state.settings, [user])  # type: ignore[list-item]
    return _summary(standing)


@clearance.get("/clearance/due", response_model=DueList,
               summary="People missing an NDA or training, or due within the window (supervisors; security manager)")
async def due(session: DbSession, state: State, principal: CurrentPrincipal, response: Response,
              within_days: Annotated[int, Query(ge=0, le=366)] = 30) -> DueList:
    """Utah 4.4.4(5): supervisors monitor the NDA and training yearly and report who has not
    completed them. The state data administrator and the IT security manager see everyone; a
    superintendent the people of their district(s); a principal those of their school(s)."""
    found = await rules.due(session, state.settings, principal, within_days=within_days)
    response.headers.update(NO_STORE)
    return DueList(as_of=rules.today(), within_days=within_days, items=[_summary(s) for s in found])


@clearance.get("/users/{user_id}/clearance", response_model=ClearanceOut,
               summary="One person's NDA signatures, training and clearance (their supervisors; themself)",
               responses={404: {"description": "No such account, or not one of yours"}})
async def get_clearance(user_id: UserId, session: DbSession, state: State, principal: CurrentPrincipal,
                        response: Response) -> ClearanceOut:
    user = await rules.visible_user(session, principal, user_id)
    ndas, trainings = await rules.history(session, user.id)
    summary = await _standing(session, state, user)
    response.headers.update(NO_STORE)
    return ClearanceOut(**summary.model_dump(),
                        nda_signatures=[NdaSignatureOut.model_validate(n) for n in ndas],
                        training_completions=[TrainingCompletionOut.model_validate(t) for t in trainings])


@clearance.post("/users/{user_id}/nda-signatures", status_code=201, response_model=NdaRecorded,
                summary="Record a signed NDA (state data administrator; superintendent or principal for their people)",
                responses={403: {"description": "Not a recorder, or their own"}, 404: {"description": "Not one of yours"},
                           422: {"description": "Invalid, or a date in the future"}})
async def add_nda(user_id: UserId, body: NdaSignatureIn, session: DbSession, state: State,
                  principal: CurrentPrincipal, response: Response) -> NdaRecorded:
    user, row = await rules.record_nda(session, principal, user_id, agreement_version=body.agreement_version,
                                       signed_on=body.signed_on)
    response.headers.update(NO_STORE)
    return NdaRecorded(**NdaSignatureOut.model_validate(row).model_dump(),
                       clearance=await _standing(session, state, user))


@clearance.post("/users/{user_id}/training-completions", status_code=201, response_model=TrainingRecorded,
                summary="Record a completed privacy training (state data administrator; superintendent or principal)",
                responses={403: {"description": "Not a recorder, or their own"}, 404: {"description": "Not one of yours"},
                           422: {"description": "Invalid, or a date in the future"}})
async def add_training(user_id: UserId, body: TrainingCompletionIn, session: DbSession, state: State,
                       principal: CurrentPrincipal, response: Response) -> TrainingRecorded:
    user, row = await rules.record_training(session, principal, user_id, course=body.course,
                                            course_version=body.course_version, completed_on=body.completed_on)
    response.headers.update(NO_STORE)
    return TrainingRecorded(**TrainingCompletionOut.model_validate(row).model_dump(),
                            clearance=await _standing(session, state, user))
