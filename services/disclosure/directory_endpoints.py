"""Directory information opt-outs over HTTP (rules in `directory.py`)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Response

from services.disclosure import directory as rules
from services.disclosure.common import NO_STORE
from services.disclosure.models import DirectoryOptOut
from services.disclosure.schemas import DirectoryLookupIn, DirectoryLookupOut, DirectoryOptOutOut
from shared.deps import ClearedPrincipal, CurrentPrincipal, DbSession, ReadSession

directory = APIRouter(prefix="/disclosure/v1", tags=["directory information"])

StudentId = Annotated[str, Path(max_length=16)]
PATH = "/students/{state_student_id}/directory-opt-out"


def _out(state_student_id: str, row: DirectoryOptOut | None) -> DirectoryOptOutOut:
    if row is None:
        return DirectoryOptOutOut(state_student_id=state_student_id, opted_out=False)
    return DirectoryOptOutOut(state_student_id=state_student_id, opted_out=row.withdrawn_at is None,
                              opted_out_at=row.opted_out_at, withdrawn_at=row.withdrawn_at)


@directory.get(PATH, response_model=DirectoryOptOutOut,
               summary="Whether the student is opted out of directory information (the family; stewards)",
               responses={404: {"description": "Not a student of yours"}})
async def get_status(state_student_id: StudentId, session: DbSession, principal: ClearedPrincipal,
                     response: Response) -> DirectoryOptOutOut:
    response.headers.update(NO_STORE)
    return _out(state_student_id, await rules.status(session, principal, state_student_id))


@directory.put(PATH, response_model=DirectoryOptOutOut,
               summary="Opt the student out of directory information (the parent or eligible student; stewards)",
               responses={404: {"description": "Not a student of yours"}})
async def opt_out(state_student_id: StudentId, session: DbSession, principal: CurrentPrincipal,
                  response: Response) -> DirectoryOptOutOut:
    """34 CFR 99.37(a)(2). Takes effect at the records service on the next read; repeating it
    changes nothing."""
    response.headers.update(NO_STORE)
    return _out(state_student_id, await rules.opt_out(session, principal, state_student_id))


@directory.delete(PATH, response_model=DirectoryOptOutOut,
                  summary="Withdraw the opt-out (the parent or eligible student; stewards)",
                  responses={404: {"description": "Not a student of yours"}})
async def withdraw(state_student_id: StudentId, session: DbSession, principal: CurrentPrincipal,
                   response: Response) -> DirectoryOptOutOut:
    response.headers.update(NO_STORE)
    return _out(state_student_id, await rules.withdraw(session, principal, state_student_id))


@directory.post("/directory-opt-outs/lookup", response_model=DirectoryLookupOut,
                summary="Which of these students are opted out (the releasing services; stewards)")
async def lookup(body: DirectoryLookupIn, session: ReadSession, principal: CurrentPrincipal,
                 response: Response) -> DirectoryLookupOut:
    response.headers.update(NO_STORE)
    return DirectoryLookupOut(opted_out=await rules.opted_out(session, principal, body.students))
