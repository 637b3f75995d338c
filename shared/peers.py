"""HTTP clients for calling the other services (httpx), in-process or over the network.

When the four services run mounted in one process, calls go through `DeferredASGITransport` to the
gateway itself, with no socket; when they run apart, through the network to `SLDS_IDENTITY_URL`
and `SLDS_DISCLOSURE_URL`. Either way the caller's X-Request-ID travels with the call.
"""

from __future__ import annotations

from dataclasses import dataclass

import httpx
from starlette.types import ASGIApp

from shared.request_context import current_request_id


class DeferredASGITransport(httpx.AsyncBaseTransport):
    """An ASGI transport whose target app is set after construction (the gateway that mounts the
    apps is built after the apps themselves)."""

    def __init__(self) -> None:
        self._transport: httpx.ASGITransport | None = None

    def bind(self, app: ASGIApp) -> None:
        self._transport = httpx.ASGITransport(app=app)

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        if self._transport is None:
            raise httpx.ConnectError("in-process peer transport is not bound to an app")
        return await self._transport.handle_async_request(request)


async def _add_request_id(request: httpx.Request) -> None:
    request_id = current_request_id()
    if request_id and "x-request-id" not in request.headers:
        request.headers["X-Request-ID"] = request_id


def peer_client(base_url: str, transport: httpx.AsyncBaseTransport | None = None) -> httpx.AsyncClient:
    """A client for one peer: over the network when `base_url` is set, else in process."""
    return httpx.AsyncClient(
        base_url=base_url or "http://slds.internal",
        transport=None if base_url else transport,
        timeout=httpx.Timeout(10.0, connect=3.0),
        event_hooks={"request": [_add_request_id]},
    )


@dataclass
class Peers:
    """The services a service calls: identity (keys, revocations, person status) and disclosure
    (bans, agreements' grants, the disclosure log)."""

    identity: httpx.AsyncClient
    disclosure: httpx.AsyncClient

    @classmethod
    def open(cls, identity_url: str, disclosure_url: str, transport: httpx.AsyncBaseTransport | None) -> Peers:
        return cls(peer_client(identity_url, transport), peer_client(disclosure_url, transport))

    async def aclose(self) -> None:
        await self.identity.aclose()
        await self.disclosure.aclose()
