"""Concurrent writes to one record lose nothing: twenty submissions at once, each adding its own
assessment, all land as versions of one record; twenty updates carrying the same If-Match see
exactly one win; the change versions have no gaps; and the access-log chain stays whole. Bulk
submissions for the same new students at once all land, and the change feed never passes a
change version a writer still in progress holds (one writer held open; and a feed polled while
three writers submit, which without the change floors missed changes in two runs of five). Real concurrency needs real transactions:
PostgreSQL, in a database of its own (created, migrated and dropped here), with committed writes."""

from __future__ import annotations

import asyncio
import os

import httpx
import pytest
from sqlalchemy import func, select

from services.identity.service import AccountService
from services.records.models import RecordItem, RecordItemVersion, RecordsAccessLogEntry
from services.records.repository import RecordsRepository
from shared.audit import chain_staged, lock_chain, verify_chain
from shared.db import utcnow
from shared.settings import Settings
from tests.helpers import committed_gateway
from tests.services.records.conftest import basic_record

PG_URL = os.environ.get("SLDS_TEST_DATABASE_URL", "")
pytestmark = pytest.mark.skipif(not PG_URL.startswith("postgresql"),
                                reason="concurrency is proven on PostgreSQL (CI runs it)")
WRITERS = 20


@pytest.fixture
async def committed(settings: Settings):
    async with committed_gateway(settings, PG_URL, "records_concurrency") as (gateway, database):
        async with database.sessionmaker() as session:
            created = await AccountService(session, settings).create_client(
                name="SIS 1001", role="district_sis", district_ids=["1001"])
            await session.commit()
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=gateway), base_url="http://t") as client:
            token = (await client.post("/identity/v1/oauth/token", data={"grant_type": "client_credentials"},
                                       auth=(created.client.client_id, created.secret))).json()["access_token"]
            headers = {"Authorization": f"Bearer {token}"}
            resolved = await client.post("/identity/v1/students/resolve", headers=headers, json={
                "district_id": "1001", "local_student_id": "L-1", "first_name": "Ana", "last_name": "Lopez",
                "birth_date": "2014-03-09"})
            yield client, headers, resolved.json()["state_student_id"], database


def _assessment(i: int) -> dict[str, object]:
    return {"assessment_family": "state_summative", "subject": "mathematics", "school_year": "2025-2026",
            "assessment_title": f"Unit {i:02d}", "scale_score": 400 + i}


async def test_concurrent_writes_to_one_record_lose_nothing(committed) -> None:
    client, headers, sid, database = committed
    assert (await client.post("/records/v1/students", headers=headers, json=basic_record(sid))).status_code == 201

    async def add(i: int) -> httpx.Response:
        return await client.post("/records/v1/students", headers=headers,
                                 json={"state_student_id": sid, "assessments": [_assessment(i)]})

    responses = await asyncio.gather(*(add(i) for i in range(WRITERS)))
    assert all(r.status_code == 200 for r in responses), [r.text for r in responses if r.status_code != 200]
    assert sorted(r.json()["version"] for r in responses) == list(range(2, WRITERS + 2))
    record = (await client.get(f"/records/v1/students/{sid}", headers=headers)).json()
    assert len(record["assessments"]) == WRITERS

    # Same If-Match from twenty writers: one wins, the rest are told it changed.
    etag = (await client.get(f"/records/v1/students/{sid}", headers=headers)).headers["ETag"]

    async def update(i: int) -> httpx.Response:
        body = {"state_student_id": sid, "programs": {"title_i": i % 2 == 0, "migrant": True}}
        return await client.post("/records/v1/students", headers={**headers, "If-Match": etag}, json=body)

    codes = sorted(r.status_code for r in await asyncio.gather(*(update(i) for i in range(WRITERS))))
    assert codes.count(200) == 1 and codes.count(412) == WRITERS - 1, codes

    async with database.sessionmaker() as session:
        versions = list(await session.scalars(select(RecordItemVersion.id).order_by(RecordItemVersion.id)))
        items = await session.scalar(select(func.count()).select_from(RecordItem).where(RecordItem.state_id == sid))
        assert items == 3 + WRITERS + 1  # identifiers, demographics, enrollment, assessments, programs
        assert versions == list(range(versions[0], versions[0] + len(versions)))  # no gaps
        assert (await verify_chain(session, RecordsAccessLogEntry)).ok


async def _changes(client: httpx.AsyncClient, headers: dict[str, str], after: int) -> dict[str, object]:
    response = await client.get("/records/v1/changes", headers=headers,
                                params={"min_change_version": after, "limit": 1000})
    assert response.status_code == 200, response.text
    return response.json()


async def _resolve(client: httpx.AsyncClient, headers: dict[str, str], numbers: range, first_name: str,
                   last_name: str, birth_month: str) -> list[str]:
    """State IDs for more students of district 1001 (local IDs L-<n>, born on day n of the month)."""
    ids = []
    for i in numbers:
        resolved = await client.post("/identity/v1/students/resolve", headers=headers, json={
            "district_id": "1001", "local_student_id": f"L-{i}", "first_name": f"{first_name}{i}",
            "last_name": last_name, "birth_date": f"{birth_month}-{i:02d}"})
        ids.append(resolved.json()["state_student_id"])
    return ids


