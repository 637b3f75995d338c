"""Bulk resolve: 202 with a location, per-row results (a bad row fails alone), idempotent
resubmission, NDJSON, and a batch that resumes after an interruption without doing a row twice."""

from __future__ import annotations

import json
from typing import Any

import httpx
import pytest
from sqlalchemy import func, select

from services.gateway import Gateway
from services.identity.models import Alias, BatchRow, Person
from shared.state import Database
from tests.helpers import bearer, client_token

BATCHES = "/identity/v1/students/batches"


def person(i: int, **changes: Any) -> dict[str, Any]:
    row = {"row_ref": f"r{i}", "district_id": "1001", "local_student_id": f"L{i}",
           "first_name": ["Ada", "Bea", "Cyr", "Dov", "Eli", "Fay"][i % 6], "last_name": f"Family{i}",
           "birth_date": f"201{i % 10}-0{1 + i % 9}-1{i % 9}", "guardian_names": [f"Parent{i} Family{i}"]}
    row.update(changes)
    return row


@pytest.fixture
async def sis(client: httpx.AsyncClient, make_client_app) -> dict[str, str]:
    created = await make_client_app("SIS 1001", "district_sis", district_ids=["1001"])
    return bearer(await client_token(client, created.client.client_id, created.secret))


async def _process(gateway: Gateway) -> None:
    await gateway.apps["identity"].state.batch_processor.run_pending()


async def test_batch_resolves_every_row_and_fails_bad_rows_alone(client, gateway, sis) -> None:
    rows = [person(i) for i in range(5)]
    rows.append(person(5, birth_date="2014-02-30"))            # impossible date
    rows.append(person(6, district_id="1002"))                  # another district's student
    rows.append(person(7, ssn="000-12-3456", first_name="???"))  # two problems in one row
    response = await client.post(BATCHES, headers={**sis, "Idempotency-Key": "k-1"}, json=rows)
    assert response.status_code == 202, response.text
    location = response.headers["location"]
    pending = (await client.get(location, headers=sis)).json()
    assert pending["status"] == "pending" and pending["total"] == 8 and pending["results"] is None
    await _process(gateway)
    done = (await client.get(location, headers=sis)).json()
    assert done["status"] == "done" and done["processed"] == 8
    results = {r["row_ref"]: r for r in done["results"]}
    assert all(results[f"r{i}"]["decision"] == "assigned" for i in range(5))
    assert results["r5"]["problem"]["errors"][0]["field"] == "birth_date"
    assert results["r6"]["problem"]["status"] == 403
    assert {e["field"] for e in results["r7"]["problem"]["errors"]} == {"ssn", "first_name"}
    assert "000-12-3456" not in json.dumps(done)


async def test_same_idempotency_key_returns_same_batch_and_creates_nothing_twice(client, gateway, sis, db: Database) -> None:
    rows = [person(i) for i in range(3)]
    first = await client.post(BATCHES, headers={**sis, "Idempotency-Key": "k-2"}, json=rows)
    await _process(gateway)
    again = await client.post(BATCHES, headers={**sis, "Idempotency-Key": "k-2"}, json=rows)
    assert again.status_code == 202 and again.headers["location"] == first.headers["location"]
    await _process(gateway)
    async with db.sessionmaker() as session:
        assert await session.scalar(select(func.count()).select_from(Person)) == 3
    other = await client.post(BATCHES, headers={**sis, "Idempotency-Key": "k-2"}, json=rows[:1])
    assert other.status_code == 409


async def test_ndjson_and_size_limits(client, gateway, sis) -> None:
    body = "\n".join(json.dumps(person(i)) for i in range(2)).encode()
    response = await client.post(BATCHES, headers={**sis, "Content-Type": "application/x-ndjson"}, content=body)
    assert response.status_code == 202
    too_many = await client.post(BATCHES, headers=sis, json=[{}] * 10_001)
    assert too_many.status_code == 422 and too_many.json()["errors"][0]["code"] == "batch_size"
    not_json = await client.post(BATCHES, headers={**sis, "Content-Type": "application/json"}, content=b"{oops")
    assert not_json.status_code == 422


async def test_interrupted_batch_resumes_without_repeating_rows(client, gateway, sis, db: Database) -> None:
    response = await client.post(BATCHES, headers=sis, json=[person(i) for i in range(4)])
    batch_id = response.headers["location"].rsplit("/", 1)[1]
    # As if the worker died after two rows: those two are done, the rest are not.
    processor = gateway.apps["identity"].state.batch_processor
    async with db.sessionmaker() as session:
        rows = (await session.scalars(select(BatchRow).where(BatchRow.batch_id == batch_id)
                                      .order_by(BatchRow.row_index))).all()
    from services.identity.resolve import Resolver, facts_from_json
    for row in rows[:2]:
        async with db.sessionmaker() as session, session.begin():
            stored = await session.get(BatchRow, (batch_id, row.row_index))
            outcome = await Resolver(session, processor.settings).resolve(
                facts_from_json(stored.facts), stored.district_id, stored.local_id, "client:x")
            stored.done, stored.decision, stored.state_id = True, outcome.decision, outcome.state_id
    await processor.run_pending()
    done = (await client.get(response.headers["location"], headers=sis)).json()
    assert done["status"] == "done" and [r["decision"] for r in done["results"]] == ["assigned"] * 4
    async with db.sessionmaker() as session:
        assert await session.scalar(select(func.count()).select_from(Person)) == 4
        assert await session.scalar(select(func.count()).select_from(Alias)) == 4


async def test_another_callers_batch_is_not_found(client, gateway, sis, make_client_app) -> None:
    response = await client.post(BATCHES, headers=sis, json=[person(1)])
    other = await make_client_app("SIS 1001 b", "district_sis", district_ids=["1001"])
    other_headers = bearer(await client_token(client, other.client.client_id, other.secret))
    assert (await client.get(response.headers["location"], headers=other_headers)).status_code == 404


def test_a_partition_holds_the_rows_of_its_birth_years() -> None:
    from services.identity.batch import Partition

    halves = [Partition.parse("0/2"), Partition.parse("1/2")]
    for birth_date, index in (("2011-05-04", 1), ("2012-12-31", 0), (None, 0), ("", 0)):
        assert [p.holds(birth_date) for p in halves] == [index == 0, index == 1]
    assert Partition(0, 1).holds("2011-05-04") and Partition(0, 1).holds(None)
    assert [Partition(i, 3).holds("2015-01-02") for i in range(3)] == [False, False, True]  # 2015 % 3 == 2
    for bad in ("2/2", "-1/2", "1", "a/b"):
        with pytest.raises(ValueError):
            Partition.parse(bad)
