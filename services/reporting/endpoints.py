from __future__ import annotations

import tomllib
from functools import cache
from pathlib import Path
from typing import Any

from fastapi import APIRouter

reference = APIRouter(prefix="/reporting/v1", tags=["reference"])
_POLICIES = Path(__file__).parent / "data" / "suppression_policies.toml"


@cache
def load_suppression_policies() -> dict[str, Any]:
    return tomllib.loads(_POLICIES.read_text())


@reference.get("/suppression-policies", summary="Small-cell suppression presets (no token)")
async def suppression_policies() -> dict[str, Any]:
    return load_suppression_policies()
