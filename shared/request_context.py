"""The request id of the request being served, for logs, problems and calls to other services."""

from __future__ import annotations

import os
import random
import re
from contextvars import ContextVar

_request_id: ContextVar[str | None] = ContextVar("slds_request_id", default=None)
_VALID = re.compile(r"^[A-Za-z0-9._-]{8,64}$")

# Minted ids come from a generator of their own, seeded by the OS in each process (and again in a
# forked child, which would otherwise repeat its parent's ids), not from `os.urandom`: that was a
# system call per request, and a request id names a request in logs and answers; it guards nothing.
# Its own, so that code seeding the `random` module cannot make ids repeat.
_minted = random.Random()
if hasattr(os, "register_at_fork"):  # POSIX
    os.register_at_fork(after_in_child=_minted.seed)


def current_request_id() -> str | None:
    return _request_id.get()


def accept_request_id(incoming: str | None) -> str:
    """Keep a caller's well-formed X-Request-ID (so a trace spans services); otherwise mint one."""
    # 128 random bits as 32 hex digits, the shape `uuid4().hex` gave.
    return incoming if incoming and _VALID.match(incoming) else f"{_minted.getrandbits(128):032x}"


def set_request_id(value: str | None):
    return _request_id.set(value)


def reset_request_id(token) -> None:
    _request_id.reset(token)
