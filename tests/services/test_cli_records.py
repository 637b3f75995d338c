"""`slds records verify-log` and `slds retention run` as an operator runs them: a real process on a
fresh SQLite database, whose access log the test writes to (and tampers with) directly."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import text

from services.records.models import (
    RecordItem,
    RecordItemVersion,
    RecordsAccessLogEntry,
    RecordSubject,
)
from shared.audit import append_many
from shared.db import create_engine, create_sessionmaker

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def slds(tmp_path: Path):
    env = {k: v for k, v in os.environ.items() if not k.startswith("SLDS_")}
    env.update(SLDS_VAR_DIR=str(tmp_path / "var"))

    def run(*args: str, ok: bool = True) -> subprocess.CompletedProcess[str]:
        result = subprocess.run([sys.executable, "-m", "services.cli", *args], check=False, cwd=ROOT, env=env,
                                capture_output=True, text=True, timeout=120)
        if ok:
            assert result.returncode == 0, result.stderr
        return result

    return run


async def _with_session(tmp_path: Path, work) -> None:
    engine = create_engine(f"sqlite+aiosqlite:///{(tmp_path / 'var' / 'slds.db').as_posix()}")
    try:
        async with create_sessionmaker(engine)() as session, session.begin():
            await work(session)
    finally:
        await engine.dispose()


async def test_verify_log_passes_an_intact_chain_and_names_the_tampered_row(slds, tmp_path: Path) -> None:
    slds("db", "upgrade")
    empty = json.loads(slds("records", "verify-log").stdout)
    assert empty == {"ok": True, "entries": 0}

    async def write(session) -> None:
        await append_many(session, RecordsAccessLogEntry, [
            {"action": "read", "index_columns": {"state_id": f"100000000{i}"},
             "payload": {"entity": "student", "state_id": f"100000000{i}", "fields": ["demographics.first_name"]}}
            for i in range(3)], actor="user:auditor-test", request_id="req-cli-test-1")

    await _with_session(tmp_path, write)
    intact = json.loads(slds("records", "verify-log").stdout)
    assert intact == {"ok": True, "entries": 3}

    async def tamper(session) -> None:
        await session.execute(text("UPDATE records_access_log SET payload = :p WHERE seq = 2"),
                              {"p": json.dumps({"entity": "student", "state_id": "1000000001", "fields": []})})

    await _with_session(tmp_path, tamper)
    broken = slds("records", "verify-log", ok=False)
    assert broken.returncode == 1
    report = json.loads(broken.stdout)
    assert report["ok"] is False and report["first_bad_seq"] == 2 and report["problem"] == "content changed"


async def test_retention_run_dry_and_real(slds, tmp_path: Path) -> None:
    slds("db", "upgrade")
    now = datetime.now(UTC)

    async def seed(session) -> None:
        session.add(RecordSubject(entity="student", state_id="2000000001", version=1, change_version=1))
        await session.flush()
        for key, day in (("2019-03-01|theft|detention", "2019-03-01"), ("2025-10-01|theft|detention", "2025-10-01")):
            data = {"incident_date": day, "incident_type": "theft", "action_type": "detention"}
            item = RecordItem(entity="student", state_id="2000000001", section="discipline", item_key=key,
                              district_id="1001", data=data, version=1, change_version=1, recorded_at=now,
                              recorded_by="client:test")
            session.add(item)
            await session.flush()
            session.add(RecordItemVersion(item_id=item.id, entity="student", state_id="2000000001",
                                          section="discipline", item_key=key, version=1, operation="create",
                                          data=data, district_id="1001", recorded_at=now, recorded_by="client:test"))

    await _with_session(tmp_path, seed)
    dry = json.loads(slds("retention", "run", "--today", "2026-01-15", "--dry-run").stdout)
    assert dry["dry_run"] is True and dry["discipline_elements"] == 1 and dry["discipline_versions"] == 1
    assert dry["discipline_cutoff"] == "2023-01-15"
    real = json.loads(slds("retention", "run", "--today", "2026-01-15").stdout)
    assert (real["discipline_students"], real["discipline_elements"], real["discipline_versions"]) == (1, 1, 1)
    again = json.loads(slds("retention", "run", "--today", "2026-01-15").stdout)
    assert again["discipline_elements"] == 0
    assert json.loads(slds("records", "verify-log").stdout) == {"ok": True, "entries": 1}
    bad = slds("retention", "run", "--today", "15/01/2026", ok=False)
    assert bad.returncode == 2 and "YYYY-MM-DD" in bad.stderr


async def test_a_signed_checkpoint_catches_a_cut_tail_and_a_forged_checkpoint(slds, tmp_path: Path) -> None:
    """A chain whose newest entries are deleted still verifies by itself; against a checkpoint
    taken earlier (kept outside the database) it does not."""
    slds("db", "upgrade")

    async def write(session) -> None:
        await append_many(session, RecordsAccessLogEntry, [
            {"action": "read", "payload": {"entity": "student", "state_id": f"200000000{i}"}}
            for i in range(4)], actor="user:auditor-test", request_id="req-cli-test-2")

    await _with_session(tmp_path, write)
    saved = tmp_path / "checkpoint.json"
    checkpoint = json.loads(slds("records", "checkpoint", "--out", str(saved)).stdout)
    assert checkpoint["seq"] == 4 and json.loads(saved.read_text()) == checkpoint
    assert json.loads(slds("records", "verify-log", "--checkpoint", str(saved)).stdout)["checkpoint"]["ok"] is True

    await _with_session(tmp_path, write)  # the log grows after the checkpoint: still fine
    assert json.loads(slds("records", "verify-log", "--checkpoint", str(saved)).stdout)["ok"] is True

    async def cut(session) -> None:
        await session.execute(text("DELETE FROM records_access_log WHERE seq >= 3"))

    await _with_session(tmp_path, cut)
    assert json.loads(slds("records", "verify-log").stdout)["ok"] is True  # the chain alone cannot tell
    caught = slds("records", "verify-log", "--checkpoint", str(saved), ok=False)
    assert caught.returncode == 1
    assert json.loads(caught.stdout)["checkpoint"]["problem"].startswith("truncated")

    forged = tmp_path / "forged.json"
    forged.write_text(json.dumps({**checkpoint, "seq": 2}))
    refused = json.loads(slds("records", "verify-log", "--checkpoint", str(forged), ok=False).stdout)
    assert "signature" in refused["checkpoint"]["problem"]


async def test_the_disclosure_log_has_the_same_verifier_and_signed_checkpoint(slds, tmp_path: Path) -> None:
    """Issue 8: the FERPA 99.32 log, like the access log, is checked by an operator's command
    and a cut tail is caught against a checkpoint kept off the database."""
    from datetime import date

    from services.disclosure.models import DisclosureLogEntry, DisclosureLogStudent

    slds("db", "upgrade")

    async def write(session) -> None:
        await append_many(session, DisclosureLogEntry, [
            {"action": "disclosure", "index_columns": {"legal_basis": "judicial_order", "disclosed_on": date(2026, 12, 1)},
             "payload": {"students": [f"300000000{i}"], "fields": ["demographics.first_name"]}}
            for i in range(3)], actor="client:svc-records", request_id="req-cli-test-3")
        seqs = (await session.scalars(text("SELECT seq FROM disclosure_log ORDER BY seq"))).all()
        session.add_all(DisclosureLogStudent(entry_seq=seq, state_student_id=f"300000000{i}")
                        for i, seq in enumerate(seqs))

    await _with_session(tmp_path, write)
    saved = tmp_path / "disclosure-checkpoint.json"
    checkpoint = json.loads(slds("disclosure", "checkpoint", "--out", str(saved)).stdout)
    assert checkpoint["seq"] == 3 and checkpoint["table"] == "disclosure_log"
    assert json.loads(slds("disclosure", "verify-log", "--checkpoint", str(saved)).stdout)["ok"] is True
    # a records checkpoint is no proof for the disclosure log
    records_checkpoint = json.loads(slds("records", "checkpoint").stdout)
    (tmp_path / "wrong.json").write_text(json.dumps(records_checkpoint))
    assert not json.loads(slds("disclosure", "verify-log", "--checkpoint", str(tmp_path / "wrong.json"),
                               ok=False).stdout)["checkpoint"]["ok"]

    async def cut(session) -> None:
        await session.execute(text("DELETE FROM disclosure_log_student WHERE entry_seq = 3"))
        await session.execute(text("DELETE FROM disclosure_log WHERE seq = 3"))

    await _with_session(tmp_path, cut)
    assert json.loads(slds("disclosure", "verify-log").stdout)["ok"] is True  # the chain alone cannot tell
    caught = slds("disclosure", "verify-log", "--checkpoint", str(saved), ok=False)
    assert caught.returncode == 1 and json.loads(caught.stdout)["checkpoint"]["problem"].startswith("truncated")

    async def edit(session) -> None:
        await session.execute(text("UPDATE disclosure_log SET actor = 'client:someone-else' WHERE seq = 2"))

    await _with_session(tmp_path, edit)
    edited = json.loads(slds("disclosure", "verify-log", ok=False).stdout)
    assert edited["first_bad_seq"] == 2 and edited["problem"] == "content changed"
    assert json.loads(slds("identity", "verify-log").stdout) == {"ok": True, "entries": 0}
