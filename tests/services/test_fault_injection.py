"""Fault injection on PostgreSQL (issue 8): a real `slds serve` process killed with SIGKILL in the
middle of a batch, a database backend terminated in the middle of a bulk write, and the database
cut off and given back under load. After each: every row done exactly once, nothing half-written in
business or log tables, the hash chain verifies, and the service recovers without a restart.

The outage goes through a TCP proxy between the service and PostgreSQL that the test cuts and
restores: to the service that is a database restart (every connection dropped, new ones refused),
without restarting the PostgreSQL that the rest of the suite is connected to."""

from __future__ import annotations

import asyncio
import json
import random
import shutil
import os
import socket
import subprocess
import threading
import time
from collections import Counter
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import text
from sqlalchemy.engine import make_url

from shared.db import create_engine
from tests.serving import CLI, Served, Server, served_process

pytestmark = pytest.mark.skipif(not os.environ.get("SLDS_TEST_DATABASE_URL", "").startswith("postgresql"),
                                reason="fault injection runs on PostgreSQL")

BATCHES = "/identity/v1/students/batches"


SYLLABLES = "ka lo mi ra tes vin dor pel sa qu ber nan tor gil fa mon zet hu cal rin".split()
FIRST = ("Ada Bea Cyrus Dov Eli Fay Gus Hana Ivo Jun Kira Levi Mona Nico Oona Pia Quinn Rosa Sami Tova Uma "
         "Vera Wes Xena Yuri Zane Abel Bruna Cato Dara").split()


def person(i: int) -> dict[str, Any]:
    """Distinct people (seeded by row): a batch of them is mostly new IDs, as a district's first load is."""
    rng = random.Random(i)
    last = "".join(rng.choice(SYLLABLES) for _ in range(3)).capitalize() + rng.choice(["son", "ez", "ski", "ley"])
    born = date(2008, 1, 1) + timedelta(days=rng.randrange(4000))
    return {"row_ref": f"r{i}", "district_id": "1001", "local_student_id": f"L{i}",
            "first_name": rng.choice(FIRST), "last_name": last, "birth_date": born.isoformat(),
            "guardian_names": [f"{rng.choice(FIRST)} {last}"]}


def scalar(served: Served, sql: str, **params: Any) -> Any:
    """One value from the served database, on a connection of the test's own."""

    async def query() -> Any:
        engine = create_engine(served.env["SLDS_DATABASE_URL"])
        try:
            async with engine.connect() as connection:
                return (await connection.execute(text(sql), params)).scalar()
        finally:
            await engine.dispose()

    return asyncio.run(query())


def poll(url: str, headers: dict[str, str], until, timeout: float = 300, every: float = 0.02) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        body = httpx.get(url, headers=headers, timeout=30).json()
        if until(body):
            return body
        time.sleep(every)
    raise AssertionError(f"gave up waiting; last answer {body}")


