"""Parents' and eligible students' requests with their statutory clocks (FERPA 45 days)."""

from __future__ import annotations

from fastapi import APIRouter

people_requests = APIRouter(prefix="/records/v1", tags=["people's requests"])
