"""What a running service holds (hung on `app.state.slds` by its lifespan)."""

from __future__ import annotations

from dataclasses import dataclass

import httpx
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from shared.db import create_engine, create_sessionmaker
from shared.peers import Peers
from shared.ratelimit import RateLimits
from shared.security.tokens import TokenVerifier
from shared.settings import ServiceName, Settings


@dataclass
class Database:
    engine: AsyncEngine
    sessionmaker: async_sessionmaker[AsyncSession]
    owned: bool = True  # False when a test or the gateway lends it
    # For a lone read on every request (token revocation): PostgreSQL in autocommit, one round
    # trip instead of BEGIN, the query and ROLLBACK. None on SQLite, and where a test lends a
    # sessionmaker bound to its own transaction: such reads then go through `sessionmaker`.
    autocommit_sessionmaker: async_sessionmaker[AsyncSession] | None = None

    @classmethod
    def from_settings(cls, settings: Settings) -> Database:
        engine = create_engine(settings.effective_database_url, echo=settings.database_echo)
        autocommit = (None if engine.dialect.name == "sqlite"
                      else create_sessionmaker(engine.execution_options(isolation_level="AUTOCOMMIT")))
        return cls(engine, create_sessionmaker(engine), autocommit_sessionmaker=autocommit)


@dataclass
class ServiceState:
    """Everything a request handler may need, hung on `app.state.slds`."""

    service: ServiceName
    settings: Settings
    db: Database
    peers: Peers
    verifier: TokenVerifier
    limits: RateLimits

    @property
    def identity(self) -> httpx.AsyncClient:
        return self.peers.identity

    @property
    def disclosure(self) -> httpx.AsyncClient:
        return self.peers.disclosure
