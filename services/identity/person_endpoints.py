"""Identity's HTTP surface for students: resolve and the review queue."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated, Any

import orjson
from fastapi import APIRouter, Header, Query, Request, Response
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from services.identity.batch import BatchService, parse_rows
from services.identity.locator import Locator
from services.identity.matching.record import PersonFacts
from services.identity.merge import MergeService
from services.identity.models import Person
from services.identity.person_repository import PersonRepository
from services.identity.resolve import (
    ResolveOutcome,
    Resolver,
    authorize_submission,
    facts_from_request,
)
from services.identity.review import ReviewService, require_data_steward
from services.identity.schemas import (
    BatchOut,
    BatchRowResult,
    IdEventOut,
    LocatorCard,
    LocatorResults,
    LocatorSearch,
    MergeRequest,
    PersonStatusRequest,
    PersonStatusResults,
    ResolveResponse,
    ReviewDecision,
    ReviewItemOut,
    ReviewPage,
    SplitRequest,
    StaffResolveRequest,
    StaffResolveResponse,
    StudentIdStatus,
    StudentResolveRequest,
)
from services.identity.ssn import ssn_hash
from services.identity.state_ids import StateStudentId
from shared.db import one_of
from shared.deps import ClearedPrincipal, CurrentPrincipal, DbSession, ReadSession, State
from shared.errors import Forbidden, NotFound, UnprocessableContent
from shared.policy.access import lacks_clearance
from shared.policy.principal import Principal
from shared.policy.roles import UnknownRoleError, get_role

students = APIRouter(prefix="/identity/v1", tags=["students"])
reviews = APIRouter(prefix="/identity/v1/reviews", tags=["review queue"])

NO_STORE = "no-store"


def _is_level_one(principal: Principal) -> bool:
    try:
        return get_role(principal.role).level == 1
    except UnknownRoleError:
        return False


def _response(outcome: ResolveOutcome, principal: Principal) -> ResolveResponse:
    # Candidates name other students: only a level-1 caller sees them. A district sees its answer
    # and why (the score and each field's contribution), never who else looked similar.
    return ResolveResponse(
        decision=outcome.decision,  # type: ignore[arg-type]
        state_student_id=outcome.state_id,
        review_id=outcome.review_id,
        explanation=outcome.explanation,
        candidates=outcome.candidates if _is_level_one(principal) and not lacks_clearance(principal) else [],
    )


@students.post("/students/resolve", response_model=ResolveResponse,
               summary="Find or assign the state student ID for a district's student")
async def resolve_student(body: StudentResolveRequest, session: DbSession, state: State,
                          principal: CurrentPrincipal) -> Response:
    authorize_submission(principal, body.district_id)
    outcome = await Resolver(session, state.settings).resolve(
        facts_from_request(body, state.settings), body.district_id, body.local_student_id,
        principal.subject,
    )
    # The model validated the answer once; returned as JSON here, FastAPI does not validate and
    # serialize it again through `response_model` (which still documents it).
    return Response(_response(outcome, principal).model_dump_json(), media_type="application/json",
                    headers={"Cache-Control": NO_STORE})


@reviews.get("", response_model=ReviewPage, summary="Near matches waiting for a data steward")
async def list_reviews(
    session: DbSession, state: State, principal: ClearedPrincipal, response: Response,
    status: Annotated[str | None, Query(pattern="^(open|same_person|different_persons)$")] = "open",
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
    offset: Annotated[int, Query(ge=0, le=100_000)] = 0,
) -> dict[str, Any]:
    require_data_steward(principal)
    items = await ReviewService(session, state.settings).list(status, limit, offset)
    response.headers["Cache-Control"] = NO_STORE
    return {"items": items, "limit": limit, "offset": offset}


@reviews.get("/{review_id}", response_model=ReviewItemOut, summary="Both sides with the explanation")
async def get_review(review_id: str, session: DbSession, state: State, principal: ClearedPrincipal,
                     response: Response) -> Any:
    require_data_steward(principal)
    response.headers["Cache-Control"] = NO_STORE
    return await ReviewService(session, state.settings).get(review_id)


@reviews.post("/{review_id}/decision", response_model=ReviewItemOut, summary="Decide: same person or not")
async def decide_review(review_id: str, body: ReviewDecision, session: DbSession, state: State,
                        principal: ClearedPrincipal) -> Any:
    require_data_steward(principal)
    if (body.decision == "same_person") != (body.same_as is not None):
        raise UnprocessableContent(
            "same_as is required for same_person and not allowed otherwise.",
            errors=[{"field": "body.same_as", "code": "inconsistent", "message": "Give same_as only with same_person"}])
    return await ReviewService(session, state.settings).decide(
        review_id, same_as=body.same_as, reason=body.reason, decided_by=principal.subject)


# Roles that hold state IDs as keys: the services, districts' systems and state staff.
ID_STATUS_ROLES = frozenset({"service", "district_sis", "state_data_admin", "registrar"})


@students.get("/students/{state_student_id}/status", response_model=StudentIdStatus,
              summary="Is this ID current, or retired into another? (records follow the survivor)")
async def student_id_status(state_student_id: StateStudentId, session: DbSession,
                            principal: CurrentPrincipal) -> dict[str, str]:
    if principal.role not in ID_STATUS_ROLES:
        raise Forbidden("This role does not look up state IDs.")
    repository = PersonRepository(session)
    person = await repository.get(state_student_id)
    current = await repository.current(state_student_id) if person else None
    if person is None or current is None or person.kind != "student":
        raise NotFound("No such state student ID.")
    return {"state_student_id": state_student_id, "current_state_student_id": current.state_id,
            "status": person.status}


# Roles whose answers about a district's local IDs are limited to their own districts.
DISTRICT_SCOPED_ID_STATUS_ROLES = frozenset({"district_sis", "registrar"})


@dataclass(frozen=True, slots=True)
class _IdStatus:
    """What the status answer needs of a person: a Core row, not an ORM `Person` (names, races,
    guardians...), which for a bulk submission's thousand IDs cost more than the query itself."""

    kind: str
    status: str
    merged_into: str | None


