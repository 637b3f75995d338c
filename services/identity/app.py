"""The identity service: accounts and tokens; state IDs, resolve (matching) and the review queue."""

from __future__ import annotations

import httpx
from fastapi import FastAPI

from services.identity.endpoints import accounts, oauth
from services.identity.person_endpoints import reviews, students
from services.identity.verification import local_verifier
from shared.app import create_service_app
from shared.state import Database
from shared.settings import Settings


def create_app(
    settings: Settings | None = None,
    *,
    database: Database | None = None,
    peer_transport: httpx.AsyncBaseTransport | None = None,
) -> FastAPI:
    return create_service_app(
        "identity",
        title="SLDS identity service",
        description="Accounts, machine clients and tokens for all four services; state IDs.",
        version="0.1.0",
        routers=[oauth, accounts, students, reviews],
        settings=settings,
        database=database,
        peer_transport=peer_transport,
        verifier_factory=local_verifier,
    )
