"""One exception hierarchy and RFC 9457 problem+json for every error a service returns.

Validation problems name the field, never its value (values may be PII), and no stack trace ever
reaches a client.
"""

from __future__ import annotations

import logging
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from shared.request_context import current_request_id

PROBLEM_JSON = "application/problem+json"
PROBLEM_BASE = "https://slds.example.gov/problems/"

logger = logging.getLogger("slds.errors")


class SLDSError(Exception):
    status: int = 500
    code: str = "internal-error"
    title: str = "Internal server error"

    def __init__(
        self,
        detail: str | None = None,
        *,
        headers: dict[str, str] | None = None,
        **extensions: Any,
    ) -> None:
        super().__init__(detail or self.title)
        self.detail = detail
        self.headers = headers or {}
        self.extensions = extensions


class BadRequest(SLDSError):
    status, code, title = 400, "bad-request", "Bad request"


class Unauthorized(SLDSError):
    status, code, title = 401, "unauthorized", "Authentication required"

    def __init__(self, detail: str | None = None, **kw: Any) -> None:
        kw.setdefault("headers", {"WWW-Authenticate": 'Bearer error="invalid_token"'})
        super().__init__(detail, **kw)


class Forbidden(SLDSError):
    status, code, title = 403, "forbidden", "Not allowed"


class ClearanceRequired(Forbidden):
    """A person in a staff role without a signed NDA and current privacy training (issue 9):
    no student PII until both are recorded (then from their next token)."""

    code, title = "clearance-required", "Clearance required: a current NDA and privacy training"


class NotFound(SLDSError):
    status, code, title = 404, "not-found", "Not found"


class Conflict(SLDSError):
    status, code, title = 409, "conflict", "Conflict"


class PreconditionFailed(SLDSError):
    status, code, title = 412, "precondition-failed", "Precondition failed"


class UnprocessableContent(SLDSError):
    status, code, title = 422, "validation-error", "The request is not valid"


class TooManyRequests(SLDSError):
    status, code, title = 429, "too-many-requests", "Too many requests"


class ServiceUnavailable(SLDSError):
    status, code, title = 503, "service-unavailable", "Service unavailable"


def problem_response(
    status: int,
    code: str,
    title: str,
    detail: str | None = None,
    *,
    instance: str | None = None,
    headers: dict[str, str] | None = None,
    **extensions: Any,
) -> JSONResponse:
    body: dict[str, Any] = {"type": PROBLEM_BASE + code, "title": title, "status": status}
    if detail:
        body["detail"] = detail
    if instance:
        body["instance"] = instance
    body["request_id"] = current_request_id()
    # Extensions add members; they never replace the RFC 9457 ones (an extension named "status"
    # must not change the status a client reads).
    body.update({k: v for k, v in extensions.items() if k not in body})
    return JSONResponse(body, status_code=status, media_type=PROBLEM_JSON, headers=headers)


def _field_path(loc: tuple[Any, ...] | list[Any]) -> str:
    # ("body", "guardians", 0, "last_name") -> "body.guardians[0].last_name"
    out = ""
    for part in loc:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out


def validation_problems(errors: list[Any]) -> list[dict[str, str]]:
    """Every problem at once, each naming its field; pydantic's `input` and `ctx` are dropped
    because they can carry the submitted value."""
    return [
        {"field": _field_path(err.get("loc", ())), "code": err.get("type", "invalid"),
         "message": _safe_message(err)}
        for err in errors
    ]


def _safe_message(err: dict[str, Any]) -> str:
    # Pydantic's own messages never quote the input. Ours ("value_error") are written never to
    # quote it either (a rule for every validator in this codebase); assertions get a generic text.
    message = str(err.get("msg", "Value is not valid"))
    if err.get("type") == "assertion_error":
        return "Value is not valid"
    return message.removeprefix("Value error, ")


def database_unreachable(exc: BaseException) -> bool:
    """A lost or refused database connection (server restarted, backend terminated, network cut),
    as opposed to a bug: the first is the client's to retry (503), the second ours (500)."""
    from sqlalchemy.exc import DBAPIError, InterfaceError, OperationalError

    seen: list[BaseException] = []
    pending: list[BaseException | None] = [exc]
    while pending and len(seen) < 12:  # the exception, what it wraps (`orig`), and their causes
        error = pending.pop()
        if error is None or any(error is s for s in seen):
            continue
        seen.append(error)
        if isinstance(error, DBAPIError) and (error.connection_invalidated
                                              or isinstance(error, InterfaceError | OperationalError)):
            return True
        if isinstance(error, ConnectionError | TimeoutError):
            return True
        if type(error).__name__ in _ASYNCPG_LOST and "asyncpg" in type(error).__module__:
            return True
        pending += [getattr(error, "orig", None), error.__cause__, error.__context__]
    return False


_ASYNCPG_LOST = frozenset({"ConnectionDoesNotExistError", "InterfaceError", "AdminShutdownError",
                           "CannotConnectNowError", "ConnectionFailureError", "ConnectionRejectionError"})


def _database_error_classes() -> list[type[BaseException]]:
    from sqlalchemy.exc import DBAPIError

    classes: list[type[BaseException]] = [DBAPIError, ConnectionError, TimeoutError]
    try:
        import asyncpg

        classes += [asyncpg.exceptions.InterfaceError, asyncpg.exceptions.PostgresConnectionError]
    except ImportError:  # SQLite-only installs
        pass
    return classes


def install_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(SLDSError)
    async def _slds_error(request: Request, exc: SLDSError) -> JSONResponse:
        return problem_response(
            exc.status, exc.code, exc.title, exc.detail, headers=exc.headers, **exc.extensions
        )

    @app.exception_handler(RequestValidationError)
    async def _validation_error(request: Request, exc: RequestValidationError) -> JSONResponse:
        return problem_response(
            422, "validation-error", "The request is not valid",
            "See 'errors' for every field that needs attention.",
            errors=validation_problems(list(exc.errors())),
        )

    @app.exception_handler(StarletteHTTPException)
    async def _http_error(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        titles = {404: ("not-found", "Not found"), 405: ("method-not-allowed", "Method not allowed")}
        code, title = titles.get(exc.status_code, ("http-error", "HTTP error"))
        return problem_response(exc.status_code, code, title, headers=getattr(exc, "headers", None))

    # Registered by class (not only under Exception) so that Starlette's ExceptionMiddleware answers
    # them: the catch-all handler runs in ServerErrorMiddleware, which re-raises and logs a 500.
    async def _database_error(request: Request, exc: Exception) -> JSONResponse:
        if database_unreachable(exc):
            # The transaction died with its connection: nothing of it was committed, and the pool
            # has dropped the connection, so a retry gets a fresh one (issue 8, fault injection).
            logger.warning("database connection lost", extra={"error_type": type(exc).__name__})
            return problem_response(503, "database-unavailable", "Database unavailable",
                                    "The database connection was lost; nothing was stored. Retry the request.",
                                    headers={"Retry-After": "1"})
        logger.exception("unhandled error", extra={"error_type": type(exc).__name__})
        return problem_response(500, "internal-error", "Internal server error",
                                "The error was logged with this request id.")

    for error_class in _database_error_classes():
        app.add_exception_handler(error_class, _database_error)

    @app.exception_handler(Exception)
    async def _unhandled(request: Request, exc: Exception) -> JSONResponse:
        logger.exception("unhandled error", extra={"error_type": type(exc).__name__})
        return problem_response(500, "internal-error", "Internal server error",
                                "The error was logged with this request id.")