async def _load_with_survivors(session: AsyncSession, state_ids: set[str]) -> dict[str, _IdStatus]:
    """The persons under these IDs and every survivor they were merged into: one query per step
    of the longest merge chain (usually two), whatever the number of IDs."""
    t = Person.__table__
    dialect = session.bind.dialect.name
    loaded: dict[str, _IdStatus] = {}
    wanted = state_ids
    while wanted:
        rows = await session.execute(select(t.c.state_id, t.c.kind, t.c.status, t.c.merged_into)
                                     .where(one_of(dialect, t.c.state_id, sorted(wanted))))
        found = {sid: _IdStatus(kind, status, into) for sid, kind, status, into in rows}
        loaded.update(found)
        wanted = {p.merged_into for p in found.values() if p.merged_into and p.merged_into not in loaded}
    return loaded


def _survivor(loaded: dict[str, _IdStatus], state_id: str) -> str | None:
    """The ID a loaded ID stands for now (itself, or the end of its merge chain)."""
    seen: set[str] = set()
    while (person := loaded.get(state_id)) is not None and person.merged_into and state_id not in seen:
        seen.add(state_id)
        state_id = person.merged_into
    return state_id if state_id in loaded else None


@students.post("/persons/status", response_model=PersonStatusResults,
               summary="Many IDs at once: current or retired (with the survivor), and whether a district holds each")
