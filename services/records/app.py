"""The records service: student and staff records served through the policy library."""

from __future__ import annotations

import httpx
from fastapi import FastAPI

from services.records.access_request_endpoints import access_requests
from services.records.endpoints import policy
from services.records.hot_route import PlainReadLane, install_student_read_route
from services.records.organisation_endpoints import organisations
from services.records.record_endpoints import records
from services.records.relationship_endpoints import relationships
from services.records.request_clock_endpoints import people_requests
from services.records.rights_endpoints import rights
from services.records.transfer_endpoints import transfers
from shared.app import create_service_app
from shared.settings import Settings, get_settings
from shared.state import Database


def create_app(
    settings: Settings | None = None,
    *,
    database: Database | None = None,
    peer_transport: httpx.AsyncBaseTransport | None = None,
) -> FastAPI:
    settings = settings or get_settings()
    app = create_service_app(
        "records",
        title="SLDS records service",
        description="Student and staff records, projected field by field for each caller.",
        version="0.1.0",
        routers=[policy, records, relationships, rights, organisations, access_requests, transfers, people_requests],
        settings=settings,
        database=database,
        peer_transport=peer_transport,
    )
    route = install_student_read_route(app)
    if not settings.opentelemetry:  # traced requests go through FastAPI's telemetry hook
        app.state.front = PlainReadLane(app, route)
    return app
