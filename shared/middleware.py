"""ASGI middleware every service runs: request id in and out, one JSON access-log line."""

from __future__ import annotations

import logging
import time

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from shared.errors import problem_response
from shared.request_context import accept_request_id, reset_request_id, set_request_id

access_logger = logging.getLogger("slds.access")


class RequestContextMiddleware:
    def __init__(self, app: ASGIApp, service: str) -> None:
        self.app = app
        self.service = service

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        incoming = b""
        for name, value in scope["headers"]:
            if name == b"x-request-id":
                incoming = value  # the last one, as a dict of the headers would keep
        request_id = accept_request_id(incoming.decode("latin-1"))
        token = set_request_id(request_id)
        started = time.perf_counter()
        status = 500

        async def send_with_id(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                headers = list(message.get("headers", []))
                headers.append((b"x-request-id", request_id.encode()))
                message["headers"] = headers
            await send(message)

        try:
            where = _nul_in_url(scope)
            if where is None and scope["method"] in ("POST", "PUT", "PATCH"):
                receive, found = await _body_without_nul(scope, receive)
                where = "body" if found else None
            if where:
                await _nul_problem(where)(scope, receive, send_with_id)
            else:
                await self.app(scope, receive, send_with_id)
        finally:
            if access_logger.isEnabledFor(logging.INFO):  # the line's fields are not built for nothing
                route = scope.get("route")
                access_logger.info(
                    "request",
                    extra={
                        "service": self.service,
                        "method": scope["method"],
                        "route": getattr(route, "path", "unmatched"),
                        "status": status,
                        "duration_ms": round((time.perf_counter() - started) * 1000, 2),
                    },
                )
            reset_request_id(token)


# NUL characters: PostgreSQL's text type cannot store them (asyncpg raises, which was a 500 on
# any endpoint that stored or looked up a string), no legitimate value contains one, and they are
# a classic way to cut a string short in a downstream tool. Refused at the door with a 422 naming
# where it was (path, query or body), never echoing it.
_NUL_PATTERNS = (b"\x00", b"\\u0000")


def _nul_in_url(scope: Scope) -> str | None:
    if "\x00" in scope.get("path", ""):
        return "path"
    query = scope.get("query_string", b"")
    if b"\x00" in query or b"%00" in query:
        return "query"
    return None


def _nul_problem(where: str) -> ASGIApp:
    return problem_response(422, "validation-error", "The request is not valid",
                            "See 'errors' for every field that needs attention.",
                            errors=[{"field": where, "code": "nul_character",
                                     "message": "NUL characters are not accepted"}])


async def _body_without_nul(scope: Scope, receive: Receive) -> tuple[Receive, bool]:
    """Read the whole body (every route reads it whole anyway), check it, and hand the app a
    receive that replays it. Raising from inside the app's own body read would reach the client
    as FastAPI's generic 400, so the check happens here, before the app runs."""
    chunks: list[bytes] = []
    while True:
        message = await receive()
        if message["type"] != "http.request":
            chunks = []
            break
        chunks.append(message.get("body", b""))
        if not message.get("more_body", False):
            break
    body = b"".join(chunks)
    form = any(k == b"content-type" and v.startswith(b"application/x-www-form-urlencoded")
               for k, v in scope.get("headers", []))
    patterns = (*_NUL_PATTERNS, b"%00") if form else _NUL_PATTERNS
    found = any(p in body for p in patterns)
    sent = False

    async def replay() -> Message:
        nonlocal sent
        if not sent:
            sent = True
            return {"type": "http.request", "body": body, "more_body": False}
        return await receive()

    return replay, found
