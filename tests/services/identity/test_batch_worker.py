"""The batch worker on PostgreSQL: it resumes pending batches when it starts and wakes at a new
batch's commit (NOTIFY), not at its next poll; `slds serve` runs it in a process of its own that
ends with the server, even when the server is killed."""

from __future__ import annotations

import asyncio
import json
import os
import time
from pathlib import Path

import httpx
import pytest
from sqlalchemy import func, select

from services.identity.batch import BatchProcessor, BatchService, Partition
from services.identity.bulk import ChunkResolver
from services.identity.models import Batch, BatchRow, Person
from shared.policy.principal import Principal
from shared.settings import Settings
from tests.helpers import committed_gateway as committed_gateway_on
from tests.serving import served_process

PG_URL = os.environ.get("SLDS_TEST_DATABASE_URL", "")
pytestmark = pytest.mark.skipif(not PG_URL.startswith("postgresql"),
                                reason="the worker's own process and its wake-ups need PostgreSQL")
BATCHES = "/identity/v1/students/batches"


def person(i: int) -> dict[str, object]:
    return {"row_ref": f"r{i}", "district_id": "1001", "local_student_id": f"L{i}", "first_name": "Ada",
            "last_name": f"Family{i}", "birth_date": f"201{i % 10}-0{1 + i % 9}-1{i % 9}"}


async def test_worker_resumes_pending_batches_and_wakes_at_a_new_one(settings: Settings) -> None:
    async with committed_gateway_on(settings, PG_URL, "worker") as (_, database):
        loader = Principal(subject="client:loader", kind="client", role="service", state="ST")

        async def submit(rows: list[dict[str, object]]) -> str:
            async with database.sessionmaker() as session, session.begin():
                batch = await BatchService(session, settings).submit(loader, rows, None, json.dumps(rows).encode())
                return batch.id

        async def done(batch_id: str) -> None:
            while True:
                async with database.sessionmaker() as session:
                    batch, rows = await BatchService(session, settings).get(batch_id, loader)
                if batch.status == "done":
                    assert [r.decision for r in rows] == ["assigned"] * len(rows)
                    return
                await asyncio.sleep(0.05)

        waiting = await submit([person(i) for i in range(3)])  # before the worker runs
        worker = asyncio.create_task(BatchProcessor(database, settings).run_forever(poll_seconds=3600))
        try:
            await asyncio.wait_for(done(waiting), 30)
            await asyncio.sleep(0.5)  # the worker is idle, its next poll an hour away
            await asyncio.wait_for(done(await submit([person(i) for i in range(3, 6)])), 30)
        finally:
            worker.cancel()
            await asyncio.gather(worker, return_exceptions=True)


LOADER = Principal(subject="client:loader", kind="client", role="service", state="ST")


SURNAMES = ("Abbott Baptiste Castillo Dubois Eriksen Fontaine Gallagher Haddad Ibarra Jablonski Kowalczyk "
            "Lindqvist Moreau Nakamura Okonkwo Petrovic Quintero Rasmussen Sandoval Takahashi Underwood "
            "Valdivia Whitaker Xiong Yamamoto Zielinski Alvarado Bergstrom Chaudhry Delacroix Esposito "
            "Fitzgerald Gutierrez Holloway Iverson Jankowski Kirkpatrick Lombardi Mancini Novak").split()


def described(i: int) -> dict[str, object]:
    """A student, with what makes a second submission of the same one an automatic match."""
    last = SURNAMES[i]
    return {**person(i), "first_name": ["Ada", "Bea", "Cyr", "Dov"][i % 4], "last_name": last, "sex": "F",
            "races": ["WH"], "address": f"{100 + i} Forest St", "postal_code": "93686",
            "guardian_names": [f"Maria {last}", f"Marcus {last}"]}


def moved(i: int) -> dict[str, object]:
    """The same student sent again by another district."""
    return {**described(i), "row_ref": f"again{i}", "district_id": "1002", "local_student_id": f"M{i}"}


async def _submit(database, settings: Settings, rows: list[dict[str, object]]) -> str:
    async with database.sessionmaker() as session, session.begin():
        return (await BatchService(session, settings).submit(LOADER, rows, None, json.dumps(rows).encode())).id


async def _rows(database, settings: Settings, batch_id: str) -> tuple[str, dict[str, tuple[str | None, str | None]]]:
    """The batch's status and, per row_ref, (decision, state_id) ((None, None) while open: read
    from the table, as the API shows no rows before the batch is done)."""
    async with database.sessionmaker() as session:
        status = await session.scalar(select(Batch.status).where(Batch.id == batch_id))
        rows = await session.execute(select(BatchRow.row_ref, BatchRow.decision, BatchRow.state_id)
                                     .where(BatchRow.batch_id == batch_id))
        return status, {ref: (decision, sid) for ref, decision, sid in rows}


