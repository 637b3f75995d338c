"""De-identified student-level extracts for high-risk data requests, under an active agreement."""

from __future__ import annotations

from fastapi import APIRouter

extracts = APIRouter(prefix="/reporting/v1", tags=["de-identified extracts"])
