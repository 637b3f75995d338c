"""A small world for the disclosure tests: two state data stewards, the records service's client,
a researcher and a second researcher, and the parent of one student; state student IDs that pass
the check digit (disclosure checks their form, not their existence)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any

import httpx
import pytest
from stdnum import damm

from tests.helpers import bearer, client_token, password_token

V1 = "/disclosure/v1"
TODAY = datetime.now(UTC).date()  # the service judges dates in UTC


def state_id(n: int) -> str:
    body = f"7{n:08d}"
    return body + damm.calc_check_digit(body)


S1, S2, S3, S4 = (state_id(n) for n in (1, 2, 3, 4))
FIELDS = ["state_student_id", "demographics.birth_date", "enrollment.grade_level"]


def days(n: int) -> str:
    return (TODAY + timedelta(days=n)).isoformat()


@dataclass
class World:
    client: httpx.AsyncClient
    steward: dict[str, str]
    steward2: dict[str, str]
    steward_subject: str
    steward2_subject: str
    records: dict[str, str]  # the records service's client (role `service`)
    records_subject: str
    researcher: dict[str, str]
    researcher_subject: str
    other_researcher: dict[str, str]
    parent: dict[str, str]  # parent of S1
    parent_subject: str

    async def post(self, path: str, headers: dict[str, str], body: dict[str, Any] | None = None,
                   **kw: Any) -> httpx.Response:
        return await self.client.post(V1 + path, headers={**headers, **kw.pop("extra_headers", {})},
                                      json=body if body is not None else {}, **kw)

    async def get(self, path: str, headers: dict[str, str], **kw: Any) -> httpx.Response:
        return await self.client.get(V1 + path, headers=headers, **kw)

    def agreement_body(self, **over: Any) -> dict[str, Any]:
        return {"title": "Grade progression study", "organisation": "State University",
                "contact_name": "Dr. Rivera", "contact_email": "rivera@university.example",
                "subjects": [self.researcher_subject], "purpose": "Study grade progression for the agency",
                "legal_basis": "studies", "fields": FIELDS, "student_ids": [S1, S2, S3],
                "starts_on": days(-30), "ends_on": days(180), "destroy_by": days(210), **over}

    async def draft(self, **over: Any) -> dict[str, Any]:
        response = await self.post("/agreements", self.steward, self.agreement_body(**over))
        assert response.status_code == 201, response.text
        return response.json()

    async def step(self, agreement_id: str, to: str, headers: dict[str, str] | None = None,
                   note: str | None = "ref") -> httpx.Response:
        return await self.post(f"/agreements/{agreement_id}/transitions", headers or self.steward,
                               {"to": to, "note": note})

    async def active_agreement(self, **over: Any) -> dict[str, Any]:
        """Drafted by the first steward, taken through every approval, signed by the second."""
        agreement = await self.draft(**over)
        for to in ("coordinator_review", "legal_review", "board_consent", "superintendent_approval"):
            assert (await self.step(agreement["id"], to)).status_code == 200
        signed = await self.step(agreement["id"], "active", self.steward2, "signed 2026-01-05")
        assert signed.status_code == 200, signed.text
        return signed.json()

    def disclosure(self, **over: Any) -> dict[str, Any]:
        return {"party": {"name": "Dr. Rivera", "organisation": "State University",
                          "subject": self.researcher_subject},
                "legal_basis": "studies", "purpose": "Grade progression study under the MOA",
                "fields": FIELDS[:2], "students": [S1, S2], **over}


@pytest.fixture
async def world(client: httpx.AsyncClient, make_user, make_client_app) -> World:
    steward = await make_user("steward", "state_data_admin")
    steward2 = await make_user("steward2", "state_data_admin")
    researcher = await make_user("researcher", "researcher")
    await make_user("researcher2", "researcher")
    parent = await make_user("parent", "parent", student_ids=[S1])
    records = await make_client_app("records", "service", state="ST")
    return World(
        client=client,
        steward=bearer(await password_token(client, "steward")), steward_subject=steward.subject,
        steward2=bearer(await password_token(client, "steward2")), steward2_subject=steward2.subject,
        records=bearer(await client_token(client, records.client.client_id, records.secret)),
        records_subject=records.client.subject,
        researcher=bearer(await password_token(client, "researcher")), researcher_subject=researcher.subject,
        other_researcher=bearer(await password_token(client, "researcher2")),
        parent=bearer(await password_token(client, "parent")), parent_subject=parent.subject,
    )


def fields_named(response: httpx.Response) -> set[str]:
    return {e["field"] for e in response.json().get("errors", [])}


def assert_date(value: str, expected: date) -> None:
    assert date.fromisoformat(value) == expected
