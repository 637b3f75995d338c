"""Read entries of the access log are staged (written unchained in the read's own transaction, no
chain lock) and folded into the hash chain later: by a background chainer, or before the log is
read. Nothing staged is lost, the chain verifies whole once folded, and `verify_chain` fails on
staged entries left unchained past its bound. The concurrency half runs on PostgreSQL with
committed transactions, as the write-concurrency tests do."""

from __future__ import annotations

import asyncio
import os
from datetime import timedelta

import httpx
import pytest
from sqlalchemy import func, select

from services.identity.service import AccountService
from services.records.models import RecordsAccessLogEntry
from shared.audit import StagedChainer, chain_staged, lock_chain, stage_many, verify_chain
from shared.db import utcnow
from shared.settings import Settings
from tests.helpers import committed_gateway
from tests.services.records.conftest import STUDENTS, World, basic_record

PG_URL = os.environ.get("SLDS_TEST_DATABASE_URL", "")
Log = RecordsAccessLogEntry


async def _counts(session) -> tuple[int, int]:
    staged = await session.scalar(select(func.count()).select_from(Log).where(Log.seq < 0))
    chained = await session.scalar(select(func.count()).select_from(Log).where(Log.seq > 0))
    return staged, chained


async def test_a_read_is_staged_then_folded_in_order_before_the_log_is_read(world: World, db) -> None:
    sid = world.students[0]
    assert (await world.submit(basic_record(sid))).status_code == 201
    for purpose in ("first", "second"):
        assert (await world.client.get(f"{STUDENTS}/{sid}", headers=world.sis, params={"purpose": purpose})).status_code == 200
    async with db.sessionmaker() as session:
        staged = (await session.scalars(select(Log).where(Log.seq < 0).order_by(Log.at))).all()
        assert [e.action for e in staged] == ["read", "read"]
        assert all(e.hash == e.prev_hash == "" and e.state_id == sid for e in staged)
        report = await verify_chain(session, Log)
        assert report.ok and report.staged == 2  # not part of the chain yet, and not overdue

    log = (await world.client.get("/records/v1/access-log", headers=world.steward, params={"state_id": sid})).json()
    reads = [e for e in log["entries"] if e["action"] == "read"]
    assert [e["payload"]["purpose"] for e in reads] == ["first", "second"]  # chained in the order read
    writes = [e for e in log["entries"] if e["action"] == "write"]
    assert writes and writes[0]["seq"] < reads[0]["seq"] < reads[1]["seq"]
    async with db.sessionmaker() as session:
        assert await _counts(session) == (0, await session.scalar(select(func.count()).select_from(Log)))
        report = await verify_chain(session, Log)
        assert report.ok and report.staged == 0 and report.entries >= 3


async def test_chained_appends_follow_the_chain_not_the_staged_rows(db) -> None:
    async with db.sessionmaker() as session:
        await stage_many(session, Log, [{"action": "read", "payload": {"n": i}, "index_columns": {"state_id": "S1"}}
                                        for i in range(3)], actor="user:a", request_id="r1")
        from shared.audit import append_many
        await append_many(session, Log, [{"action": "write", "payload": {"n": 9}}], actor="user:b", request_id="r2")
        first = await session.scalar(select(Log).where(Log.seq > 0).order_by(Log.seq))
        assert first.seq == 1 and first.action == "write"
        assert await chain_staged(session, Log) == 3
        rows = (await session.scalars(select(Log).order_by(Log.seq))).all()
        assert [r.seq for r in rows] == [1, 2, 3, 4]
        assert [r.payload for r in rows[1:]] == ['{"n":0}', '{"n":1}', '{"n":2}']
        assert (await verify_chain(session, Log)).ok
        await session.rollback()


async def test_verify_fails_on_entries_left_unchained_past_the_bound(db) -> None:
    async with db.sessionmaker() as session:
        await stage_many(session, Log, [{"action": "read", "payload": {"n": 1}}], actor="user:a", request_id=None)
        assert (await verify_chain(session, Log)).ok
        report = await verify_chain(session, Log, staged_max_age=timedelta(0))
        assert not report.ok and report.staged == 1 and "unchained" in (report.problem or "")
        assert report.first_bad_seq is not None and report.first_bad_seq < 0
        await chain_staged(session, Log)
        assert (await verify_chain(session, Log, staged_max_age=timedelta(0))).ok
        await session.rollback()


async def test_the_chainer_stays_off_a_borrowed_connection(db) -> None:
    # A test's rolled-back connection cannot serve a background task beside the requests.
    assert StagedChainer(Log, db.sessionmaker).enabled is False


# --- PostgreSQL, committed transactions -------------------------------------------------------------

pg_only = pytest.mark.skipif(not PG_URL.startswith("postgresql"),
                             reason="concurrency is proven on PostgreSQL (CI runs it)")
READERS = 40


