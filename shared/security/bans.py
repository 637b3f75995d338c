"""Bans at token verification: a party found to have redisclosed improperly is barred from student
data for five years (34 CFR 99.33(e)), and "its clients and tokens are refused at every service".

The disclosure service owns the bans and publishes the banned principal subjects as a public list,
like identity's revocation list (opaque `user:`/`client:` ids, no student data). Every service's
`TokenVerifier` consults it next to identity's list (`AnyRevocation`), so a ban takes effect at all
four services within `revocation_cache_seconds`, whatever tokens the party already holds.
Unreachable disclosure fails closed (503), as unreachable identity does.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable

import httpx

from shared.errors import ServiceUnavailable
from shared.security.tokens import ClientFactory, RevocationSource, TTLCache

BANNED_SUBJECTS_PATH = "/disclosure/v1/bans/subjects"


class HttpBanSource:
    """The banned subjects, fetched from disclosure at most once per `ttl` seconds."""

    def __init__(self, client: ClientFactory, path: str = BANNED_SUBJECTS_PATH, *, ttl: float) -> None:
        self._client = client
        self._path = path
        self._cache = TTLCache(self._fetch, ttl)

    async def _fetch(self) -> frozenset[str]:
        try:
            response = await self._client().get(self._path)
            response.raise_for_status()
            return frozenset(response.json()["banned_subjects"])
        except (httpx.HTTPError, KeyError, ValueError, TypeError):
            raise ServiceUnavailable("The disclosure service's ban list cannot be reached.") from None

    async def is_revoked(self, subject: str, token_id: str) -> bool:
        return subject in await self._cache.get()


class LocalBanSource:
    """The same list read straight from the owner's tables (the disclosure service itself)."""

    def __init__(self, fetch: Callable[[], Awaitable[frozenset[str]]], *, ttl: float) -> None:
        self._cache = TTLCache(fetch, ttl)

    async def is_revoked(self, subject: str, token_id: str) -> bool:
        return subject in await self._cache.get()


class AnyRevocation:
    """Revoked if any source says so; every source is asked (so each fails closed on its own)."""

    def __init__(self, *sources: RevocationSource) -> None:
        self._sources = sources

    async def is_revoked(self, subject: str, token_id: str) -> bool:
        for source in self._sources:
            if await source.is_revoked(subject, token_id):
                return True
        return False
