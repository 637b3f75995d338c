"""A small district world for the records tests: SIS clients for two districts, a state data
steward, and students resolved through identity (so their state IDs exist and belong to 1001)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import httpx
import pytest

from tests.helpers import bearer, client_token, password_token

RESOLVE = "/identity/v1/students/resolve"
STUDENTS = "/records/v1/students"


@dataclass
class World:
    client: httpx.AsyncClient
    sis: dict[str, str]  # district 1001's SIS
    other_sis: dict[str, str]  # district 1002's SIS
    steward: dict[str, str]  # state data admin (level 1)
    students: list[str] = field(default_factory=list)  # resolved by 1001

    async def resolve(self, local: str, first: str, last: str, dob: str, headers: dict[str, str] | None = None,
                      district: str = "1001") -> str:
        response = await self.client.post(RESOLVE, headers=headers or self.sis, json={
            "district_id": district, "local_student_id": local, "first_name": first, "last_name": last,
            "birth_date": dob, "guardian_names": [f"Guardian {local}"]})
        assert response.status_code == 200 and response.json()["decision"] == "assigned", response.text
        return response.json()["state_student_id"]

    async def submit(self, record: dict[str, Any], headers: dict[str, str] | None = None, **kw: Any) -> httpx.Response:
        return await self.client.post(STUDENTS, headers={**(headers or self.sis), **kw.pop("extra_headers", {})},
                                      json=record, **kw)


def enrollment(district: str = "1001", school: str = "1001-01", entry: str = "2025-08-20", **extra: Any) -> dict[str, Any]:
    return {"school_year": "2025-2026", "district_id": district, "school_id": school, "grade_level": "06",
            "entry_date": entry, "entry_type": "first_entry_in_state", **extra}


def basic_record(state_id: str, **sections: Any) -> dict[str, Any]:
    return {"state_student_id": state_id, "local_student_id": "L-1",
            "demographics": {"first_name": "Ana", "last_name": "Lopez", "birth_date": "2014-03-09", "sex": "F"},
            "enrollment": [enrollment()], **sections}


@pytest.fixture
async def world(client: httpx.AsyncClient, make_user, make_client_app) -> World:
    await make_user("steward", "state_data_admin")
    sis = await make_client_app("SIS 1001", "district_sis", district_ids=["1001"])
    other = await make_client_app("SIS 1002", "district_sis", district_ids=["1002"])
    w = World(
        client=client,
        sis=bearer(await client_token(client, sis.client.client_id, sis.secret)),
        other_sis=bearer(await client_token(client, other.client.client_id, other.secret)),
        steward=bearer(await password_token(client, "steward")),
    )
    for local, first, last, dob in (("L-1", "Ana", "Lopez", "2014-03-09"), ("L-2", "Bram", "Okafor", "2013-11-21"),
                                    ("L-3", "Chen", "Wu", "2012-05-02")):
        w.students.append(await w.resolve(local, first, last, dob))
    return w
