"""The same new student submitted at the same moment by many districts gets exactly one ID.

Real concurrency needs real transactions, so this test runs on PostgreSQL in a database of its
own (created, migrated and dropped here), with committed writes and 24 simultaneous requests.
"""

from __future__ import annotations

import asyncio
import hashlib
import os
from datetime import date

import httpx
import pytest
from sqlalchemy import func, select

from services.identity.models import Alias, Person
from services.identity.service import AccountService
from shared.settings import Settings
from tests.helpers import committed_gateway as committed_gateway_on

PG_URL = os.environ.get("SLDS_TEST_DATABASE_URL", "")
pytestmark = pytest.mark.skipif(not PG_URL.startswith("postgresql"),
                                reason="concurrency is proven on PostgreSQL (CI runs it)")
SUBMITTERS = 24


@pytest.fixture
async def committed_gateway(settings: Settings):
    async with committed_gateway_on(settings, PG_URL, "concurrency") as running:
        yield running


async def test_concurrent_resolves_of_one_new_person_create_one_id(committed_gateway, settings) -> None:
    gateway, database = committed_gateway
    districts = [f"{2000 + i}" for i in range(SUBMITTERS)]
    async with database.sessionmaker() as session:
        created = await AccountService(session, settings).create_client(
            name="state loader", role="service", state="ST")
        await session.commit()
    transport = httpx.ASGITransport(app=gateway)
    async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
        token = (await client.post("/identity/v1/oauth/token", data={"grant_type": "client_credentials"},
                                   auth=(created.client.client_id, created.secret))).json()["access_token"]
        body = {"first_name": "Amara", "last_name": "Lindqvist", "birth_date": "2013-05-21", "sex": "F",
                "guardian_names": ["Ingrid Lindqvist"], "address": "4 Birch Rd", "postal_code": "04101"}

        async def submit(district: str) -> httpx.Response:
            return await client.post("/identity/v1/students/resolve", headers={"Authorization": f"Bearer {token}"},
                                     json={**body, "district_id": district, "local_student_id": f"loc-{district}"})

        responses = await asyncio.gather(*(submit(d) for d in districts))
    assert all(r.status_code == 200 for r in responses), [r.text for r in responses if r.status_code != 200]
    ids = {r.json()["state_student_id"] for r in responses}
    decisions = sorted(r.json()["decision"] for r in responses)
    assert len(ids) == 1, ids
    assert decisions.count("assigned") == 1 and decisions.count("matched") == SUBMITTERS - 1
    async with database.sessionmaker() as session:
        assert await session.scalar(select(func.count()).select_from(Person)) == 1
        assert await session.scalar(select(func.count()).select_from(Alias)) == SUBMITTERS


async def test_batch_chunks_and_single_resolves_of_one_person_create_one_id(committed_gateway, settings) -> None:
    """The batch worker's chunk path takes the same locks: chunks holding the same new student
    (twice each, among other students) racing single resolves of that student give one ID."""
    from services.identity.bulk import ChunkResolver, ChunkRow
    from services.identity.matching.record import PersonFacts
    from services.identity.resolve import Resolver

    _, database = committed_gateway
    target = PersonFacts(first_name="Amara", last_name="Lindqvist", birth_date=date(2013, 5, 21), sex="F",
                         guardian_names=("Ingrid Lindqvist",), address="4 Birch Rd", postal_code="04101")

    def others(chunk: int) -> list[ChunkRow]:  # nobody like anybody else
        def name(i: int, salt: str) -> str:
            digest = hashlib.sha256(f"{chunk}-{i}-{salt}".encode()).hexdigest()
            return "".join(chr(ord("a") + int(c, 16)) for c in digest[:9]).title()

        return [ChunkRow(PersonFacts(first_name=name(i, "f"), last_name=name(i, "l"),
                                     birth_date=date(2005 + chunk, 1 + i % 12, 1 + i % 28)), "3000", f"o{chunk}-{i}")
                for i in range(40)]

    async def chunk(j: int) -> list[str | None]:
        rows = others(j)
        rows[10:10] = [ChunkRow(target, f"{4000 + j}", "t")]
        rows[30:30] = [ChunkRow(target, f"{5000 + j}", "t")]
        async with database.sessionmaker() as session, session.begin():
            outcomes = await ChunkResolver(session, settings).resolve_chunk(rows, "client:t")
        return [outcomes[10].state_id, outcomes[30].state_id]

    async def single(i: int) -> list[str | None]:
        async with database.sessionmaker() as session, session.begin():
            outcome = await Resolver(session, settings).resolve(target, f"{6000 + i}", "t", "client:t")
        return [outcome.state_id]

    answers = await asyncio.gather(*(chunk(j) for j in range(6)), *(single(i) for i in range(14)))
    ids = {sid for answer in answers for sid in answer}
    assert len(ids) == 1 and None not in ids, ids
    async with database.sessionmaker() as session:
        assert await session.scalar(select(func.count()).select_from(Person)
                                    .where(Person.first_name == "Amara")) == 1
        assert await session.scalar(select(func.count()).select_from(Person)) == 1 + 6 * 40
