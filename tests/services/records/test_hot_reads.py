"""The hot read path (PostgreSQL with committed transactions): `GET /records/v1/students/{id}`
fetches its context with one autocommit statement and logs by group commit, with no transaction of
its own. It must answer exactly what the ordinary path answers, log every read before it answers,
and keep the volume alarm. The ordinary path (an `as_of` read) is the reference here."""

from __future__ import annotations

import asyncio
import os
from contextlib import asynccontextmanager
from datetime import UTC, datetime, timedelta
from itertools import pairwise

import httpx
import pytest
from sqlalchemy import func, select

from services.identity.service import AccountService
from services.records.models import RecordsAccessLogEntry
from shared.audit import StagedLogBatcher, entry_hash, lock_chain, verify_chain
from shared.db import create_engine, utcnow
from shared.settings import Settings
from tests.helpers import committed_gateway
from tests.services.records.conftest import STUDENTS, basic_record, enrollment

PG_URL = os.environ.get("SLDS_TEST_DATABASE_URL", "")
Log = RecordsAccessLogEntry
pytestmark = pytest.mark.skipif(not PG_URL.startswith("postgresql"),
                                reason="the hot path runs on PostgreSQL only (CI runs it)")


@pytest.fixture
async def hot(settings: Settings):
    async with _hot_world(settings) as world:
        yield world


@pytest.fixture
async def hot_cached(settings: Settings):
    """`hot` with the revocation list cached as in production: the suite's settings fetch it on
    every request, and that fetch (one at a time) lines concurrent requests up one behind another."""
    async with _hot_world(settings.model_copy(update={"revocation_cache_seconds": 60})) as world:
        yield world


@asynccontextmanager
async def _hot_world(settings: Settings):
    async with committed_gateway(settings, PG_URL, "records_hot_reads") as (gateway, database):
        async with database.sessionmaker() as session:
            accounts = AccountService(session, settings)
            sis = await accounts.create_client(name="SIS 1001", role="district_sis", district_ids=["1001"])
            other = await accounts.create_client(name="SIS 1002", role="district_sis", district_ids=["1002"])
            await session.commit()
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=gateway), base_url="http://t") as client:
            headers = []
            for created in (sis, other):
                token = (await client.post("/identity/v1/oauth/token", data={"grant_type": "client_credentials"},
                                           auth=(created.client.client_id, created.secret))).json()["access_token"]
                headers.append({"Authorization": f"Bearer {token}"})
            resolved = await client.post("/identity/v1/students/resolve", headers=headers[0], json={
                "district_id": "1001", "local_student_id": "L-1", "first_name": "Ana", "last_name": "Lopez",
                "birth_date": "2014-03-09"})
            sid = resolved.json()["state_student_id"]
            assert (await client.post(STUDENTS, headers=headers[0], json=basic_record(sid))).status_code == 201
            yield client, headers[0], headers[1], sid, database, gateway


async def _log(database, sid: str) -> list[Log]:
    async with database.sessionmaker() as session:
        return list((await session.scalars(
            select(Log).where(Log.state_id == sid, Log.action == "read").order_by(Log.at, Log.seq))).all())


async def test_a_hot_read_answers_what_the_ordinary_path_answers_and_is_logged_first(hot) -> None:
    client, sis, other, sid, database, gateway = hot
    assert getattr(gateway.apps["records"].state.slds, "records_hot_reads", None) is None  # built on first read
    read = await client.get(f"{STUDENTS}/{sid}", headers=sis, params={"purpose": "hot"})
    assert read.status_code == 200 and read.headers["etag"]
    assert gateway.apps["records"].state.slds.records_hot_reads is not None  # the hot path served it
    later = (datetime.now(UTC) + timedelta(minutes=1)).isoformat()
    reference = await client.get(f"{STUDENTS}/{sid}", headers=sis, params={"as_of": later, "purpose": "ordinary"})
    assert reference.status_code == 200
    assert read.json() == reference.json()

    # Logged before the answer went out: the entry is in the database already (staged or chained).
    entries = await _log(database, sid)
    assert [e.action for e in entries] == ["read", "read"]
    hot_entry = next(e for e in entries if '"purpose":"hot"' in e.payload)
    assert '"demographics.first_name"' in hot_entry.payload and "Ana" not in hot_entry.payload
    assert hot_entry.actor.startswith("client:") and hot_entry.request_id

    # Out of reach and unknown answer the same 404, and nothing is logged for them.
    assert (await client.get(f"{STUDENTS}/{sid}", headers=other)).status_code == 404
    assert (await client.get(f"{STUDENTS}/0000000000", headers=sis)).status_code == 404
    assert len(await _log(database, sid)) == 2


