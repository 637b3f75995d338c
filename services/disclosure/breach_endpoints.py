"""Suspected breaches over HTTP (rules in `breaches.py`): report, route, exposure from the logs,
suspension, notifications, findings. Every answer may name people or students: `no-store`."""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Body, Path, Query, Request, Response

from services.disclosure import breaches as rules
from services.disclosure.breach_models import Breach, BreachNotification
from services.disclosure.breaches import (
    BreachIn,
    BreachList,
    BreachOut,
    BreachSummary,
    ExposureOut,
    FindingsIn,
    NotificationIn,
    NotificationOut,
    SuspensionIn,
    SuspensionOut,
)
from services.disclosure.common import NO_STORE
from shared.deps import CurrentPrincipal, DbSession, State

breaches = APIRouter(prefix="/disclosure/v1", tags=["breach response"])

BreachId = Annotated[str, Path(max_length=36)]
NOT_VISIBLE = {404: {"description": "No such breach, or not routed to the caller"}}
CLOSED = {409: {"description": "The breach is closed, or a step must come first"}}


def _summary(breach: Breach) -> BreachSummary:
    return BreachSummary.model_validate({**_columns(breach), "reported_at": breach.created_at})


def _columns(breach: Breach) -> dict:
    return {c.key: getattr(breach, c.key) for c in Breach.__table__.columns}


async def _full(session: DbSession, breach: Breach) -> BreachOut:
    return BreachOut.model_validate({**_columns(breach), **await rules.details(session, breach)})


@breaches.post("/breaches", status_code=201, response_model=BreachOut,
               summary="Report a suspected breach (any staff person); routed to the IT security manager",
               responses={403: {"description": "Not staff"},
                          422: {"description": "A window ending in the future, start after end, and the like"}})
async def report(body: BreachIn, session: DbSession, principal: CurrentPrincipal, response: Response) -> BreachOut:
    """Utah plan 6.2: concerns are reported immediately to the IT security manager; those that
    involve the security manager go to the superintendent, here the state data administrators
    (`involves_security_manager`, or automatically when a suspected subject has worked breaches
    as security manager). The answer says where it went (`routed_to`)."""
    breach = await rules.report_breach(session, principal, body)
    response.headers.update(NO_STORE)
    response.headers["Location"] = f"/disclosure/v1/breaches/{breach.id}"
    return await _full(session, breach)


@breaches.get("/breaches", response_model=BreachList,
              summary="Breaches routed to the caller (security manager) or all (state data administrators)")
async def list_breaches(session: DbSession, principal: CurrentPrincipal, response: Response,
                        status: Literal["open", "closed"] | None = None,
                        limit: Annotated[int, Query(ge=1, le=200)] = 50,
                        offset: Annotated[int, Query(ge=0, le=100_000)] = 0) -> BreachList:
    rows, more = await rules.list_breaches(session, principal, status=status, limit=limit, offset=offset)
    response.headers.update(NO_STORE)
    return BreachList(items=[_summary(b) for b in rows], next_offset=offset + limit if more else None)


@breaches.get("/breaches/{breach_id}", response_model=BreachOut, responses=NOT_VISIBLE,
              summary="A breach: report, routing, history, notifications and who is still to notify")
async def get(breach_id: BreachId, session: DbSession, principal: CurrentPrincipal, response: Response) -> BreachOut:
    breach = await rules.get_visible(session, principal, breach_id)
    response.headers.update(NO_STORE)
    return await _full(session, breach)


@breaches.post("/breaches/{breach_id}/exposure", response_model=ExposureOut, responses={**NOT_VISIBLE, **CLOSED},
               summary="Compute which students and fields the suspected principals touched in the window")
async def compute_exposure(breach_id: BreachId, request: Request, session: DbSession, state: State,
                           principal: CurrentPrincipal, response: Response) -> ExposureOut:
    """Reads the records access log (with the caller's own token) and the disclosure log for each
    suspected subject between `window_start` and `window_end`, and stores the result: every
    student with the fields, how (read, write, disclosed...) and where it was found. Computing
    again replaces it. 503 when the access log cannot be read: nothing partial is stored."""
    breach = await rules.compute_exposure(session, state, principal, request.headers.get("authorization", ""),
                                          breach_id)
    response.headers.update(NO_STORE)
    return ExposureOut.model_validate(await rules.exposure_of(session, breach))


@breaches.get("/breaches/{breach_id}/exposure", response_model=ExposureOut, responses=NOT_VISIBLE,
              summary="The stored exposure of a breach, by suspected subject")
async def exposure(breach_id: BreachId, session: DbSession, principal: CurrentPrincipal,
                   response: Response) -> ExposureOut:
    breach = await rules.get_visible(session, principal, breach_id)
    response.headers.update(NO_STORE)
    return ExposureOut.model_validate(await rules.exposure_of(session, breach))


@breaches.post("/breaches/{breach_id}/suspensions", response_model=SuspensionOut, responses={**NOT_VISIBLE, **CLOSED},
               summary="Disable the suspected accounts and revoke the suspected clients at identity")
async def suspend(breach_id: BreachId, request: Request, session: DbSession, state: State,
                  principal: CurrentPrincipal, response: Response,
                  body: Annotated[SuspensionIn | None, Body()] = None) -> SuspensionOut:
    """Calls identity with the caller's token for each subject (all suspected ones, or those in
    `subjects`). Identity's revocation list is read by every service's token verifier, so the
    suspended tokens are refused at all four services within `SLDS_REVOCATION_CACHE_SECONDS`."""
    breach, outcomes = await rules.suspend(session, state, principal, request.headers.get("authorization", ""),
                                           breach_id, body or SuspensionIn())
    response.headers.update(NO_STORE)
    return SuspensionOut.model_validate({"breach_id": breach.id, "suspended_at": breach.suspended_at,
                                         "all_suspended": all(o["outcome"] == "suspended" for o in outcomes),
                                         "outcomes": outcomes})


@breaches.post("/breaches/{breach_id}/notifications", status_code=201, response_model=NotificationOut,
               responses={**NOT_VISIBLE, **CLOSED},
               summary="Record that an affected student's parent (or the eligible student) was notified")
async def notify(breach_id: BreachId, body: NotificationIn, session: DbSession, principal: CurrentPrincipal,
                 response: Response) -> BreachNotification:
    notification = await rules.record_notification(session, principal, breach_id, body)
    response.headers.update(NO_STORE)
    return notification


@breaches.post("/breaches/{breach_id}/findings", response_model=BreachOut, responses={**NOT_VISIBLE, **CLOSED},
               summary="Record the findings and consequences, and close the breach")
async def findings(breach_id: BreachId, body: FindingsIn, session: DbSession, principal: CurrentPrincipal,
                   response: Response) -> BreachOut:
    """A confirmed breach closes only once every affected student's family was notified (409
    `notifications-outstanding` otherwise); an unconfirmed one closes at once."""
    breach = await rules.close(session, principal, breach_id, body)
    response.headers.update(NO_STORE)
    return await _full(session, breach)

