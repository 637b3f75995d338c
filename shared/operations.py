"""Routes every service has: liveness, readiness and `whoami` (the caller as the service sees it)."""

from __future__ import annotations

from fastapi import APIRouter
from sqlalchemy import text

from shared.deps import CurrentPrincipal, State
from shared.errors import ServiceUnavailable
from shared.settings import ServiceName


def operations_router(service: ServiceName) -> APIRouter:
    router = APIRouter(prefix=f"/{service}", tags=["operations"])

    @router.get("/health", summary="Liveness: the process is up")
    async def health() -> dict[str, str]:
        return {"status": "ok", "service": service}

    @router.get("/ready", summary="Readiness: the database answers", responses={503: {}})
    async def ready(state: State) -> dict[str, str]:
        try:
            async with state.db.engine.connect() as connection:
                probe = await connection.execution_options(slds_read_only=True)
                await probe.execute(text("SELECT 1"))
        except Exception:  # any driver error means not ready
            raise ServiceUnavailable("The database cannot be reached.") from None
        return {"status": "ready", "service": service}

    @router.get("/v1/whoami", summary="The caller as this service sees it (for integrators)")
    async def whoami(principal: CurrentPrincipal) -> dict[str, object]:
        return {
            "subject": principal.subject,
            "kind": principal.kind,
            "role": principal.role,
            "state": principal.state,
            "district_ids": sorted(principal.district_ids),
            "school_ids": sorted(principal.school_ids),
            "staff_id": principal.staff_id,
            "service": service,
        }

    return router