async def test_concurrent_reads_of_different_students_share_context_statements_and_get_their_own(hot_cached) -> None:
    """Reads arriving together fetch their contexts in shared statements; each still gets exactly
    its own student's record (as the ordinary path answers it), and one out of reach or unknown
    still answers 404 beside them."""
    client, sis, other, sid, _, gateway = hot_cached
    mine = [sid]
    for n, (first, district, headers) in enumerate((("Bo", "1001", sis), ("Cy", "1001", sis), ("Di", "1002", other))):
        resolved = await client.post("/identity/v1/students/resolve", headers=headers, json={
            "district_id": district, "local_student_id": f"L-{n + 2}", "first_name": first, "last_name": "Hale",
            "birth_date": f"201{n}-0{n + 1}-1{n}"})
        new = resolved.json()["state_student_id"]
        record = basic_record(new, demographics={"first_name": first, "last_name": "Hale",
                                                 "birth_date": f"201{n}-0{n + 1}-1{n}", "sex": "M"},
                              enrollment=[enrollment(district, f"{district}-01")])
        assert (await client.post(STUDENTS, headers=headers, json=record)).status_code == 201
        mine.append(new)
    elsewhere = mine.pop()  # district 1002's student: out of 1001's reach
    assert (await client.get(f"{STUDENTS}/{sid}", headers=sis)).status_code == 200  # builds the hot path
    contexts = gateway.apps["records"].state.slds.records_hot_reads.contexts
    statements = 0
    fetch = contexts.statement.fetch

    async def counted(**params):
        nonlocal statements
        statements += 1
        return await fetch(**params)

    contexts.statement.fetch = counted
    wanted = [*mine * 8, elsewhere, elsewhere, "0000000000"]
    reads = await asyncio.gather(*(client.get(f"{STUDENTS}/{s}", headers=sis) for s in wanted))
    later = (datetime.now(UTC) + timedelta(minutes=1)).isoformat()
    expected = {s: (await client.get(f"{STUDENTS}/{s}", headers=sis, params={"as_of": later})).json() for s in mine}
    for s, read in zip(wanted, reads, strict=True):
        if s in expected:
            assert read.status_code == 200 and read.json() == expected[s]
            assert read.json()["state_student_id"] == s
        else:
            assert read.status_code == 404
    assert 1 <= statements < len(wanted)


async def _staged(database) -> int:
    async with database.sessionmaker() as session:
        return await session.scalar(select(func.count()).select_from(Log).where(Log.seq < 0))


async def _wait_until_chained(database, seconds: float = 15) -> int:
    """Staged entries left once the background chainer has had `seconds` to fold them in."""
    deadline = asyncio.get_running_loop().time() + seconds
    while (staged := await _staged(database)) and asyncio.get_running_loop().time() < deadline:
        await asyncio.sleep(0.1)
    return staged


async def test_concurrent_hot_reads_share_inserts_and_go_straight_into_the_chain(hot) -> None:
    client, sis, _, sid, database, _ = hot
    reads = await asyncio.gather(*(client.get(f"{STUDENTS}/{sid}", headers=sis, params={"purpose": f"r{i}"})
                                   for i in range(60)))
    assert all(r.status_code == 200 for r in reads)
    entries = await _log(database, sid)
    assert sorted(e.payload for e in entries) == sorted({e.payload for e in entries})  # each read once
    assert len(entries) == 60
    assert await _staged(database) == 0  # chained as written: nothing left for the chainer
    async with database.sessionmaker() as session:
        report = await verify_chain(session, Log)
        assert report.ok and report.entries >= 61


