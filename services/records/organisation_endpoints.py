"""The directory of education organisations (state, districts, schools): public reads, dated history."""

from __future__ import annotations

from fastapi import APIRouter

organisations = APIRouter(prefix="/records/v1", tags=["organisation directory"])
