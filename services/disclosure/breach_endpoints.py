"""Suspected breaches: reporting, routing, exposure from the logs, notifications, findings."""

from __future__ import annotations

from fastapi import APIRouter

breaches = APIRouter(prefix="/disclosure/v1", tags=["breach response"])
