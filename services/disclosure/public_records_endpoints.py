"""Public records requests (Missouri Sunshine Law): acted on by the third business day."""

from __future__ import annotations

from fastapi import APIRouter

public_records = APIRouter(prefix="/disclosure/v1", tags=["public records requests"])
