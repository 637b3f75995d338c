"""How disclosure verifies tokens: identity's keys and revocations like every service, and its own
bans straight from its tables (no HTTP to itself)."""

from __future__ import annotations

from services.disclosure.bans import banned_subjects
from services.disclosure.common import today
from shared.app import identity_revocations, remote_verifier
from shared.db import read_only
from shared.peers import Peers
from shared.security.bans import AnyRevocation, LocalBanSource
from shared.security.tokens import TokenVerifier
from shared.settings import Settings
from shared.state import Database


def disclosure_verifier(settings: Settings, db: Database, peers: Peers) -> TokenVerifier:
    async def fetch_banned() -> frozenset[str]:
        async with db.sessionmaker() as session:
            await read_only(session)
            return await banned_subjects(session, today())

    verifier = remote_verifier(settings, db, peers)
    verifier.revocations = AnyRevocation(
        identity_revocations(settings, peers), LocalBanSource(fetch_banned, ttl=settings.revocation_cache_seconds))
    return verifier