@pytest.fixture
async def committed(settings: Settings):
    async with committed_gateway(settings, PG_URL, "records_staged_log") as (gateway, database):
        async with database.sessionmaker() as session:
            created = await AccountService(session, settings).create_client(
                name="SIS 1001", role="district_sis", district_ids=["1001"])
            await session.commit()
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=gateway), base_url="http://t") as client:
            token = (await client.post("/identity/v1/oauth/token", data={"grant_type": "client_credentials"},
                                       auth=(created.client.client_id, created.secret))).json()["access_token"]
            headers = {"Authorization": f"Bearer {token}"}
            ids = []
            for local, first in (("L-1", "Ana"), ("L-2", "Bram")):
                resolved = await client.post("/identity/v1/students/resolve", headers=headers, json={
                    "district_id": "1001", "local_student_id": local, "first_name": first, "last_name": "Lopez",
                    "birth_date": "2014-03-09"})
                ids.append(resolved.json()["state_student_id"])
            yield client, headers, ids, database


async def _until_folded(database, timeout: float = 15.0) -> tuple[int, int]:
    deadline = asyncio.get_running_loop().time() + timeout
    while True:
        async with database.sessionmaker() as session:
            counts = await _counts(session)
        if counts[0] == 0 or asyncio.get_running_loop().time() > deadline:
            return counts
        await asyncio.sleep(0.1)


@pg_only
async def test_concurrent_reads_and_writes_all_land_in_one_whole_chain(committed) -> None:
    client, headers, (a, b), database = committed
    assert (await client.post(STUDENTS, headers=headers, json=basic_record(a))).status_code == 201
    assert (await client.post(STUDENTS, headers=headers, json=basic_record(b))).status_code == 201

    async def read(i: int) -> httpx.Response:
        return await client.get(f"{STUDENTS}/{a if i % 2 else b}", headers=headers, params={"purpose": f"r{i}"})

    async def write(i: int) -> httpx.Response:
        return await client.post(STUDENTS, headers=headers, json={
            "state_student_id": a, "assessments": [{"assessment_family": "state_summative", "subject": "mathematics",
                                                     "school_year": "2025-2026", "assessment_title": f"Unit {i:02d}",
                                                     "scale_score": 400 + i}]})

    responses = await asyncio.gather(*(read(i) for i in range(READERS)), *(write(i) for i in range(5)))
    assert all(r.status_code == 200 for r in responses), [r.text for r in responses if r.status_code != 200]

    # The background chainer folds every staged read without anyone reading the log.
    staged, chained = await _until_folded(database)
    assert staged == 0
    async with database.sessionmaker() as session:
        report = await verify_chain(session, Log)
        assert report.ok and report.entries == chained == 2 + 5 + READERS
        purposes = sorted((await session.scalars(
            select(Log.payload).where(Log.action == "read"))).all())
        assert len(purposes) == READERS and len(set(purposes)) == READERS  # each read once


@pg_only
async def test_entries_a_crashed_process_staged_are_folded_by_the_next_chainer(committed) -> None:
    _, _, (a, _), database = committed
    async with database.sessionmaker() as session:  # staged and committed, then the process "died"
        await stage_many(session, Log, [{"action": "read", "payload": {"state_id": a, "n": i},
                                         "index_columns": {"state_id": a}} for i in range(5)],
                         actor="user:gone", request_id=None)
        await session.commit()
    async with database.sessionmaker() as session:
        assert await _counts(session) == (5, 0)
        assert (await verify_chain(session, Log)).ok  # not overdue yet
        assert not (await verify_chain(session, Log, staged_max_age=timedelta(0))).ok

    chainer = StagedChainer(Log, database.sessionmaker)
    assert chainer.enabled
    assert await chainer.run_once() == 5
    async with database.sessionmaker() as session:
        assert await _counts(session) == (0, 5)
        report = await verify_chain(session, Log, staged_max_age=timedelta(0))
        assert report.ok and report.entries == 5
        oldest = await session.scalar(select(func.min(Log.at)))
        assert oldest <= utcnow()


@pg_only
async def test_two_chainers_never_fork_the_chain(committed) -> None:
    _, _, (a, _), database = committed
    for batch in range(4):
        async with database.sessionmaker() as session:
            await stage_many(session, Log, [{"action": "read", "payload": {"b": batch, "n": i},
                                             "index_columns": {"state_id": a}} for i in range(50)],
                             actor=f"user:{batch}", request_id=None)
            await session.commit()
    first, second = StagedChainer(Log, database.sessionmaker), StagedChainer(Log, database.sessionmaker)
    for _ in range(10):
        await asyncio.gather(first.run_once(), second.run_once())
    async with database.sessionmaker() as session:
        assert await _counts(session) == (0, 200)
        report = await verify_chain(session, Log, staged_max_age=timedelta(0))
        assert report.ok and report.entries == 200


@pg_only
async def test_the_chainer_keeps_trying_while_others_hold_the_lock(committed) -> None:
    """Under load the read path holds the chain's lock most of the time; a chainer that gave up
    after its idle time then left staged entries behind for good (seen in bench.records)."""
    _, _, (a, _), database = committed
    async with database.sessionmaker() as session:
        await stage_many(session, Log, [{"action": "read", "payload": {"n": i}, "index_columns": {"state_id": a}}
                                        for i in range(3)], actor="user:x", request_id=None)
        await session.commit()
    chainer = StagedChainer(Log, database.sessionmaker, interval=0.02, linger=0.2)
    async with database.sessionmaker() as holder:
        await lock_chain(holder, Log)
        chainer.kick()
        await asyncio.sleep(1.0)  # five times the chainer's idle time, every try refused
        assert await chainer.run_once() is None
        await holder.commit()
    staged, chained = await _until_folded(database, timeout=5)
    assert (staged, chained) == (0, 3)
