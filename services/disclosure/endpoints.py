from __future__ import annotations

from fastapi import APIRouter

from services.disclosure.legal_bases import legal_bases_as_dicts
from shared.deps import CurrentPrincipal

reference = APIRouter(prefix="/disclosure/v1", tags=["reference"])


@reference.get("/legal-bases", summary="FERPA bases a disclosure may rest on (99.30, 99.31)")
async def legal_bases(_principal: CurrentPrincipal) -> dict[str, list[dict[str, str]]]:
    return {"legal_bases": legal_bases_as_dicts()}