def test_a_batch_killed_midway_then_resubmitted_does_every_row_exactly_once(tmp_path: Path) -> None:
    rows = [person(i) for i in range(10_000)]
    with served_process(tmp_path, "faults_batch", SLDS_BATCH_WORKER="true") as (served, server):
        served.add_client("SIS 1001", "--role", "district_sis", "--district", "1001")
        sis = {"Authorization": f"Bearer {served.client_token('SIS 1001')}", "Idempotency-Key": "nightly-1"}
        first = httpx.post(served.base + BATCHES, headers=sis, json=rows, timeout=120)
        assert first.status_code == 202, first.text
        location = served.base + first.headers["location"]
        at_kill = poll(location, sis, lambda b: b["processed"] >= 500 or b["status"] == "done")
        server.kill()  # SIGKILL: no shutdown hook, a chunk may be half-way through its transaction
        assert at_kill["status"] != "done", "the batch finished before it could be killed"
        assert 0 < at_kill["processed"] < len(rows)

        server.start()
        sis["Authorization"] = f"Bearer {served.client_token('SIS 1001')}"
        again = httpx.post(served.base + BATCHES, headers=sis, json=rows, timeout=120)
        assert again.status_code == 202 and served.base + again.headers["location"] == location
        done = poll(location, sis, lambda b: b["status"] == "done", every=0.5)

    results = done["results"]
    assert len(results) == len(rows) and {r["row_ref"] for r in results} == {r["row_ref"] for r in rows}
    decisions = Counter(r["decision"] for r in results)
    assert set(decisions) <= {"assigned", "matched", "review"} and decisions["assigned"] > len(rows) // 2
    # Exactly once: one person per "assigned" row, one alias per answered row, one review item per
    # "review" row; none left over from the chunk the kill interrupted, none made twice by the retry.
    assert scalar(served, "SELECT count(*) FROM identity_person") == decisions["assigned"]
    assigned_ids = [r["state_student_id"] for r in results if r["decision"] == "assigned"]
    assert len(set(assigned_ids)) == len(assigned_ids)
    assert scalar(served, "SELECT count(*) FROM identity_alias WHERE district_id = '1001'") == (
        decisions["assigned"] + decisions["matched"])
    assert scalar(served, "SELECT count(*) FROM identity_review_item") == decisions["review"]
    assert scalar(served, "SELECT count(*) FROM identity_batch_row") == len(rows)


def _record(state_id: str, i: int) -> dict[str, Any]:
    return {"state_student_id": state_id, "local_student_id": f"L{i}",
            "demographics": {"first_name": "Ana", "last_name": f"Family{i}", "birth_date": "2014-03-09", "sex": "F"},
            "enrollment": [{"school_year": "2025-2026", "district_id": "1001", "school_id": "1001-01",
                            "grade_level": "06", "entry_date": "2025-08-20", "entry_type": "first_entry_in_state"}]}


def _verify_log(served: Served) -> dict[str, Any]:
    out = subprocess.run([*CLI, "records", "verify-log"], env=served.env, capture_output=True, text=True)
    return json.loads(out.stdout)


_TERMINATE_LOCK_HOLDER = text(
    "SELECT pg_terminate_backend(l.pid) FROM pg_locks l JOIN pg_database d ON d.oid = l.database "
    "WHERE l.locktype = 'advisory' AND l.granted AND d.datname = :db LIMIT 1")


async def _terminate_the_lock_holder(served: Served, writer: threading.Thread) -> bool | None:
    """Terminate the backend holding an advisory lock in the served database, as soon as one does,
    while `writer` runs. The bulk writer holds the records log's lock from its first write to commit
    (validation runs before it); found and terminated in one statement, so a write that has just
    committed (its pooled backend idle) is never the one killed. One connection polled every few
    ms: a connection per poll took longer than the lock is held on a fast machine."""
    engine = create_engine(served.env["SLDS_DATABASE_URL"])
    database = make_url(served.env["SLDS_DATABASE_URL"]).database
    deadline = time.monotonic() + 60
    try:
        async with engine.connect() as connection:
            connection = await connection.execution_options(isolation_level="AUTOCOMMIT")
            while writer.is_alive() and time.monotonic() < deadline:
                killed = (await connection.execute(_TERMINATE_LOCK_HOLDER, {"db": database})).scalar()
                if killed is not None:
                    return killed
                await asyncio.sleep(0.002)
    finally:
        await engine.dispose()
    return None


