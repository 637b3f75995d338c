"""The request id of the request being served, for logs, problems and calls to other services."""

from __future__ import annotations

import random
import re
from contextvars import ContextVar

_request_id: ContextVar[str | None] = ContextVar("slds_request_id", default=None)
_VALID = re.compile(r"^[A-Za-z0-9._-]{8,64}$")


def current_request_id() -> str | None:
    return _request_id.get()


def accept_request_id(incoming: str | None) -> str:
    """Keep a caller's well-formed X-Request-ID (so a trace spans services); otherwise mint one."""
    # 128 random bits as 32 hex digits, the shape `uuid4().hex` gave. From `random`, not the OS: a
    # request id names a request in logs and answers and guards nothing, and `os.urandom` was a
    # system call per request. (`random` is seeded from the OS in each process, reseeded on fork.)
    return incoming if incoming and _VALID.match(incoming) else f"{random.getrandbits(128):032x}"


def set_request_id(value: str | None):
    return _request_id.set(value)


def reset_request_id(token) -> None:
    _request_id.reset(token)