async def person_id_statuses(body: PersonStatusRequest, session: ReadSession, principal: CurrentPrincipal) -> Response:
    if principal.role not in ID_STATUS_ROLES:
        raise Forbidden("This role does not look up state IDs.")
    if (body.district_id is not None and principal.role in DISTRICT_SCOPED_ID_STATUS_ROLES
            and body.district_id not in principal.district_ids):
        raise Forbidden(
            "A district asks only about its own local IDs.",
            errors=[{"field": "body.district_id", "code": "not_your_district",
                     "message": "The token's districts do not include this district"}],
        )
    repository = PersonRepository(session)
    loaded = await _load_with_survivors(session, set(body.state_ids))
    current: dict[str, str] = {}  # asked ID -> its survivor's
    for state_id in dict.fromkeys(body.state_ids):
        person = loaded.get(state_id)
        if person is None or person.kind != body.kind:
            continue  # unknown, or an ID of the other kind
        survivor = _survivor(loaded, state_id)
        if survivor is not None:
            current[state_id] = survivor
    held: set[str] = set()
    absorbed: dict[str, set[str]] = {}  # survivor -> IDs merged into it (a district may hold one of those)
    survivors = set(current.values())
    root = {sid: sid for sid in survivors}  # every ID in a merge chain -> the survivor it ends at
    frontier = set(survivors)
    while frontier:  # one query per level of merge chain (rarely more than one)
        rows = (await session.execute(select(Person.state_id, Person.merged_into)
                                      .where(one_of(session.bind.dialect.name, Person.merged_into,
                                                    sorted(frontier))))).all()
        frontier = {retired for retired, _ in rows if retired not in root}
        for retired, into in rows:
            if retired in frontier:
                root[retired] = root[into]
                absorbed.setdefault(root[into], set()).add(retired)
    if body.district_id is not None and current:
        held = await repository.ids_with_alias_in(
            body.district_id, set(current) | survivors | set().union(*absorbed.values()))
    results = []
    for state_id in body.state_ids:
        survivor = current.get(state_id)
        holds = None if body.district_id is None else (
            survivor is not None and (state_id in held or survivor in held
                                      or not held.isdisjoint(absorbed.get(survivor, ()))))
        results.append({
            "state_id": state_id,
            "status": loaded[state_id].status if survivor is not None else "unknown",
            "current_state_id": survivor,
            "district_holds_local_id": holds,
            "merged_ids": sorted(absorbed.get(survivor, ())) if survivor is not None else [],
        })
    # Encoded here, not validated again against the response model (which still documents it):
    # records asks about every ID of a bulk write, and FastAPI's second pass over 1,000 results
    # was a third of this call's CPU.
    return Response(orjson.dumps({"results": results}), media_type="application/json",
                    headers={"Cache-Control": NO_STORE})


@students.post("/students/merges", response_model=IdEventOut, status_code=201,
               summary="Merge two IDs of one student; the retired ID answers with the survivor")
async def merge_students(body: MergeRequest, session: DbSession, principal: CurrentPrincipal) -> Any:
    require_data_steward(principal)
    return await MergeService(session).merge(body.survivor_id, body.retired_id,
                                             actor=principal.subject, reason=body.reason)


@students.post("/students/splits", response_model=IdEventOut, status_code=201,
               summary="Undo a wrong merge: the retired ID becomes active again")
async def split_students(body: SplitRequest, session: DbSession, principal: CurrentPrincipal) -> Any:
    require_data_steward(principal)
    return await MergeService(session).split(body.retired_id, actor=principal.subject, reason=body.reason)


@students.get("/students/{state_student_id}/history", response_model=list[IdEventOut],
              summary="Merges and splits of an ID, with who and why")
async def student_id_history(state_student_id: StateStudentId, session: DbSession,
                             principal: CurrentPrincipal, response: Response) -> Any:
    require_data_steward(principal)
    response.headers["Cache-Control"] = NO_STORE
    return await MergeService(session).history(state_student_id)


MAX_BATCH_BYTES = 20 * 1024 * 1024
BATCH_ROLES = frozenset({"district_sis", "service", "state_data_admin"})


@students.post("/students/batches", status_code=202, response_model=BatchOut,
               summary="Resolve up to 10,000 persons (JSON array or NDJSON); poll the Location",
               openapi_extra={"requestBody": {"content": {
                   "application/json": {"schema": {"type": "array", "items": {"description": "The resolve body plus an optional row_ref; each row is checked on its own, and a bad row fails alone"}}},
                   "application/x-ndjson": {"schema": {"type": "string"}}}}})
