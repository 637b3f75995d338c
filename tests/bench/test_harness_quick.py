"""The benchmark harness runs every bench's quick mode and prints one table listing every figure
the issues ask for, with its baseline from the same run; it writes the same as JSON and markdown.
No timing thresholds: those are bench figures, not tests.

The quick run happens once, in the SQLite pass of the suite: the per-bench quick tests already
run each bench on PostgreSQL."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import time
from pathlib import Path

import pytest

from bench.harness import (
    DOCS_BEGIN,
    DOCS_END,
    Step,
    code_version,
    command_line,
    figures,
    render,
    run_step,
    step_budget,
    write_markdown,
)

ROOT = Path(__file__).resolve().parents[2]
FIGURES = {
    "identity_auto_precision", "identity_recall", "identity_review_share", "identity_pairwise_precision",
    "identity_pairwise_recall", "identity_pairwise_f1", "resolve_p50", "resolve_p95", "batch_throughput",
    "reads_per_second", "reads_p95", "ingest_rate", "publish_counts", "publish_rates",
}
WITH_BASELINE = {"identity_pairwise_precision", "identity_pairwise_recall", "identity_pairwise_f1",
                 "reads_per_second", "reads_p95", "publish_counts", "publish_rates"}


@pytest.mark.skipif(bool(os.environ.get("SLDS_TEST_DATABASE_URL")),
                    reason="the SQLite pass runs the harness; each bench's quick test covers PostgreSQL")
def test_quick_run_prints_one_table_of_every_figure(tmp_path: Path) -> None:
    out, markdown = tmp_path / "harness.json", tmp_path / "harness.md"
    env = {k: v for k, v in os.environ.items() if k not in ("SLDS_DATABASE_URL", "SLDS_TEST_DATABASE_URL")}
    result = subprocess.run(
        [sys.executable, "-m", "bench.harness", "--quick", "--results-dir", str(tmp_path / "results"),
         "--json", str(out), "--markdown", str(markdown)],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=1800, check=False)
    assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-2000:]

    report = json.loads(out.read_text())
    assert report["meta"]["quick"] is True and report["meta"]["database"] == "SQLite"
    assert [s["name"] for s in report["steps"]] == ["identity", "records", "reporting"]
    assert all(s["status"] == "ok" for s in report["steps"]), report["steps"]
    by_key = {f["key"]: f for f in report["figures"]}
    assert set(by_key) == FIGURES
    for key, figure in by_key.items():
        assert isinstance(figure["value"], float), key  # every figure came back from its bench
        if key in WITH_BASELINE:
            assert figure["baseline"] is not None and figure["ratio"] is not None, key
        if figure["target"]:
            assert figure["met"] in (True, False), key

    # One table on stdout, each figure a row of it; the markdown file holds the same table.
    text = result.stdout
    table = text[text.index("| figure | value | baseline in the same run | ratio | target | met? |"):]
    for figure in report["figures"]:
        assert f"| {figure['figure']} |" in table, figure["figure"]
    assert "missing" not in table.split("\n\nSteps:")[0]
    assert markdown.read_text() == render(report)
    assert "CPUs" in markdown.read_text() and "SQLite" in markdown.read_text()

    # Each bench wrote its own JSON into the run folder, beside the harness's.
    run_dir = Path(report["meta"]["run_dir"])
    for name in ("identity", "records", "reporting", "harness"):
        json.loads((run_dir / f"{name}.json").read_text())
        assert (run_dir / f"{name}.md").exists() if name == "harness" else (run_dir / f"{name}.log").exists()


def test_a_step_over_its_budget_is_stopped_and_its_figures_show_missing(tmp_path: Path) -> None:
    # A server that would run forever, given 5 seconds.
    step = Step("server", ["http.server", "0", "--bind", "127.0.0.1"], cap=5, json_path=tmp_path / "none.json")
    began = time.perf_counter()
    result = run_step(step, 5, tmp_path, dict(os.environ))
    assert result.status == "timed out" and result.json_path is None
    assert time.perf_counter() - began < 30  # SIGINT stopped it; no SIGKILL grace needed

    results = {"records": result}
    sizes = {"identity_accuracy_students": 500, "resolve_persons": None, "records_students": 2000,
             "reporting_students": 20000}
    rows = {f.key: f for f in figures(results, sizes, quick=True)}
    assert rows["reads_per_second"].value is None and rows["reads_per_second"].met is None
    report = {"meta": {"quick": True, "students": 0, "date": "2026-01-01 00:00", "database": "SQLite",
                       "command": "python -m bench.harness --quick", "total_seconds": 3.0,
                       "machine": {"cpus": 2, "memory_gib": 4, "load_average_start": 1.0, "load_average_end": 1.0,
                                   "python": "3.11", "database_version": "SQLite 3"}},
              "steps": [vars(result)], "figures": [vars(f) for f in rows.values()], "notes": []}
    text = render(report)
    assert "| projected reads GET /records/v1/students/{id} (2,000 students) | missing |" in text
    assert f"Steps: server timed out ({result.seconds:.0f} s of 5)." in text


def test_budgets_shrink_in_proportion_when_time_runs_short() -> None:
    assert step_budget(100, [200, 300], remaining=1000) == 100  # enough for every cap
    assert step_budget(100, [200, 300], remaining=300) == 50  # 300 s shared 1:2:3
    assert step_budget(100, [], remaining=40) == 40
    assert step_budget(100, [100], remaining=-5) == 0


def test_markdown_replaces_only_the_marked_section(tmp_path: Path) -> None:
    docs = tmp_path / "benchmarks.md"
    docs.write_text(f"# Benchmark results\n\nintro\n\n{DOCS_BEGIN}\nold table\n{DOCS_END}\n\n## Identity\nkept\n")
    write_markdown(docs, "| figure | value |\n")
    assert docs.read_text() == (f"# Benchmark results\n\nintro\n\n{DOCS_BEGIN}\n| figure | value |\n{DOCS_END}"
                                "\n\n## Identity\nkept\n")
    plain = tmp_path / "new.md"
    write_markdown(plain, "| figure | value |\n")
    assert plain.read_text() == "| figure | value |\n"


def test_the_command_shown_in_the_table_masks_a_database_password() -> None:
    shown = command_line(["--students", "100000", "--database-url", "postgresql+asyncpg://bench:s3cret@db:5432/x",
                          "--database-url=postgresql+asyncpg://bench:s3cret@db/x?ssl=require"])
    assert "s3cret" not in shown
    assert shown.startswith("python -m bench.harness --students 100000 --database-url postgresql+asyncpg://bench:***@")
    assert "--database-url=postgresql+asyncpg://bench:***@db/x?ssl=require" in shown


def test_each_run_names_the_code_it_measured() -> None:
    # The benches import the work tree: a run names the commit, and says when the tree differed.
    code = code_version()
    assert re.fullmatch(r"[0-9a-f]{12}( with uncommitted changes \(diff [0-9a-f]{8}\))?", code), code

