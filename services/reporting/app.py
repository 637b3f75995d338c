"""The reporting service: aggregates with small-cell suppression that cannot be undone."""

from __future__ import annotations

import httpx
from fastapi import FastAPI

from services.reporting import models as _models  # noqa: F401  (registers reporting's tables)
from services.reporting.endpoints import internal, reference, releases
from services.reporting.extract_endpoints import extracts
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
        "reporting",
        title="SLDS reporting service",
        description="Aggregate counts and rates with small-cell suppression.",
        version="0.1.0",
        routers=[reference, releases, internal, extracts],
        settings=settings,
        database=database,
        peer_transport=peer_transport,
    )
