"""`slds serve --workers N` (services/serving.py): several uvicorn worker processes on one port and
one PostgreSQL database. SQLite, one writer at a time, is refused up front."""

from __future__ import annotations

import json
import os
import random
import subprocess
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.serving import CLI, served_process

ON_POSTGRES = os.environ.get("SLDS_TEST_DATABASE_URL", "").startswith("postgresql")
BATCHES = "/identity/v1/students/batches"


def _serve(tmp_path: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "SLDS_VAR_DIR": str(tmp_path)}
    env.pop("SLDS_DATABASE_URL", None)  # the embedded SQLite default
    return subprocess.run([*CLI, "serve", "--port", "1", *args], env=env, capture_output=True, text=True,
                          timeout=60, check=False)


def test_several_workers_on_sqlite_are_refused_before_serving(tmp_path: Path) -> None:
    refused = _serve(tmp_path, "--workers", "2")
    assert refused.returncode == 2
    assert "--workers" in refused.stderr and "PostgreSQL" in refused.stderr
    assert not (tmp_path / "slds.db").exists()  # nothing started, nothing created


@pytest.mark.parametrize("value", ["0", "-1", "two"])
def test_the_worker_count_must_be_a_positive_whole_number(tmp_path: Path, value: str) -> None:
    refused = _serve(tmp_path, "--workers", value)
    assert refused.returncode == 2 and "--workers: must be a whole number, 1 or more" in refused.stderr


def _worker_pids(server_pid: int) -> set[int]:
    """uvicorn's worker processes: the server's children spawned by multiprocessing (not its resource tracker)."""
    pids = set()
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
            cmdline = (entry / "cmdline").read_bytes()
        except OSError:
            continue
        if int(stat[stat.rindex(")") + 2:].split()[1]) == server_pid and b"spawn_main" in cmdline:
            pids.add(int(entry.name))
    return pids


def _person(i: int) -> dict[str, Any]:
    rng = random.Random(i)
    return {"row_ref": f"r{i}", "district_id": "1001", "local_student_id": f"W{i}",
            "first_name": rng.choice(["Ada", "Bea", "Cyrus", "Dov", "Eli"]), "last_name": f"Workerson{i}x",
            "birth_date": (date(2010, 1, 1) + timedelta(days=rng.randrange(3000))).isoformat()}


def _record(state_id: str, i: int) -> dict[str, Any]:
    return {"state_student_id": state_id, "local_student_id": f"W{i}",
            "demographics": {"first_name": "Ana", "last_name": f"Workerson{i}x", "birth_date": "2014-03-09", "sex": "F"},
            "enrollment": [{"school_year": "2025-2026", "district_id": "1001", "school_id": "1001-01",
                            "grade_level": "06", "entry_date": "2025-08-20", "entry_type": "first_entry_in_state"}]}


@pytest.mark.skipif(not ON_POSTGRES, reason="several workers need PostgreSQL")
def test_two_workers_share_the_port_the_tokens_and_one_verified_access_log(tmp_path: Path) -> None:
    with served_process(tmp_path, "workers", serve_args=("--workers", "2"), SLDS_BATCH_WORKER="true",
                        SLDS_LOG_LEVEL="INFO") as (served, server):
        assert server.process is not None
        assert len(_worker_pids(server.process.pid)) == 2
        served.add_client("SIS 1001", "--role", "district_sis", "--district", "1001")
        served.add_user("super.1001", "--role", "superintendent", "--district", "1001")
        sis = {"Authorization": f"Bearer {served.client_token('SIS 1001')}"}
        batch = httpx.post(served.base + BATCHES, headers=sis, json=[_person(i) for i in range(12)], timeout=60)
        assert batch.status_code == 202
        location = served.base + batch.headers["location"]
        for _ in range(600):
            done = httpx.get(location, headers=sis, timeout=30).json()
            if done["status"] == "done":
                break
        ids = [r["state_student_id"] for r in done["results"]]
        assert len(set(ids)) == 12
        written = httpx.post(served.base + "/records/v1/students/bulk", headers=sis,
                             json=[_record(sid, i) for i, sid in enumerate(ids)], timeout=60)
        assert written.status_code == 200 and written.json()["accepted"] == 12

        # One token, minted by whichever worker took that connection, then a new connection per
        # read: the reads land on both workers, and every one of them honours the token.
        reader = {"Authorization": f"Bearer {served.user_token('super.1001')}"}
        for i in range(60):
            answer = httpx.get(f"{served.base}/records/v1/students/{ids[i % 12]}", headers=reader, timeout=30)
            assert answer.status_code == 200 and answer.json()["state_student_id"] == ids[i % 12]

        # Both workers staged read entries; the log's chain still verifies.
        verified = json.loads(subprocess.run([*CLI, "records", "verify-log"], env=served.env, check=False,
                                             capture_output=True, text=True).stdout)
        assert verified["ok"], verified

    # Every worker logged JSON (services/serving.py configures it in each), naming routes, never
    # the state IDs in the paths.
    lines = [line for line in (tmp_path / "server.log").read_text().splitlines() if line.startswith("{")]
    reads = [json.loads(line) for line in lines
             if json.loads(line).get("route") == "/records/v1/students/{state_student_id}"]
    assert len(reads) >= 60
    assert len({entry["pid"] for entry in reads}) == 2
    log_text = (tmp_path / "server.log").read_text()
    assert not any(sid in log_text for sid in ids)


def test_a_served_app_leaves_its_start_up_objects_out_of_garbage_collections(monkeypatch) -> None:
    """What a worker built before serving is frozen, and the young generation is collected less
    often than Python's default (services/serving.py)."""
    import gc

    from services import serving

    monkeypatch.setattr(serving, "configure_logging", lambda level: None)  # this process's logs stay pytest's
    threshold = gc.get_threshold()
    try:
        app = serving.reporting()
        assert app.title and gc.get_freeze_count() > 0
        assert gc.get_threshold()[0] == serving.GC_FIRST_GENERATION > threshold[0]
    finally:
        gc.unfreeze()
        gc.set_threshold(*threshold)
