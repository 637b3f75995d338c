"""The identity service: accounts and tokens; state IDs, resolve (matching) and the review queue."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator

import httpx
from fastapi import FastAPI

from services.identity.batch import BatchProcessor
from services.identity.clearance_endpoints import clearance
from services.identity.endpoints import accounts, oauth
from services.identity.person_endpoints import reviews, students
from services.identity.verification import local_verifier
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
        "identity",
        title="SLDS identity service",
        description="Accounts, machine clients and tokens for all four services; state IDs.",
        version="0.1.0",
        routers=[oauth, accounts, students, reviews, clearance],
        settings=settings,
        database=database,
        peer_transport=peer_transport,
        verifier_factory=local_verifier,
        background=_batch_worker,
    )


@contextlib.asynccontextmanager
async def _batch_worker(app: FastAPI) -> AsyncIterator[None]:
    state = app.state.slds
    processor = BatchProcessor(state.db, state.settings)
    app.state.batch_processor = processor
    if not state.settings.batch_worker:
        yield
        return
    task = asyncio.create_task(processor.run_forever(), name="identity-batch-worker")
    try:
        yield
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
