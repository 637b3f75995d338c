"""How a service authenticates to another: its own machine client with role `service`.

Records (and reporting) must write the disclosure log before they release PII to a party outside
the agency, and the party's own token must not be what writes that log. So each releasing service
holds a client `svc-<service>` whose secret is derived from the deployment secret
(`SLDS_SECRET_KEY`, which every service of a deployment already shares): nothing extra to
provision or rotate, and nobody without the deployment secret can obtain one. Identity recognises
these client ids, checks the derived secret in constant time and keeps a client row for each, so a
service client can be revoked like any other.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import time

import httpx

from shared.errors import ServiceUnavailable
from shared.settings import ServiceName, Settings

SERVICE_CLIENTS: frozenset[str] = frozenset({"svc-records", "svc-reporting"})
_RENEW_BEFORE_EXPIRY = 60.0


def service_client_id(service: ServiceName) -> str:
    return f"svc-{service}"


def service_client_secret(settings: Settings, client_id: str) -> str:
    return hmac.new(settings.resolved_secret_key(), f"slds service client {client_id}".encode(),
                    hashlib.sha256).hexdigest()


class ServiceToken:
    """The service's bearer token, fetched from identity's token endpoint and reused until a
    minute before it expires; unreachable identity fails closed (503)."""

    def __init__(self, identity: httpx.AsyncClient, settings: Settings, service: ServiceName) -> None:
        self._identity = identity
        self._client_id = service_client_id(service)
        self._secret = service_client_secret(settings, self._client_id)
        self._token: str | None = None
        self._renew_at = 0.0
        self._lock = asyncio.Lock()

    async def headers(self) -> dict[str, str]:
        if self._token is None or time.monotonic() >= self._renew_at:
            async with self._lock:
                if self._token is None or time.monotonic() >= self._renew_at:
                    await self._fetch()
        return {"Authorization": f"Bearer {self._token}"}

    def forget(self) -> None:
        """Drop the cached token (after a 401: revoked, or the signing key rotated away)."""
        self._token = None

    async def _fetch(self) -> None:
        try:
            response = await self._identity.post("/identity/v1/oauth/token", data={
                "grant_type": "client_credentials", "client_id": self._client_id, "client_secret": self._secret})
            response.raise_for_status()
            body = response.json()
            self._token = body["access_token"]
            self._renew_at = time.monotonic() + max(0.0, float(body["expires_in"]) - _RENEW_BEFORE_EXPIRY)
        except (httpx.HTTPError, KeyError, ValueError, TypeError):
            self._token = None
            raise ServiceUnavailable("This service cannot obtain its own token from identity.") from None