def test_a_backend_terminated_mid_write_leaves_nothing_half_written_and_the_retry_does_it_once(tmp_path: Path) -> None:
    count = 3000
    with served_process(tmp_path, "faults_terminate", SLDS_BATCH_WORKER="true") as (served, server):
        served.add_client("SIS 1001", "--role", "district_sis", "--district", "1001")
        sis = {"Authorization": f"Bearer {served.client_token('SIS 1001')}"}
        batch = httpx.post(served.base + BATCHES, headers=sis, json=[person(i) for i in range(count)], timeout=120)
        done = poll(served.base + batch.headers["location"], sis, lambda b: b["status"] == "done", every=0.5)
        ids = [r["state_student_id"] for r in done["results"] if r["decision"] == "assigned"]
        records = [_record(state_id, i) for i, state_id in enumerate(ids)]
        count = len(records)
        before = _verify_log(served)
        assert before["ok"]

        answers: list[httpx.Response] = []
        headers = {**sis, "Idempotency-Key": "load-7"}
        writer = threading.Thread(target=lambda: answers.append(
            httpx.post(served.base + "/records/v1/students/bulk", headers=headers, json=records, timeout=300)))
        writer.start()
        killed = asyncio.run(_terminate_the_lock_holder(served, writer))
        if not killed:
            writer.join(timeout=300)
            pytest.fail("the bulk write was not caught in its transaction: it answered "
                        + (f"{answers[0].status_code} {answers[0].text[:300]}" if answers else "nothing"))
        writer.join(timeout=300)
        failed = answers[0]
        assert failed.status_code == 503, failed.text
        assert failed.headers["content-type"].startswith("application/problem+json")
        assert failed.headers["retry-after"] == "1"

        # Nothing of the killed transaction: no record, no version, no log entry, no idempotency row.
        assert scalar(served, "SELECT count(*) FROM records_subject") == 0
        assert scalar(served, "SELECT count(*) FROM records_item_version") == 0
        assert scalar(served, "SELECT count(*) FROM records_idempotency") == 0
        after = _verify_log(served)
        assert after["ok"] and after["entries"] == before["entries"]

        retry = httpx.post(served.base + "/records/v1/students/bulk", headers=headers, json=records, timeout=300)
        assert retry.status_code == 200, retry.text
        assert {row["status"] for row in retry.json()["results"]} == {"created"}
        assert {row["version"] for row in retry.json()["results"]} == {1}
        replay = httpx.post(served.base + "/records/v1/students/bulk", headers=headers, json=records, timeout=300)
        assert replay.json() == retry.json()
        assert scalar(served, "SELECT count(*) FROM records_subject") == count
        versions = scalar(served, "SELECT count(*) FROM records_item_version")
        assert versions == scalar(served, "SELECT count(*) FROM records_item")  # one version each, once
        assert _verify_log(served)["ok"]


class CuttableProxy:
    """A TCP proxy to PostgreSQL that a test can cut (drop every connection, refuse new ones)."""

    def __init__(self, target: tuple[str, int]) -> None:
        self.target = target
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.port = self.listener.getsockname()[1]
        self.up = True
        self.sockets: list[socket.socket] = []
        self.lock = threading.Lock()
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while True:
            try:
                client, _ = self.listener.accept()
            except OSError:
                return
            if not self.up:
                client.close()
                continue
            try:
                upstream = socket.create_connection(self.target)
            except OSError:
                client.close()
                continue
            with self.lock:
                self.sockets += [client, upstream]
            for a, b in ((client, upstream), (upstream, client)):
                threading.Thread(target=self._pipe, args=(a, b), daemon=True).start()

    @staticmethod
    def _pipe(source: socket.socket, sink: socket.socket) -> None:
        try:
            while data := source.recv(65536):
                sink.sendall(data)
        except OSError:
            pass
        finally:
            for s in (source, sink):
                try:
                    s.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass

    def cut(self) -> None:
        self.up = False
        with self.lock:
            for s in self.sockets:
                try:
                    s.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass
                s.close()
            self.sockets.clear()

    def restore(self) -> None:
        self.up = True

    def close(self) -> None:
        self.cut()
        self.listener.close()


