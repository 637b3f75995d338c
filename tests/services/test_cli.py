"""The `slds` command as an operator runs it: a real process on a fresh SQLite database."""

from __future__ import annotations

import json
import re
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def slds(tmp_path: Path):
    env = {k: v for k, v in os.environ.items() if not k.startswith("SLDS_")}
    env.update(SLDS_VAR_DIR=str(tmp_path / "var"), SLDS_NEW_PASSWORD="violet harbour engine 31")

    def run(*args: str, ok: bool = True) -> subprocess.CompletedProcess[str]:
        result = subprocess.run([sys.executable, "-m", "services.cli", *args], cwd=ROOT, env=env,
                                capture_output=True, text=True, timeout=120)
        if ok:
            assert result.returncode == 0, result.stderr
        return result

    return run


def test_demo_loads_once_and_prints_how_to_log_in(slds, tmp_path: Path) -> None:
    first = slds("demo")
    assert "demo.admin" in first.stdout and "grant_type=password" in first.stdout
    credentials = json.loads((tmp_path / "var" / "demo-credentials.json").read_text())
    assert (tmp_path / "var" / "demo-credentials.json").stat().st_mode & 0o077 == 0
    assert {"state_data_admin", "teacher", "registrar", "parent"} <= {u["role"] for u in credentials["users"].values()}
    students = credentials["students"]
    assert sum(students["decisions"].values()) == students["submissions"]
    # 300 synthetic students, each submitted first by their district: about 300 new IDs, the
    # transfers and resubmissions matched rather than duplicated.
    assert 280 <= students["decisions"]["assigned"] <= 310
    assert students["decisions"]["matched"] >= 50
    # Every district posted its students' records through the records API, none refused.
    records = re.search(r"Records: (\d+) student records \((\d+) rejected\), (\d+) class sections", first.stdout)
    assert records is not None, first.stdout
    assert int(records[1]) >= 280 and int(records[2]) == 0 and int(records[3]) == 2
    second = slds("demo")
    assert "already loaded" in second.stdout
    assert json.loads((tmp_path / "var" / "demo-credentials.json").read_text()) == credentials


def test_users_clients_and_keys(slds) -> None:
    slds("db", "upgrade")
    user = json.loads(slds("users", "add", "jdoe", "--role", "teacher", "--district", "1001",
                           "--school", "1001-01", "--staff-id", "S123").stdout)
    assert user["username"] == "jdoe" and user["role"] == "teacher"
    duplicate = slds("users", "add", "jdoe", "--role", "registrar", "--state", "ST", ok=False)
    assert duplicate.returncode == 2 and "already exists" in duplicate.stderr
    missing_scope = slds("users", "add", "kim", "--role", "superintendent", ok=False)
    assert missing_scope.returncode == 2 and "district_ids" in missing_scope.stderr
    created = json.loads(slds("clients", "add", "District 1002 SIS", "--role", "district_sis",
                              "--district", "1002").stdout)
    assert created["client_id"].startswith("c_") and len(created["client_secret"]) >= 40
    first = json.loads(slds("keys", "rotate").stdout)["new_kid"]
    second = json.loads(slds("keys", "rotate").stdout)["new_kid"]
    assert first != second
