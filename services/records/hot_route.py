"""`GET /records/v1/students/{state_student_id}` without FastAPI's per-request machinery.

The single-record read is what dashboards and SIS clients call all day. Through FastAPI each one
paid for building a `Request`, solving the dependency graph (bearer scheme, the caller, two query
parameters through Pydantic) and an exit stack, which together cost more CPU than the read's own
policy and projection. This route sits in front of the documented FastAPI route and runs the same
steps by hand for a plain read: one bearer token and at most a `purpose`. Anything else (`as_of`,
another parameter, a repeated or over-long `purpose`, a missing or malformed `Authorization`
header) falls through to the FastAPI route untouched, so its validation and error answers stay the
one definition. Both call `answer_student_read` and `caller_for`, so what a read answers and logs is
decided in one place; errors raised here reach the same exception handlers (problem+json).
"""

from __future__ import annotations

from urllib.parse import parse_qsl

from fastapi import FastAPI
from starlette.routing import Match, Route
from starlette.types import ASGIApp, Receive, Scope, Send

from services.records.record_endpoints import answer_student_read
from services.records.releases import caller_for
from shared.deps import authenticate_token, require_clearance
from shared.state import ServiceState

READ_PATH = "/records/v1/students/{state_student_id}"  # the documented route's path
PURPOSE_MAX = 200  # the `Purpose` query parameter's max_length on the FastAPI route
PLAIN_READ = "slds.plain_read"  # scope key: what `matches` parsed, for the answer


def plain_read(scope: Scope) -> tuple[str, str, str | None] | None:
    """(authorization header, token, purpose) of a read this route answers; None sends the request
    to the FastAPI route."""
    authorization = None
    for name, value in scope["headers"]:
        if name == b"authorization":
            authorization = value.decode("latin-1")
            break  # the first one, as Starlette's `Headers.get`
    if not authorization:
        return None
    scheme, _, token = authorization.partition(" ")
    token = token.strip()
    if scheme.lower() != "bearer" or not token:
        return None
    purpose = None
    query = scope.get("query_string", b"")
    if query:
        pairs = parse_qsl(query.decode("latin-1"), keep_blank_values=True)
        if len(pairs) != 1 or pairs[0][0] != "purpose" or not 0 < len(pairs[0][1]) <= PURPOSE_MAX:
            return None
        purpose = pairs[0][1]
    return authorization, token, purpose


class StudentReadRoute(Route):
    """Matches a plain GET only; anything else (HEAD, other methods, other parameters, no token)
    goes on to the routes behind it, the documented FastAPI route among them, as before."""

    def __init__(self) -> None:
        super().__init__(READ_PATH, self._answer, methods=["GET"], name="read_student_plain",
                         include_in_schema=False)
        self.app: ASGIApp = self._answer  # an ASGI app, not wrapped as a request/response endpoint

    def matches(self, scope: Scope) -> tuple[Match, Scope]:
        if scope.get("type") != "http" or scope.get("method") != "GET":
            return Match.NONE, {}
        match, child = super().matches(scope)
        if match is not Match.FULL:
            return Match.NONE, {}
        plain = plain_read(scope)
        if plain is None:
            return Match.NONE, {}
        child["route"] = self  # the access-log line names the route by its path, the same as the documented one's
        child[PLAIN_READ] = plain
        return match, child

    async def _answer(self, scope: Scope, receive: Receive, send: Send) -> None:
        authorization, token, purpose = scope[PLAIN_READ]
        state: ServiceState = scope["app"].state.slds
        principal = require_clearance(await authenticate_token(state, token))
        caller = await caller_for(state, principal, authorization)
        response = await answer_student_read(state, caller, scope["path_params"]["state_student_id"], None, purpose)
        await response(scope, receive, send)


def install_student_read_route(app: FastAPI) -> None:
    """Put the route in front of every other route of the app (it matches plain reads only)."""
    app.router.routes.insert(0, StudentReadRoute())
