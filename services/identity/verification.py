"""How identity verifies tokens itself: straight from its own tables, no HTTP to itself."""

from __future__ import annotations

from typing import Any

from services.identity.repository import REFUSED, AccountRepository
from services.identity.service import KeyService
from shared.app import disclosure_bans
from shared.db import RawStatement, read_only
from shared.peers import Peers
from shared.security.bans import AnyRevocation
from shared.security.tokens import CachedKeySet, TokenVerifier
from shared.settings import Settings
from shared.state import Database


class DbKeySource(CachedKeySet):
    def __init__(self, db: Database, settings: Settings) -> None:
        self._db = db
        self._settings = settings
        super().__init__(self._fetch, ttl=settings.jwks_cache_seconds,
                         min_refresh=settings.jwks_min_refresh_seconds)

    async def _fetch(self) -> dict[str, dict[str, Any]]:
        async with self._db.sessionmaker() as session:
            await read_only(session)
            jwks = await KeyService(session, self._settings).jwks()
        return {k["kid"]: k for k in jwks["keys"]}


class DbRevocationSource:
    """At identity a disable takes effect at once: the account row and the token are checked on
    every call, in one statement, on PostgreSQL outside a transaction (one round trip)."""

    def __init__(self, db: Database) -> None:
        self._db = db
        # PostgreSQL outside a test's borrowed connection: the statement straight through the
        # driver, which costs a fraction of a session's CPU (it runs on every request).
        self._raw = ({kind: RawStatement(db.engine, query) for kind, query in REFUSED.items()}
                     if db.autocommit_sessionmaker is not None else None)

    async def is_revoked(self, subject: str, token_id: str) -> bool:
        if self._raw is not None:
            kind, _, key = subject.partition(":")
            statement = self._raw.get(kind)
            return statement is None or bool((await statement.fetch(key=key, token_id=token_id))[0][0])
        autocommit = self._db.autocommit_sessionmaker
        async with (autocommit or self._db.sessionmaker)() as session:
            if autocommit is None:
                await read_only(session)
            return await AccountRepository(session).refused(subject, token_id)


def local_verifier(settings: Settings, db: Database, peers: Peers) -> TokenVerifier:
    return TokenVerifier(
        algorithm=settings.token_algorithm,
        issuer=settings.token_issuer,
        audience=settings.token_audience,
        keys=DbKeySource(db, settings),
        revocations=AnyRevocation(DbRevocationSource(db), disclosure_bans(settings, peers)),
        max_token_bytes=settings.max_token_bytes,
    )
