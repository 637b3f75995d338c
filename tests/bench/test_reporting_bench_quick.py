"""The reporting bench runs end to end in quick mode (fresh database, synthetic fact table,
statewide publishes with complementary suppression and the audit, the plain GROUP BY beside
them) and reports every figure. No timing thresholds here: those are bench figures, not tests.

On the PostgreSQL run (`SLDS_TEST_DATABASE_URL=postgresql+asyncpg://...`) the bench uses a
database of its own on the same server, never the test database."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from tests.helpers import bench_database_url

ROOT = Path(__file__).resolve().parents[2]


def test_quick_run_reports_every_figure(tmp_path: Path) -> None:
    out = tmp_path / "reporting.json"
    command = [sys.executable, "-m", "bench.reporting", "--quick", "--json", str(out)]
    url = bench_database_url("slds_bench_reporting_quick")
    if url:
        command += ["--database-url", url]
    result = subprocess.run(command, check=False, cwd=ROOT, capture_output=True, text=True, timeout=900)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    assert "| counts (enrollment_count) |" in result.stdout
    assert "| rates (ela_proficiency_rate) |" in result.stdout
    assert "plain SQL GROUP BY" in result.stdout

    report = json.loads(out.read_text())
    assert report["meta"]["database"] == ("PostgreSQL" if url else "SQLite")
    assert report["meta"]["students"] == 20_000 and len(report["rounds"]) == 2
    for measure in ("enrollment_count", "ela_proficiency_rate"):
        m = report["medians"][measure]
        assert m["group_by_seconds"] > 0 and m["publish_seconds"] > m["audit_seconds"] > 0
        # 40 schools, 4 districts and the state, each with `all` and 7 groups.
        assert m["cells"] == (40 + report["meta"]["districts"] + 1) * 8
        assert m["primary"] > 0 and m["hidden"] == m["primary"] + m["secondary"]
        assert m["lp_calls"] > 0
    assert set(report["targets"]) == {"publish_under_5s"}
