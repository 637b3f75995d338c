"""Requests for access beyond a role, decided in writing; granted access is scoped and time-limited."""

from __future__ import annotations

from fastapi import APIRouter

access_requests = APIRouter(prefix="/records/v1", tags=["access requests"])
