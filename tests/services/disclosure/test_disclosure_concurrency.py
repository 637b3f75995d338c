"""Concurrent disclosures keep the record whole: twenty releases logged at once all land in one
unbroken chain with their student index, and five retries racing with one Idempotency-Key write
exactly one entry. Real concurrency needs real transactions: PostgreSQL, in a database of its own
(created and migrated here), with committed writes."""

from __future__ import annotations

import asyncio
import os

import httpx
import pytest
from sqlalchemy import func, select

from services.disclosure.disclosures import verify_disclosure_log
from services.disclosure.models import DisclosureLogEntry, DisclosureLogStudent
from services.identity.service import AccountService
from shared.settings import Settings
from tests.helpers import committed_gateway
from tests.services.disclosure.conftest import state_id

PG_URL = os.environ.get("SLDS_TEST_DATABASE_URL", "")
pytestmark = pytest.mark.skipif(not PG_URL.startswith("postgresql"),
                                reason="concurrency is proven on PostgreSQL (CI runs it)")
WRITERS = 20


@pytest.fixture
async def committed(settings: Settings):
    async with committed_gateway(settings, PG_URL, "disclosure_concurrency") as (gateway, database):
        async with database.sessionmaker() as session:
            created = await AccountService(session, settings).create_client(name="records", role="service", state="ST")
            await session.commit()
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=gateway), base_url="http://t") as client:
            token = (await client.post("/identity/v1/oauth/token", data={"grant_type": "client_credentials"},
                                       auth=(created.client.client_id, created.secret))).json()["access_token"]
            yield client, {"Authorization": f"Bearer {token}"}, database


def _release(i: int) -> dict:
    return {"party": {"name": "Clerk of Court", "organisation": "County Court"}, "legal_basis": "judicial_order",
            "purpose": f"Subpoena {i}", "fields": ["state_student_id"], "students": [state_id(i), state_id(i + 100)]}


async def test_concurrent_disclosures_keep_one_chain_and_one_entry_per_idempotency_key(committed) -> None:
    client, headers, database = committed

    async def log(i: int, key: str | None = None) -> httpx.Response:
        return await client.post("/disclosure/v1/disclosures", json=_release(i),
                                 headers={**headers, **({"Idempotency-Key": key} if key else {})})

    responses = await asyncio.gather(*(log(i) for i in range(WRITERS)), *(log(999, "same") for _ in range(5)))
    assert all(r.status_code in (200, 201) for r in responses), [r.text for r in responses if r.status_code >= 300]
    keyed = responses[WRITERS:]
    assert len({r.json()["seq"] for r in keyed}) == 1 and sorted(r.status_code for r in keyed) == [200] * 4 + [201]
    assert sorted(r.json()["seq"] for r in responses[:WRITERS] + keyed[:1]) == list(range(1, WRITERS + 2))
    async with database.sessionmaker() as session:
        report = await verify_disclosure_log(session)
        assert report.ok and report.entries == WRITERS + 1
        assert await session.scalar(select(func.count()).select_from(DisclosureLogStudent)) == 2 * (WRITERS + 1)
        assert await session.scalar(select(func.count()).select_from(DisclosureLogEntry)) == WRITERS + 1
