"""The one place where tokens are made and checked (python-jose behind this module).

Verification refuses, before any signature work: tokens over the size limit, any `alg` but the one
configured (so `none` and HS256-with-our-public-key fail), `jku`/`x5u`/`jwk`/`x5c`/`crit` headers,
and a `kid` outside our own key set. Then it requires `iss`, `aud`, `exp`, `iat`, `sub` and `jti`,
bounds the lifetime, and asks the revocation source whether the account or client is disabled.
"""

from __future__ import annotations

import asyncio
import json
import time
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import date
from functools import cached_property
from typing import Any, Literal, Protocol

import httpx
from jose import jwk, jwt
from jose.exceptions import ExpiredSignatureError, JOSEError, JWTClaimsError
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from shared.errors import ServiceUnavailable, Unauthorized
from shared.policy.principal import Principal

FORBIDDEN_HEADERS = frozenset({"jku", "x5u", "jwk", "x5c", "crit"})
CLOCK_SKEW_SECONDS = 60
MAX_LIFETIME_SECONDS = 3600


class OrgScope(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    state: str | None = None
    districts: list[str] = Field(default_factory=list)
    schools: list[str] = Field(default_factory=list)


class TokenClaims(BaseModel):
    """The claims we issue. Unknown claims are ignored on input, never trusted. Frozen: verified
    claims are kept and handed out again (`TokenVerifier`)."""

    model_config = ConfigDict(extra="ignore", frozen=True)
    iss: str
    aud: str
    sub: str = Field(min_length=3, max_length=200)
    iat: int
    exp: int
    jti: str = Field(min_length=8, max_length=100)
    kind: Literal["user", "client"]
    role: str = Field(min_length=1, max_length=64)
    org: OrgScope = OrgScope()
    staff_id: str | None = None
    students: list[str] = Field(default_factory=list)
    # People: the last day their NDA and privacy training clear them for student PII (issue 9).
    # Absent: not cleared. Judged again at each token, so a recording counts from the next one.
    cleared_until: date | None = None

    def to_principal(self) -> Principal:
        """The principal these claims make, built once: verified claims are kept and handed out
        again for every request the token makes, and `Principal` is frozen too."""
        return self._principal

    @cached_property
    def _principal(self) -> Principal:
        return Principal(
            subject=self.sub,
            kind=self.kind,
            role=self.role,
            state=self.org.state,
            district_ids=frozenset(self.org.districts),
            school_ids=frozenset(self.org.schools),
            staff_id=self.staff_id,
            student_ids=frozenset(self.students),
            token_id=self.jti,
            cleared_until=self.cleared_until,
        )


@dataclass(frozen=True, slots=True)
class TokenSubject:
    """What identity knows about whoever asks for a token."""

    subject: str
    kind: Literal["user", "client"]
    role: str
    state: str | None = None
    district_ids: tuple[str, ...] = ()
    school_ids: tuple[str, ...] = ()
    staff_id: str | None = None
    student_ids: tuple[str, ...] = ()
    cleared_until: date | None = None


def issue_token(
    subject: TokenSubject,
    *,
    private_pem: str,
    kid: str,
    algorithm: str,
    issuer: str,
    audience: str,
    lifetime_seconds: int,
    now: float | None = None,
) -> tuple[str, TokenClaims]:
    issued = int(now if now is not None else time.time())
    claims = TokenClaims(
        iss=issuer,
        aud=audience,
        sub=subject.subject,
        iat=issued,
        exp=issued + min(lifetime_seconds, MAX_LIFETIME_SECONDS),
        jti=uuid.uuid4().hex,
        kind=subject.kind,
        role=subject.role,
        org=OrgScope(
            state=subject.state,
            districts=list(subject.district_ids),
            schools=list(subject.school_ids),
        ),
        staff_id=subject.staff_id,
        students=list(subject.student_ids),
        cleared_until=subject.cleared_until,
    )
    payload = claims.model_dump(mode="json", exclude_none=True)
    token = jwt.encode(payload, private_pem, algorithm=algorithm, headers={"kid": kid, "typ": "JWT"})
    return token, claims


class KeySource(Protocol):
    async def get_key(self, kid: str) -> dict[str, Any] | None: ...


class RevocationSource(Protocol):
    async def is_revoked(self, subject: str, token_id: str) -> bool: ...


class TokenVerifier:
    def __init__(
        self,
        *,
        algorithm: str,
        issuer: str,
        audience: str,
        keys: KeySource,
        revocations: RevocationSource,
        max_token_bytes: int = 8192,
    ) -> None:
        self.algorithm = algorithm
        self.issuer = issuer
        self.audience = audience
        self.keys = keys
        self.revocations = revocations
        self.max_token_bytes = max_token_bytes
        # Building a key object from its JWK costs more than checking the signature; keyed by the
        # JWK's content, so a rotated or changed key is built afresh.
        self._key_objects: dict[str, Any] = {}
        # Tokens that passed the signature and claim checks, by their exact text, with the key
        # that verified them: a client sends the same token for up to an hour, and decoding and
        # the ES256 check cost ~0.3 ms of CPU a request. What time or state can change is checked
        # at every use: expiry, the key still published unchanged, the lifetime, revocation.
        self._verified: dict[str, tuple[str, dict[str, Any], TokenClaims]] = {}

    def _key_object(self, key: dict[str, Any]) -> Any:
        cache_key = json.dumps(key, sort_keys=True)
        built = self._key_objects.get(cache_key)
        if built is None:
            built = jwk.construct(key, self.algorithm)
            if len(self._key_objects) >= 64:
                self._key_objects.clear()
            self._key_objects[cache_key] = built
        return built

    async def verify(self, token: str) -> Principal:
        return (await self.verify_claims(token)).to_principal()

    async def verify_claims(self, token: str) -> TokenClaims:
        if len(token.encode()) > self.max_token_bytes:
            raise Unauthorized("The token is too large.")
        claims = await self._signed_claims(token)
        now = time.time()
        if claims.iat > now + CLOCK_SKEW_SECONDS or claims.exp - claims.iat > MAX_LIFETIME_SECONDS:
            raise Unauthorized("The token's lifetime is not accepted.")
        if await self.revocations.is_revoked(claims.sub, claims.jti):
            raise Unauthorized("The account or client has been disabled.")
        return claims

    async def _signed_claims(self, token: str) -> TokenClaims:
        """The claims of a token signed by one of our keys for us, and not expired."""
        known = self._verified.get(token)
        if known is not None:
            kid, key, claims = known
            # At or past `exp` the full check below decides (and refuses), as for a new token.
            if time.time() < claims.exp and await self.keys.get_key(kid) == key:
                return claims
            self._verified.pop(token, None)
        try:
            header = jwt.get_unverified_header(token)
        except JOSEError:
            raise Unauthorized("The token is malformed.") from None
        if header.get("alg") != self.algorithm:
            raise Unauthorized("The token's algorithm is not accepted.")
        if FORBIDDEN_HEADERS & header.keys():
            raise Unauthorized("The token carries a header that is not accepted.")
        kid = header.get("kid")
        if not isinstance(kid, str) or not kid:
            raise Unauthorized("The token has no key id.")
        key = await self.keys.get_key(kid)
        if key is None:
            raise Unauthorized("The token was not signed by a key of this system.")
        try:
            raw = jwt.decode(
                token,
                self._key_object(key),
                algorithms=[self.algorithm],
                audience=self.audience,
                issuer=self.issuer,
                options={
                    "require_iat": True, "require_exp": True, "require_sub": True,
                    "require_iss": True, "require_aud": True, "require_jti": True,
                    "leeway": 0,
                },
            )
            claims = TokenClaims.model_validate(raw)
        except ExpiredSignatureError:
            raise Unauthorized("The token has expired.") from None
        except (JWTClaimsError, JOSEError, ValidationError):
            raise Unauthorized("The token is not valid.") from None
        if len(self._verified) >= 4096:
            self._verified.clear()
        self._verified[token] = (kid, key, claims)
        return claims


class TTLCache:
    """A value fetched at most once per `ttl` seconds; concurrent callers share one fetch."""

    def __init__(self, fetch: Callable[[], Awaitable[Any]], ttl: float) -> None:
        self._fetch = fetch
        self._ttl = ttl
        self._value: Any = None
        self._fetched_at = float("-inf")
        self._lock = asyncio.Lock()

    def age(self) -> float:
        return time.monotonic() - self._fetched_at

    async def get(self, *, max_age: float | None = None) -> Any:
        limit = self._ttl if max_age is None else max_age
        if self.age() < limit and self._value is not None:
            return self._value
        async with self._lock:
            if self.age() < limit and self._value is not None:
                return self._value
            self._value = await self._fetch()
            self._fetched_at = time.monotonic()
            return self._value


ClientFactory = Callable[[], httpx.AsyncClient]


class CachedKeySet:
    """A key set fetched at most once per `ttl`, refetched when an unknown `kid` appears (a
    rotation), but no more often than `min_refresh` so random kids cannot flood the source."""

    def __init__(self, fetch: Callable[[], Awaitable[dict[str, dict[str, Any]]]], *, ttl: float,
                 min_refresh: float) -> None:
        self._min_refresh = min_refresh
        self._cache = TTLCache(fetch, ttl)

    async def get_key(self, kid: str) -> dict[str, Any] | None:
        keys = await self._cache.get()
        if kid not in keys and self._cache.age() >= self._min_refresh:
            keys = await self._cache.get(max_age=self._min_refresh)
        return keys.get(kid)


class HttpJwksKeySource(CachedKeySet):
    """Public keys from identity's JWKS endpoint."""

    def __init__(self, client: ClientFactory, path: str, *, ttl: float, min_refresh: float) -> None:
        self._client = client
        self._path = path
        super().__init__(self._fetch, ttl=ttl, min_refresh=min_refresh)

    async def _fetch(self) -> dict[str, dict[str, Any]]:
        try:
            response = await self._client().get(self._path)
            response.raise_for_status()
            keys = response.json()["keys"]
        except (httpx.HTTPError, KeyError, ValueError):
            raise ServiceUnavailable("The identity service's key set cannot be reached.") from None
        return {k["kid"]: k for k in keys if isinstance(k, dict) and "kid" in k}


class HttpRevocationSource:
    """Disabled accounts and revoked clients, like a certificate revocation list: a public list of
    opaque subject ids, cached for a few seconds. Unreachable identity fails closed (503)."""

    def __init__(self, client: ClientFactory, path: str, *, ttl: float) -> None:
        self._client = client
        self._path = path
        self._cache = TTLCache(self._fetch, ttl)

    async def _fetch(self) -> tuple[frozenset[str], frozenset[str]]:
        try:
            response = await self._client().get(self._path)
            response.raise_for_status()
            body = response.json()
            return frozenset(body["disabled_subjects"]), frozenset(body["revoked_token_ids"])
        except (httpx.HTTPError, KeyError, ValueError, TypeError):
            raise ServiceUnavailable("The identity service's revocation list cannot be reached.") from None

    async def is_revoked(self, subject: str, token_id: str) -> bool:
        subjects, token_ids = await self._cache.get()
        return subject in subjects or token_id in token_ids
