"""The apps the records bench serves with uvicorn (several workers: `slds serve` has no workers
option). `slds` is what `slds serve` runs (JSON logging at SLDS_LOG_LEVEL, then the gateway with
all four services); `bare` is the baseline, a FastAPI app answering a constant JSON.

    python -m uvicorn bench.records_serve:slds --factory --workers 2 ...
    python -m uvicorn bench.records_serve:bare --workers 2 ...
"""

from __future__ import annotations

from fastapi import FastAPI

from services.gateway import Gateway, create_gateway
from shared.logging import configure_logging
from shared.settings import get_settings


def slds() -> Gateway:
    configure_logging(get_settings().log_level)
    return create_gateway()


bare = FastAPI()


@bare.get("/bare")
async def constant() -> dict[str, str]:
    return {"status": "ok", "service": "bare"}
