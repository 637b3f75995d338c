"""The baseline app of the records bench: FastAPI answering a constant JSON, served by the same
uvicorn command as the system (`services.serving:gateway`, what `slds serve --workers N` runs).

    python -m uvicorn bench.records_serve:bare --workers 2 ...
"""

from __future__ import annotations

from fastapi import FastAPI

bare = FastAPI()


@bare.get("/bare")
async def constant() -> dict[str, str]:
    return {"status": "ok", "service": "bare"}
