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
from starlette.middleware.errors import ServerErrorMiddleware
from starlette.middleware.exceptions import ExceptionMiddleware
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


def install_student_read_route(app: FastAPI) -> StudentReadRoute:
    """Put the route in front of every other route of the app (it matches plain reads only)."""
    route = StudentReadRoute()
    app.router.routes.insert(0, route)
    return route


class PlainReadLane:
    """What serves the records app (`slds serve`, the gateway): a plain read goes through the
    app's own middleware (request id, access-log line) and exception handlers (problem+json)
    straight to `StudentReadRoute`; every other request, and the lifespan, goes to the app.

    A read through the app also passed FastAPI's other per-request layers (its telemetry hook, the
    body limit, an exit stack, the router's walk) and Starlette's: about a tenth of a plain read's
    CPU in the app, none of it used by this route (it takes no body, no dependency, and matches
    first anyway). Not used when OpenTelemetry is on: traces go through FastAPI's hook."""

    def __init__(self, app: FastAPI, route: StudentReadRoute) -> None:
        self.app = app
        self.route = route  # the one the app's router holds
        self._stack: ASGIApp | None = None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            match, child = self.route.matches(scope)
            if match is Match.FULL:
                scope.update(child)
                scope["app"] = self.app  # what Starlette and the router would have set
                scope["router"] = self.app.router
                await (self._stack or self._build())(scope, receive, send)
                return
        await self.app(scope, receive, send)

    def _build(self) -> ASGIApp:
        """The app's middleware stack as Starlette builds it (`build_middleware_stack`), around the
        route alone: server errors outermost, then the app's own middleware, then its handlers."""
        server_error, handlers = None, {}
        for key, handler in self.app.exception_handlers.items():
            if key in (500, Exception):
                server_error = handler
            else:
                handlers[key] = handler
        stack: ASGIApp = ExceptionMiddleware(self.route.app, handlers=handlers, debug=self.app.debug)
        for cls, args, kwargs in reversed(self.app.user_middleware):
            stack = cls(stack, *args, **kwargs)
        self._stack = ServerErrorMiddleware(stack, handler=server_error, debug=self.app.debug)
        return self._stack
