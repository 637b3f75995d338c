"""`create_service_app`: what every service's `create_app()` shares: lifespan-managed resources
(engine, sessions, token verifier, peer client), problem+json errors, request ids, JSON logs,
health/readiness probes and `whoami`."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Callable, Sequence
from contextlib import AbstractAsyncContextManager, asynccontextmanager

import httpx
from fastapi import APIRouter, FastAPI
from starlette.types import ASGIApp

from shared.errors import install_error_handlers
from shared.middleware import RequestContextMiddleware
from shared.operations import operations_router
from shared.peers import Peers
from shared.ratelimit import RateLimits
from shared.security.bans import AnyRevocation, HttpBanSource
from shared.security.tokens import HttpJwksKeySource, HttpRevocationSource, TokenVerifier
from shared.settings import ServiceName, Settings, get_settings
from shared.state import Database, ServiceState

VerifierFactory = Callable[[Settings, Database, Peers], TokenVerifier]


def identity_revocations(settings: Settings, peers: Peers) -> HttpRevocationSource:
    return HttpRevocationSource(
        lambda: peers.identity, "/identity/v1/oauth/revocations", ttl=settings.revocation_cache_seconds
    )


def disclosure_bans(settings: Settings, peers: Peers) -> HttpBanSource:
    return HttpBanSource(lambda: peers.disclosure, ttl=settings.revocation_cache_seconds)


def remote_verifier(settings: Settings, _db: Database, peers: Peers) -> TokenVerifier:
    """How records and reporting verify: identity's published keys and revocations, and the
    parties disclosure has banned."""
    identity = peers.identity
    return TokenVerifier(
        algorithm=settings.token_algorithm,
        issuer=settings.token_issuer,
        audience=settings.token_audience,
        keys=HttpJwksKeySource(
            lambda: identity, "/identity/v1/.well-known/jwks.json",
            ttl=settings.jwks_cache_seconds, min_refresh=settings.jwks_min_refresh_seconds,
        ),
        revocations=AnyRevocation(identity_revocations(settings, peers), disclosure_bans(settings, peers)),
        max_token_bytes=settings.max_token_bytes,
    )


def create_service_app(
    service: ServiceName,
    *,
    title: str,
    description: str,
    version: str,
    routers: Sequence[APIRouter],
    settings: Settings | None = None,
    database: Database | None = None,
    peer_transport: httpx.AsyncBaseTransport | None = None,
    verifier_factory: VerifierFactory = remote_verifier,
    background: Callable[[FastAPI], AbstractAsyncContextManager[None]] | None = None,
) -> FastAPI:
    """`background`, when given, runs inside the lifespan once the state is set (a worker task)."""
    settings = settings or get_settings()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        if problems := settings.production_problems():
            message = "Refusing to start in production: " + "; ".join(problems)
            logging.getLogger("slds").error(message, extra={"service": service})
            raise RuntimeError(message)
        db = database or Database.from_settings(settings)
        peers = Peers.open(settings.identity_url, settings.disclosure_url, peer_transport)
        app.state.slds = ServiceState(service, settings, db, peers, verifier_factory(settings, db, peers),
                                      RateLimits(settings))
        try:
            if background is None:
                yield
            else:
                async with background(app):
                    yield
        finally:
            await peers.aclose()
            if database is None:
                await db.engine.dispose()

    app = FastAPI(
        title=title,
        description=description,
        version=version,
        lifespan=lifespan,
        docs_url=f"/{service}/docs",
        redoc_url=None,
        openapi_url=f"/{service}/openapi.json",
        telemetry={"tracing": settings.opentelemetry, "metrics": settings.opentelemetry,
                   "logs": settings.opentelemetry},
    )
    install_error_handlers(app)
    app.add_middleware(RequestContextMiddleware, service=service)
    app.include_router(operations_router(service))
    for router in routers:
        app.include_router(router)
    return app


def served_by(app: FastAPI) -> ASGIApp:
    """What answers the app's requests when served: the front it set (`app.state.front`, an ASGI
    app that takes its hottest route and hands the rest, lifespan included, to the app), or the
    app itself."""
    front = getattr(app.state, "front", None)
    return app if front is None else front