async def test_the_change_feed_never_passes_a_change_version_a_writer_still_holds(committed) -> None:
    client, headers, sid, database = committed
    assert (await client.post("/records/v1/students", headers=headers, json=basic_record(sid))).status_code == 201
    start = (await _changes(client, headers, 0))["next_min_change_version"]

    async with database.sessionmaker() as slow:  # a writer that took its change version first...
        (early,) = await RecordsRepository(slow).next_version_ids(1)
        slow.add(RecordItemVersion(
            id=early, item_id="slow-writer", entity="student", state_id=sid, section="assessments",
            item_key="slow", version=1, operation="create", data={}, district_id="1001", recorded_at=utcnow(),
            recorded_by="test", submission_id=None))
        await slow.flush()
        # ...while another commits later ones.
        later = await client.post("/records/v1/students", headers=headers,
                                  json={"state_student_id": sid, "assessments": [_assessment(1)]})
        assert later.status_code == 200
        held = await _changes(client, headers, start)
        assert held == {"changes": [], "next_min_change_version": start}  # nothing past the slow writer's floor
        await slow.commit()

    after = await _changes(client, headers, start)
    versions = [c["change_version"] for c in after["changes"]]  # type: ignore[union-attr]
    assert versions[0] == early and len(versions) == 2 and versions[1] > early
    assert after["next_min_change_version"] == versions[-1]


async def test_bulk_submissions_for_the_same_new_students_at_once_all_land(committed) -> None:
    client, headers, first, database = committed
    students = [first, *await _resolve(client, headers, range(2, 13), "Kid", "Lopez", "2014-03")]
    writers = 4

    async def submit(w: int) -> httpx.Response:
        # Each writer sends every student (none has a record yet), in its own order.
        rows = [{**basic_record(sid), "local_student_id": f"L-{i + 1}", "assessments": [_assessment(w)]}
                for i, sid in enumerate(students)]
        return await client.post("/records/v1/students/bulk", headers=headers, json=rows[w:] + rows[:w])

    responses = await asyncio.gather(*(submit(w) for w in range(writers)))
    assert all(r.status_code == 200 for r in responses), [r.text for r in responses]
    statuses = sorted(row["status"] for r in responses for row in r.json()["results"])
    assert statuses == ["created"] * len(students) + ["updated"] * len(students) * (writers - 1)
    for sid in students:
        record = (await client.get(f"/records/v1/students/{sid}", headers=headers)).json()
        assert sorted(a["scale_score"] for a in record["assessments"]) == [400 + w for w in range(writers)]

    feed = await _changes(client, headers, 0)
    versions = [c["change_version"] for c in feed["changes"]]  # type: ignore[union-attr]
    assert len(versions) == len(set(versions)) == len(students) * (3 + writers)
    async with database.sessionmaker() as session:
        await chain_staged(session, RecordsAccessLogEntry)  # what the chainer would fold in
        await session.commit()
        report = await verify_chain(session, RecordsAccessLogEntry)
        assert report.ok and report.staged == 0
        writes = await session.scalar(select(func.count()).select_from(RecordsAccessLogEntry)
                                      .where(RecordsAccessLogEntry.action == "write"))
        assert writes == len(students) * writers


async def test_a_submission_stages_its_log_entries_when_the_chain_stays_locked(committed) -> None:
    client, headers, sid, database = committed
    written = RecordsAccessLogEntry.action == "write"
    async with database.sessionmaker() as holder:
        await lock_chain(holder, RecordsAccessLogEntry)  # a long merge or retention run, say
        # The submission does not wait for it past LOG_LOCK_WAIT: its entry is staged instead.
        response = await asyncio.wait_for(
            client.post("/records/v1/students", headers=headers, json=basic_record(sid)), timeout=30)
        assert response.status_code == 201, response.text
        async with database.sessionmaker() as session:
            seqs = list(await session.scalars(select(RecordsAccessLogEntry.seq).where(written)))
        assert len(seqs) == 1 and seqs[0] < 0
        await holder.rollback()
    async with database.sessionmaker() as session:
        await chain_staged(session, RecordsAccessLogEntry)  # what the chainer would fold in
        await session.commit()
        report = await verify_chain(session, RecordsAccessLogEntry)
        assert report.ok and report.staged == 0
        assert await session.scalar(select(RecordsAccessLogEntry.seq).where(written)) > 0


async def test_a_feed_polled_during_concurrent_submissions_misses_no_change(committed) -> None:
    client, headers, first, database = committed
    students = [first, *await _resolve(client, headers, range(2, 10), "Pupil", "Ortiz", "2013-05")]
    writers, rounds = 3, 4
    done = asyncio.Event()

    async def write(w: int) -> None:
        mine = students[w::writers]  # each writer its own students, so they never wait on each other
        for r in range(rounds):
            rows = [{**basic_record(sid), "local_student_id": f"L-{students.index(sid) + 1}",
                     "assessments": [_assessment(r)]} for sid in mine]
            response = await client.post("/records/v1/students/bulk", headers=headers, json=rows)
            assert response.status_code == 200, response.text

    async def poll() -> list[int]:
        seen: list[int] = []
        cursor = 0
        while True:
            finished = done.is_set()  # read before the page: a last page after every commit
            page = await _changes(client, headers, cursor)
            seen += [c["change_version"] for c in page["changes"]]  # type: ignore[union-attr]
            cursor = page["next_min_change_version"]  # type: ignore[assignment]
            if finished and not page["changes"]:
                return seen
            await asyncio.sleep(0)

    poller = asyncio.create_task(poll())
    await asyncio.gather(*(write(w) for w in range(writers)))
    done.set()
    seen = await asyncio.wait_for(poller, timeout=60)
    async with database.sessionmaker() as session:
        stored = list(await session.scalars(select(RecordItemVersion.id).order_by(RecordItemVersion.id)))
    assert seen == stored  # every change once, in order, none passed over by the cursor