async def test_two_workers_each_resolve_the_rows_of_their_birth_years(settings: Settings) -> None:
    async with committed_gateway_on(settings, PG_URL, "partition") as (_, database):
        rows = [described(i) for i in range(10)] + [moved(3), moved(4)]  # born 2010 ... 2019; two again
        batch_id = await _submit(database, settings, rows)

        assert await BatchProcessor(database, settings, partition=Partition(1, 2)).run_pending() == 6
        status, results = await _rows(database, settings, batch_id)
        assert status == "pending"  # worker 0's share is still open
        odd = {f"r{i}" for i in (1, 3, 5, 7, 9)} | {"again3"}
        assert {ref for ref, (decision, _) in results.items() if decision is not None} == odd

        assert await BatchProcessor(database, settings, partition=Partition(0, 2)).run_pending() == 6
        status, results = await _rows(database, settings, batch_id)
        assert status == "done"
        assert [results[f"r{i}"][0] for i in range(10)] == ["assigned"] * 10
        assert results["again3"] == ("matched", results["r3"][1])
        assert results["again4"] == ("matched", results["r4"][1])


async def test_workers_side_by_side_answer_as_one_worker_does(settings: Settings) -> None:
    async with committed_gateway_on(settings, PG_URL, "partition_both") as (_, database):
        first = await _submit(database, settings, [described(i) for i in range(40)])
        second = await _submit(database, settings, [moved(i) for i in range(40)])
        workers = [BatchProcessor(database, settings, partition=Partition(i, 2)) for i in range(2)]
        assert sum(await asyncio.gather(*(w.run_pending() for w in workers))) == 80
        status, assigned = await _rows(database, settings, first)
        assert status == "done" and {d for d, _ in assigned.values()} == {"assigned"}
        status, matched = await _rows(database, settings, second)
        assert status == "done"
        assert matched == {f"again{i}": ("matched", assigned[f"r{i}"][1]) for i in range(40)}
        async with database.sessionmaker() as session:
            assert await session.scalar(select(func.count()).select_from(Person)) == 40


async def test_a_chunk_that_drew_a_taken_state_id_is_done_again(settings: Settings, monkeypatch) -> None:
    """Two workers may draw the same unused ID at once (each checks committed persons only): the
    second COPY fails on the primary key, and the chunk is redone with a fresh draw."""
    async with committed_gateway_on(settings, PG_URL, "partition_clash") as (_, database):
        first = await _submit(database, settings, [person(0)])
        await BatchProcessor(database, settings).run_pending()
        taken = (await _rows(database, settings, first))[1]["r0"][1]
        real = ChunkResolver._unused_ids
        draws = []

        async def clashing(self, count: int, kind: str) -> list[str]:
            ids = await real(self, count, kind)
            draws.append(ids)
            return [taken, *ids[1:]] if len(draws) == 1 else ids  # as if another worker had just drawn it

        monkeypatch.setattr(ChunkResolver, "_unused_ids", clashing)
        second = await _submit(database, settings, [person(i) for i in range(1, 4)])
        assert await BatchProcessor(database, settings, partition=Partition(0, 1)).run_pending() == 3
        status, results = await _rows(database, settings, second)
        assert len(draws) == 2 and status == "done"
        assert {d for d, _ in results.values()} == {"assigned"} and taken not in {s for _, s in results.values()}
        async with database.sessionmaker() as session:
            assert await session.scalar(select(func.count()).select_from(Person)) == 4


def _children(pid: int) -> list[int]:
    children = Path(f"/proc/{pid}/task/{pid}/children").read_text().split()
    return [int(child) for child in children]


def test_serve_runs_the_workers_in_processes_that_end_with_the_server(tmp_path: Path) -> None:
    with served_process(tmp_path, "batch_worker", SLDS_BATCH_WORKER="true", SLDS_BATCH_WORKERS="2") as (served, server):
        assert server.process is not None
        commands = {pid: Path(f"/proc/{pid}/cmdline").read_bytes() for pid in _children(server.process.pid)}
        workers = [pid for pid, command in commands.items() if b"identity\0worker" in command]
        assert sorted(commands[pid].split(b"\0")[-2] for pid in workers) == [b"0/2", b"1/2"]
        served.add_client("SIS 1001", "--role", "district_sis", "--district", "1001")
        sis = {"Authorization": f"Bearer {served.client_token('SIS 1001')}"}
        location = served.base + httpx.post(served.base + BATCHES, headers=sis, json=[person(i) for i in range(5)],
                                            timeout=60).headers["location"]
        deadline = time.monotonic() + 60
        while (body := httpx.get(location, headers=sis, timeout=30).json())["status"] != "done":
            assert time.monotonic() < deadline, body
            time.sleep(0.05)
        assert [r["decision"] for r in body["results"]] == ["assigned"] * 5

        server.kill()  # SIGKILL: no shutdown hook runs, yet no worker may outlive it
        deadline = time.monotonic() + 10
        for worker in workers:
            while Path(f"/proc/{worker}").exists() and b"zombie" not in _state(worker):
                assert time.monotonic() < deadline, "a worker outlived the server"
                time.sleep(0.05)


def _state(pid: int) -> bytes:
    try:
        return Path(f"/proc/{pid}/status").read_bytes().lower()
    except FileNotFoundError:
        return b"zombie"
