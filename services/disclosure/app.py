"""The disclosure service: the FERPA 99.32 log, agreements, data requests, consents and bans."""

from __future__ import annotations

import httpx
from fastapi import FastAPI

from services.disclosure.agreement_endpoints import moas
from services.disclosure.breach_endpoints import breaches
from services.disclosure.consent_endpoints import bans, consents
from services.disclosure.directory_endpoints import directory
from services.disclosure.disclosure_endpoints import log
from services.disclosure.endpoints import reference
from services.disclosure.public_records_endpoints import public_records
from services.disclosure.request_endpoints import tickets
from services.disclosure.verification import disclosure_verifier
from shared.app import create_service_app
from shared.settings import Settings
from shared.state import Database


def create_app(
    settings: Settings | None = None,
    *,
    database: Database | None = None,
    peer_transport: httpx.AsyncBaseTransport | None = None,
) -> FastAPI:
    return create_service_app(
        "disclosure",
        title="SLDS disclosure service",
        description="Disclosure log (FERPA 99.32), agreements, data requests, consents, bans and directory opt-outs.",
        version="0.1.0",
        routers=[reference, log, moas, tickets, consents, bans, directory, breaches, public_records],
        settings=settings,
        database=database,
        peer_transport=peer_transport,
        verifier_factory=disclosure_verifier,
    )
