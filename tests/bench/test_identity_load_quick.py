"""`bench.identity_load batch` runs end to end on SQLite, and the batch worker's set-based path and
the old one-resolve-per-row path give the same answers for every row of the same stream (the
grouping of rows into IDs and every decision). No timing targets: those are bench figures."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_batch_bench_runs_and_both_paths_agree(tmp_path: Path) -> None:
    out = tmp_path / "load.json"
    result = subprocess.run(
        [sys.executable, "-m", "bench.identity_load", "batch", "--sqlite", "--students", "300",
         "--baseline-students", "300", "--batch-size", "250", "--json", str(out)],
        cwd=ROOT, capture_output=True, text=True, timeout=600, check=False,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    report = json.loads(out.read_text())
    assert report["same_answers_on_common_rows"] is True
    for run in ("set_based", "one_at_a_time"):
        assert report[run]["rows"] == report["submissions"] > 300
        assert report[run]["accuracy"]["errors"] == 0
        assert report[run]["worker_persons_per_second"] > 0
