"""FastAPI dependencies shared by the services, as `Annotated` aliases.

`DbSession` is the one commit per request: handlers and repositories flush, never commit.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Annotated

from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from sqlalchemy.ext.asyncio import AsyncSession

from shared.db import read_only
from shared.errors import ClearanceRequired, Unauthorized
from shared.policy.access import lacks_clearance
from shared.policy.principal import Principal
from shared.state import ServiceState

_bearer = HTTPBearer(auto_error=False, description="A token from POST /identity/v1/oauth/token")


# async although it awaits nothing: FastAPI runs a plain `def` dependency in the thread pool, a
# hand-off to another thread and back on every request.
async def get_state(request: Request) -> ServiceState:
    return request.app.state.slds


State = Annotated[ServiceState, Depends(get_state)]


@asynccontextmanager
async def request_session(state: ServiceState) -> AsyncIterator[AsyncSession]:
    """The request's one transaction: committed when the block ends, rolled back on an error.
    For a handler that needs a session on some paths only (`DbSession` opens one for every call)."""
    async with state.db.sessionmaker() as session:
        try:
            yield session
        except BaseException:
            await session.rollback()
            raise
        else:
            await session.commit()


async def get_session(state: State) -> AsyncIterator[AsyncSession]:
    async with request_session(state) as session:
        yield session


# scope="function": the commit runs when the handler returns and before the response is sent, so
# a commit that fails is the client's 500, never a 200 for data that was not stored.
DbSession = Annotated[AsyncSession, Depends(get_session, scope="function")]


async def get_read_session(state: State) -> AsyncIterator[AsyncSession]:
    """A session that only reads and never commits. On SQLite it does not queue for the write
    lock, so another service can answer it while its caller holds that lock in process (the ban
    list, opt-out lookups)."""
    async with state.db.sessionmaker() as session:
        await read_only(session)
        try:
            yield session
        finally:
            await session.rollback()


ReadSession = Annotated[AsyncSession, Depends(get_read_session, scope="function")]


BearerCredentials = Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)]


async def authenticate(state: ServiceState, credentials: HTTPAuthorizationCredentials | None) -> Principal:
    """The caller behind a bearer token, charged to its rate limit."""
    if credentials is None or credentials.scheme.lower() != "bearer":
        raise Unauthorized("A bearer token is required.")
    return await authenticate_token(state, credentials.credentials)


async def authenticate_token(state: ServiceState, token: str) -> Principal:
    """`authenticate` for a token already taken out of its `Bearer` header."""
    principal = await state.verifier.verify(token)
    await state.limits.charge_principal(state.service, principal.subject)
    return principal


def require_clearance(principal: Principal) -> Principal:
    """For routes that return student PII: a person in a staff role without a current NDA and
    privacy training is refused (403 clearance-required) rather than answered as if the students
    did not exist; everyone else passes unchanged (issue 9)."""
    if lacks_clearance(principal):
        raise ClearanceRequired("Student records need a signed non-disclosure agreement and privacy training "
                                "completed within the year; ask your supervisor to record them, then sign in again.")
    return principal


async def get_principal(state: State, credentials: BearerCredentials) -> Principal:
    return await authenticate(state, credentials)


CurrentPrincipal = Annotated[Principal, Depends(get_principal)]


async def get_cleared_principal(principal: CurrentPrincipal) -> Principal:
    return require_clearance(principal)


ClearedPrincipal = Annotated[Principal, Depends(get_cleared_principal)]
