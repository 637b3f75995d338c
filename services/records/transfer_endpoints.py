"""Record transfers between districts with business-day clocks (Missouri 167.020)."""

from __future__ import annotations

from fastapi import APIRouter

transfers = APIRouter(prefix="/records/v1", tags=["record transfers"])
