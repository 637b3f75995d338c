"""The disclosure service: the FERPA 99.32 log, agreements, data requests, consents and bans."""

from __future__ import annotations

import httpx
from fastapi import FastAPI

from services.disclosure.endpoints import reference
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
        "disclosure",
        title="SLDS disclosure service",
        description="Disclosure log (FERPA 99.32), agreements, data requests, consents and bans.",
        version="0.1.0",
        routers=[reference],
        settings=settings,
        database=database,
        peer_transport=peer_transport,
    )