def _outage_under_load(tmp_path: Path, name: str, serve_url: str | None, take_down, bring_back) -> None:
    """Four readers hammer a list endpoint; the database goes away and comes back. Every answer is
    a 200 or a 503 (never a 500, never a dropped connection), readiness follows the database, and
    the same server process serves 200s again afterwards."""
    statuses: list[int] = []
    errors: list[str] = []
    stop = threading.Event()
    try:
        with served_process(tmp_path, name, serve_url=serve_url) as (served, server):
            served.add_client("SIS 1001", "--role", "district_sis", "--district", "1001")
            sis = {"Authorization": f"Bearer {served.client_token('SIS 1001')}"}
            pid = server.process.pid

            def load() -> None:
                with httpx.Client(base_url=served.base, headers=sis, timeout=30) as http:
                    while not stop.is_set():
                        try:
                            statuses.append(http.get("/records/v1/students", params={"limit": 5}).status_code)
                        except httpx.HTTPError as error:
                            errors.append(repr(error))
                            statuses.append(0)  # no HTTP answer at all: counted, and failed on below

            workers = [threading.Thread(target=load) for _ in range(4)]
            for w in workers:
                w.start()
            wait_for(lambda: statuses.count(200) >= 20)
            assert set(statuses) == {200}

            take_down()
            down = poll_status(served.base + "/records/ready", 503)
            assert down.headers["content-type"].startswith("application/problem+json")
            cut_at = len(statuses)
            wait_for(lambda: statuses[cut_at:].count(503) >= 5)

            bring_back()
            poll_status(served.base + "/records/ready", 200)
            restored_at = len(statuses)
            # A pooled connection opened before the outage may fail one more request (503) before
            # the pool has replaced it; then the service settles back to steady 200s by itself.
            wait_for(lambda: len(statuses) - restored_at >= 40 and set(statuses[-20:]) == {200})
            stop.set()
            for w in workers:
                w.join(timeout=60)
            assert server.process is not None and server.process.pid == pid  # recovered by itself
            assert set(statuses) <= {200, 503}, ("a lost database must never be a 500", errors[:3],
                                                 (tmp_path / "server.log").read_text()[-3000:])
    finally:
        stop.set()


def test_the_database_cut_off_under_load_gives_503_and_not_ready_then_recovers_without_a_restart(tmp_path: Path) -> None:
    pg = make_url(os.environ["SLDS_TEST_DATABASE_URL"])
    proxy = CuttableProxy((pg.host or "127.0.0.1", pg.port or 5432))
    through_proxy = pg.set(host="127.0.0.1", port=proxy.port,
                           database=f"{pg.database}_faults_outage").render_as_string(hide_password=False)
    try:
        _outage_under_load(tmp_path, "faults_outage", through_proxy, proxy.cut, proxy.restore)
    finally:
        proxy.close()


@pytest.mark.skipif(shutil.which("pg_createcluster") is None or os.geteuid() != 0,
                    reason="needs Debian's postgresql-common and root to make a throwaway cluster")
def test_postgresql_stopped_and_started_under_load_the_service_recovers_by_itself(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The real thing: a throwaway PostgreSQL cluster of the machine's version, stopped and started
    while the service is under load (the suite's own cluster is left alone)."""
    version = sorted(os.listdir("/etc/postgresql"))[-1]
    cluster = f"slds_faults_{os.getpid()}"
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    subprocess.run(["pg_createcluster", "--start", "-p", str(port), version, cluster, "--", "--auth=trust"],
                   check=True, capture_output=True)
    try:
        monkeypatch.setenv("SLDS_TEST_DATABASE_URL", f"postgresql+asyncpg://postgres@127.0.0.1:{port}/slds_faults")

        def ctl(action: str) -> None:
            subprocess.run(["pg_ctlcluster", "--skip-systemctl-redirect", version, cluster, action, "-m", "fast"]
                           if action == "stop" else
                           ["pg_ctlcluster", "--skip-systemctl-redirect", version, cluster, action],
                           check=True, capture_output=True)

        _outage_under_load(tmp_path, "restart", None, lambda: ctl("stop"), lambda: ctl("start"))
    finally:
        subprocess.run(["pg_dropcluster", "--stop", version, cluster], check=False, capture_output=True)


def wait_for(condition, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.05)


def poll_status(url: str, status: int, timeout: float = 30) -> httpx.Response:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            response = httpx.get(url, timeout=10)
            if response.status_code == status:
                return response
        except httpx.HTTPError:
            pass
        time.sleep(0.1)
    raise AssertionError(f"{url} never answered {status}")
