"""Non-disclosure agreements and annual privacy training: the clearance PII access depends on."""

from __future__ import annotations

from fastapi import APIRouter

clearance = APIRouter(prefix="/identity/v1", tags=["nda and training"])
