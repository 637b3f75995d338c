"""Records' policy surface: the data dictionary (public, a transparency duty) and the roles."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Response

from shared.deps import CurrentPrincipal
from shared.policy.dictionary import load_data_dictionary
from shared.policy.roles import load_roles

policy = APIRouter(prefix="/records/v1", tags=["policy"])


@policy.get("/data-dictionary", summary="Every field of the student and staff record (no token)")
async def data_dictionary(response: Response) -> dict[str, Any]:
    dictionary = load_data_dictionary()
    response.headers["Cache-Control"] = "public, max-age=300"
    response.headers["ETag"] = f'"{dictionary.version}"'
    return dictionary.model_dump(mode="json")


@policy.get("/roles", summary="Roles, their access level and the students they reach")
async def roles(_principal: CurrentPrincipal) -> dict[str, Any]:
    return {"roles": [role.model_dump(mode="json") for role in load_roles().values()]}