async def test_reads_while_a_writer_holds_the_chain_lock_are_staged_not_kept_waiting(hot) -> None:
    """A records write holds the log's lock until it commits; reads meanwhile must not queue
    behind it: their entries are staged, and the chainer folds them in once the lock is free."""
    client, sis, _, sid, database, _ = hot
    async with database.sessionmaker() as writer:
        await lock_chain(writer, Log)
        reads = await asyncio.wait_for(asyncio.gather(*(client.get(f"{STUDENTS}/{sid}", headers=sis)
                                                        for _ in range(5))), timeout=10)
        assert all(r.status_code == 200 for r in reads)
        assert await _staged(database) == 5
        await writer.commit()
    assert await _wait_until_chained(database) == 0
    async with database.sessionmaker() as session:
        report = await verify_chain(session, Log)
    assert report.ok and len(await _log(database, sid)) == 5


async def test_two_processes_appending_at_once_keep_one_unbroken_chain(hot) -> None:
    """Each uvicorn worker has its own batcher and connections; their batches take the chain's
    lock in turn, each reading the head the other just wrote. Two engines stand in for the two
    processes; the entries are hashed by the database and verified here by `entry_hash`."""
    client, sis, _, sid, database, _ = hot
    await client.get(f"{STUDENTS}/{sid}", headers=sis)
    other = create_engine(database.engine.url.render_as_string(hide_password=False))
    try:
        batchers = [StagedLogBatcher(Log, database.engine), StagedLogBatcher(Log, other)]
        staged = await asyncio.gather(*(
            batchers[i % 2].stage([{"action": "read", "payload": {"n": i, "note": "é\u00e9"},
                                    "index_columns": {"state_id": sid}}] * (1 + i % 3),
                                  actor=f"user:{i % 2}", request_id=None if i % 4 else f"req-{i}")
            for i in range(40)))
    finally:
        await other.dispose()
    assert await _wait_until_chained(database) == 0  # any batch staged by a lock wait is folded in
    async with database.sessionmaker() as session:
        report = await verify_chain(session, Log)
    assert report.ok and report.staged == 0
    assert len(await _log(database, sid)) == 1 + sum(1 + i % 3 for i in range(40))
    assert staged.count(False) > 0


async def test_the_volume_alarm_holds_on_the_hot_path(hot, settings: Settings, monkeypatch: pytest.MonkeyPatch) -> None:
    client, sis, _, sid, database, gateway = hot
    monkeypatch.setattr(gateway.apps["records"].state.slds.settings, "records_reads_per_hour", 3)
    codes = [(await client.get(f"{STUDENTS}/{sid}", headers=sis)).status_code for _ in range(5)]
    assert codes == [200, 200, 200, 429, 429]
    async with database.sessionmaker() as session:
        alerts = (await session.scalars(select(Log).where(Log.action == "volume_alert"))).all()
    assert len(alerts) == 1 and '"limit":3' in alerts[0].payload
    assert len(await _log(database, sid)) == 3  # refused reads sent nothing, so they are not logged as reads


async def test_concurrent_reads_past_the_limit_are_refused_not_all_let_through(
        hot, monkeypatch: pytest.MonkeyPatch) -> None:
    client, sis, _, sid, _, gateway = hot
    monkeypatch.setattr(gateway.apps["records"].state.slds.settings, "records_reads_per_hour", 10)
    codes = [r.status_code for r in await asyncio.gather(*(client.get(f"{STUDENTS}/{sid}", headers=sis)
                                                           for _ in range(30)))]
    assert codes.count(200) == 10 and codes.count(429) == 20