async def submit_batch(
    request: Request, session: DbSession, state: State, principal: CurrentPrincipal, response: Response,
    idempotency_key: Annotated[str | None, Header(max_length=200)] = None,
) -> Any:
    if principal.role not in BATCH_ROLES:
        raise Forbidden("This role does not submit students for resolution.")
    if int(request.headers.get("content-length") or 0) > MAX_BATCH_BYTES:
        raise UnprocessableContent("The batch is too large.", errors=[
            {"field": "body", "code": "too_large", "message": "At most 20 MB"}])
    raw = await request.body()
    rows = parse_rows(raw, request.headers.get("content-type", ""))
    batch = await BatchService(session, state.settings).submit(principal, rows, idempotency_key, raw)
    processor = getattr(request.app.state, "batch_processor", None)
    if processor is not None:
        processor.wake.set()
    response.headers["Location"] = f"/identity/v1/students/batches/{batch.id}"
    return BatchOut.model_validate(batch)


@students.get("/students/batches/{batch_id}", response_model=BatchOut,
              summary="Progress, and one result per input row when done")
async def get_batch(batch_id: str, session: DbSession, state: State, principal: CurrentPrincipal,
                    response: Response) -> Any:
    batch, rows = await BatchService(session, state.settings).get(batch_id, principal)
    response.headers["Cache-Control"] = NO_STORE
    out = BatchOut.model_validate(batch)
    if batch.status == "done":
        out.results = [
            BatchRowResult(row_index=r.row_index, row_ref=r.row_ref, decision=r.decision,  # type: ignore[arg-type]
                           state_student_id=r.state_id, review_id=r.review_id, problem=r.problem)
            for r in rows
        ]
    return out


@students.post("/students/search", response_model=LocatorResults,
               summary="Student locator: find a state ID by name and birth date (level 4, logged)")
async def locate_students(body: LocatorSearch, session: DbSession, state: State,
                          principal: ClearedPrincipal, response: Response) -> dict[str, Any]:
    facts = PersonFacts(first_name=body.first_name, middle_name=body.middle_name, last_name=body.last_name,
                        birth_date=body.birth_date, sex=body.sex, guardian_names=tuple(body.guardian_names))
    results = await Locator(session, state.settings).search(principal, facts, sorted(body.model_fields_set))
    response.headers["Cache-Control"] = NO_STORE
    return {"results": results}


@students.get("/students/{state_student_id}", response_model=LocatorCard,
              summary="Locator fields of one student (a retired ID answers with its survivor)")
async def view_student(state_student_id: StateStudentId, session: DbSession, state: State,
                       principal: ClearedPrincipal, response: Response) -> dict[str, Any]:
    card = await Locator(session, state.settings).view(principal, state_student_id)
    response.headers["Cache-Control"] = NO_STORE
    return card


@students.post("/staff/resolve", response_model=StaffResolveResponse,
               summary="Find or assign the staff state ID for a district's staff member")
async def resolve_staff(body: StaffResolveRequest, session: DbSession, state: State,
                        principal: CurrentPrincipal, response: Response) -> dict[str, Any]:
    authorize_submission(principal, body.district_id)
    facts = PersonFacts(first_name=body.first_name, middle_name=body.middle_name, last_name=body.last_name,
                        suffix=body.suffix, birth_date=body.birth_date, sex=body.sex,
                        ssn_hash=ssn_hash(body.ssn.get_secret_value(), state.settings) if body.ssn else None)
    outcome = await Resolver(session, state.settings).resolve(
        facts, body.district_id, body.local_staff_id, principal.subject, kind="staff")
    response.headers["Cache-Control"] = NO_STORE
    return {"decision": outcome.decision, "staff_state_id": outcome.state_id,
            "review_id": outcome.review_id, "explanation": outcome.explanation}
