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

from services.identity.batch import BatchProcessor, BatchService
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


def _children(pid: int) -> list[int]:
    children = Path(f"/proc/{pid}/task/{pid}/children").read_text().split()
    return [int(child) for child in children]


def test_serve_runs_the_worker_in_a_process_that_ends_with_the_server(tmp_path: Path) -> None:
    with served_process(tmp_path, "batch_worker", SLDS_BATCH_WORKER="true") as (served, server):
        assert server.process is not None
        workers = [pid for pid in _children(server.process.pid)
                   if b"identity\0worker" in Path(f"/proc/{pid}/cmdline").read_bytes()]
        assert len(workers) == 1
        served.add_client("SIS 1001", "--role", "district_sis", "--district", "1001")
        sis = {"Authorization": f"Bearer {served.client_token('SIS 1001')}"}
        location = served.base + httpx.post(served.base + BATCHES, headers=sis, json=[person(i) for i in range(5)],
                                            timeout=60).headers["location"]
        deadline = time.monotonic() + 60
        while (body := httpx.get(location, headers=sis, timeout=30).json())["status"] != "done":
            assert time.monotonic() < deadline, body
            time.sleep(0.05)
        assert [r["decision"] for r in body["results"]] == ["assigned"] * 5

        server.kill()  # SIGKILL: no shutdown hook runs, yet the worker must not outlive it
        deadline = time.monotonic() + 10
        while Path(f"/proc/{workers[0]}").exists() and b"zombie" not in _state(workers[0]):
            assert time.monotonic() < deadline, "the worker outlived the server"
            time.sleep(0.05)


def _state(pid: int) -> bytes:
    try:
        return Path(f"/proc/{pid}/status").read_bytes().lower()
    except FileNotFoundError:
        return b"zombie"