async def test_a_log_write_that_fails_fails_the_reads_waiting_on_it(hot) -> None:
    *_, database, _ = hot
    batcher = StagedLogBatcher(Log, database.engine)
    # Into the chain or staged: either write fails.
    batcher.append_sql = batcher.append_sql.replace("records_access_log_append", "no_such_function")
    batcher.staged_sql = batcher.staged_sql.replace("INSERT INTO records_access_log", "INSERT INTO no_such_table")
    results = await asyncio.gather(*(batcher.stage([{"action": "read", "payload": {"n": i}}], actor="user:x",
                                                    request_id=None) for i in range(3)), return_exceptions=True)
    assert len(results) == 3 and all(isinstance(r, Exception) for r in results)


async def test_two_processes_crossing_the_limit_raise_one_alert(hot) -> None:
    """Each worker process counts on its own and flushes to the shared row; only the flush that
    marks the hour alerted raises the alert."""
    *_, database, _ = hot
    from contextlib import nullcontext

    from services.records.models import ReadCounter
    from services.records.volume import ReadVolume

    first, second = ReadVolume(), ReadVolume()
    never = lambda: nullcontext(None)  # the raw flush opens no session
    # Other processes' reads already stand at the limit; both cross it at the same moment (near
    # the limit every read is flushed at once).
    hour = datetime.now(UTC).replace(minute=0, second=0, microsecond=0)
    async with database.sessionmaker() as session:
        session.add_all([ReadCounter(actor="user:two-workers", hour=h, reads=10, alerted=False)
                         for h in (hour, hour + timedelta(hours=1))])  # the next hour too, should it turn meanwhile
        await session.commit()
    crossings = await asyncio.gather(*(volume.count(never, "user:two-workers", 9, 10, raw=database.engine)
                                       for volume in (first, second)))
    assert sorted(reads for reads, _ in crossings) == [19, 28]
    assert [alert for _, alert in crossings].count(True) == 1
    assert await second.count(never, "user:two-workers", 1, 10, raw=database.engine) == (29, False)


async def test_the_chain_goes_on_past_32_bit_sequence_numbers(hot) -> None:
    """Every read and written record adds an entry, so a state's log reaches 2,147,483,647 entries
    within years: the next one, by each way entries reach the chain (a read's batch appended by the
    database, a submission's entries, staged reads folded in by the chainer), must still be
    chained, and the request it logs must still answer."""
    client, sis, _, sid, database, _ = hot
    limit = 2**31 - 1
    async with database.sessionmaker() as session:
        await lock_chain(session, Log)
        prev = (await session.scalars(select(Log.hash).where(Log.seq > 0).order_by(Log.seq.desc()).limit(1))).one()
        at = utcnow()
        session.add(Log(seq=limit, at=at, actor="test:head", action="test", request_id=None, payload="{}",
                        prev_hash=prev, hash=entry_hash(prev, limit, at, "test:head", "test", None, "{}")))
        await session.commit()

    assert (await client.get(f"{STUDENTS}/{sid}", headers=sis)).status_code == 200
    changed = basic_record(sid, enrollment=[enrollment(grade_level="07")])
    assert (await client.post(STUDENTS, headers=sis, json=changed)).status_code == 200
    async with database.sessionmaker() as writer:  # reads meanwhile are staged, then folded in
        await lock_chain(writer, Log)
        assert all(r.status_code == 200 for r in await asyncio.gather(
            *(client.get(f"{STUDENTS}/{sid}", headers=sis) for _ in range(3))))
        assert await _staged(database) == 3
        await writer.commit()
    assert await _wait_until_chained(database) == 0

    async with database.sessionmaker() as session:
        entries = (await session.scalars(select(Log).where(Log.seq >= limit).order_by(Log.seq))).all()
    assert [e.seq for e in entries] == list(range(limit, limit + 6))
    assert [e.action for e in entries[1:]] == ["read", "write", "read", "read", "read"]
    for before, entry in pairwise(entries):
        assert entry.prev_hash == before.hash
        assert entry.hash == entry_hash(entry.prev_hash, entry.seq, entry.at, entry.actor, entry.action,
                                        entry.request_id, entry.payload)
