"""The records bench runs end to end in quick mode (bulk load, real servers under uvicorn, real
HTTP reads and bulk submissions) and reports every figure; every read answered 200 and every
submitted row was accepted. No timing thresholds here: those are bench figures, not tests.

On the PostgreSQL run (`SLDS_TEST_DATABASE_URL=postgresql+asyncpg://...`) the bench uses a
database of its own on the same server, never the test database."""

from __future__ import annotations

import json
import random
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path

import pytest

from bench.records_data import (
    SchoolYear,
    elements,
    iter_synth_students,
    state_id_for,
    student_record,
)
from bench.records_load import (
    CHUNK,
    VERSIONS_PER_STUDENT,
    LoadPlan,
    LogChain,
    build_chunk,
    check_plan,
)
from bench.synth import SynthConfig
from services.identity.state_ids import is_valid_state_id
from services.records.validation import validate_record
from shared.audit import GENESIS, entry_hash
from tests.helpers import bench_database_url

ROOT = Path(__file__).resolve().parents[2]


def test_quick_run_reports_every_figure(tmp_path: Path) -> None:
    out = tmp_path / "records.json"
    command = [sys.executable, "-m", "bench.records", "--quick", "--json", str(out)]
    url = bench_database_url("slds_bench_records_quick")
    if url:
        command += ["--database-url", url]
    result = subprocess.run(command, check=False, cwd=ROOT, capture_output=True, text=True, timeout=900)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    text = result.stdout
    for row in ("| bare FastAPI constant JSON (baseline) |", "| GET /records/v1/students/{id}",
                "| generate + copy |", "records per request, 1 in flight |", "CPU per request"):
        assert row in text, row

    report = json.loads(out.read_text())
    assert report["meta"]["database"] == ("PostgreSQL" if url else "SQLite")
    if url:  # the in-process read driver, on the state the run left
        inproc = subprocess.run([sys.executable, "-m", "bench.records_inproc", "--database-url", url,
                                 "--reads", "320", "--runs", "2"],
                                check=False, cwd=ROOT, capture_output=True, text=True, timeout=300)
        assert inproc.returncode == 0, inproc.stdout[-3000:] + inproc.stderr[-3000:]
        assert "ms of CPU per read" in inproc.stdout and inproc.stdout.count("  run ") == 2
        plans = subprocess.run([sys.executable, "-m", "bench.records_items_plan", "--database-url", url,
                                "--rows", "20000", "--ids", "2000"],
                               check=False, cwd=ROOT, capture_output=True, text=True, timeout=300)
        assert plans.returncode == 0, plans.stdout[-3000:] + plans.stderr[-3000:]
        assert "| join to unnest (now) |" in plans.stdout and "| = ANY filter (before) |" in plans.stdout
    load = report["load"]
    assert load["students"] == 2000 and load["rows"]["records_subject"] == 2000
    assert load["rows"]["records_access_log"] == 2000
    assert load["rows"]["records_item"] == load["rows"]["records_item_version"] > 2000 * 7
    assert load["rows"]["records_enrollment"] >= 2000
    assert load["rows"]["identity_person"] == load["rows"]["identity_alias"] == load["pool_students"] > 0
    assert load["seconds"]["generate_and_copy"] > 0 and load["peak_rss_mb"] > 0

    reads = report["reads"]
    for name in ("bare", "slds"):
        assert reads[name]["requests"] > 0
        assert reads[name]["reads_per_second"] > 0
        assert 0 < reads[name]["p50_ms"] <= reads[name]["p95_ms"]
        assert reads[name]["failures"] == 0  # every read answered 200
    assert reads["all_200"] is True
    assert reads["ratio"] > 0

    ingest = report["ingest"]
    levels = [key for key in ingest if key.startswith("concurrency_")]
    assert levels
    for key in levels:
        assert ingest[key]["records_per_second"] > 0
        assert ingest[key]["records"] > 0
        assert all(r["failures"] == 0 for r in ingest[key]["rounds"])
    assert report["failures"] == []
    assert ingest["warmup_batches"] == 1 and "ingest warmup: 100 records in 1 requests" in text
    assert set(report["targets"]) >= {"reads_ratio_met", "ingest_met"}
    if report["meta"]["load_generator"] != "wrk":  # the Python client saturates first: no verdict
        assert report["targets"]["reads_ratio_met"] is None and "not judged" in text


def test_synthetic_records_are_valid_and_rows_consistent() -> None:
    """What the bulk load writes is what the service would: valid records, elements as the
    validator splits them, versions numbered per student, the log chained."""
    year = SchoolYear.containing(datetime.now(UTC).date())
    students = list(iter_synth_students(SynthConfig(students=300, seed=3, school_year=year.fall)))
    assert len(students) == 300
    assert len({s.state_id for s in students}) == 300
    assert all(is_valid_state_id(s.state_id, "student") for s in students)
    assert state_id_for(0) == students[0].state_id

    rng = random.Random(1)
    seen: set[str] = set()
    for s in students:
        record = student_record(s, rng, year)
        validated, problems = validate_record("student", record)
        assert validated is not None, problems
        assert sorted((e.section, e.key, e.data) for e in validated.elements) == sorted(elements(record))
        assert len(validated.elements) <= VERSIONS_PER_STUDENT
        current = [e for e in record["enrollment"] if e["school_year"] == year.label]
        assert len(current) == 1 and "exit_date" not in current[0]
        seen |= set(record)
    # Every kind of record the issue lists shows up in a few hundred students.
    assert {"special_education", "section_504", "assessments", "attendance", "migrant", "discipline",
            "courses"} <= seen

    at = datetime(2026, 1, 1, tzinfo=UTC)
    plan = LoadPlan(students=300, pool=0, seed=3, year=year, at=at)
    built = build_chunk(0, students[:CHUNK], plan)
    items, versions = built.rows["records_item"], built.rows["records_item_version"]
    assert len(items) == len(versions)
    by_id = {v[0]: v for v in versions}
    for item in items:  # the item points at its version, which carries the same element
        version = by_id[item[8]]
        assert version[1] == item[0] and version[3:6] == item[2:5] and version[8] == item[6]
    for subject in built.rows["records_subject"]:
        assert subject[3] == max(v[0] for v in versions if v[3] == subject[1])
    enrolled = {e[1] for e in built.rows["records_enrollment"]}
    assert enrolled == {s.state_id for s in students}

    chain = LogChain(at)
    log = chain.rows(built.log)
    assert [row[0] for row in log] == list(range(1, 301))
    prev = GENESIS
    for seq, when, actor, action, request_id, payload, prev_hash, digest, _sid in log:
        assert prev_hash == prev
        assert digest == entry_hash(prev, seq, when, actor, action, request_id, payload)
        prev = digest


def test_a_pool_that_would_leave_the_read_district_empty_is_refused_before_loading() -> None:
    year, at = SchoolYear.containing(datetime(2026, 12, 5, tzinfo=UTC).date()), datetime(2026, 12, 5, tzinfo=UTC)
    check_plan(LoadPlan(students=100_000, pool=64_000, seed=1, year=year, at=at))
    with pytest.raises(SystemExit, match="read district .* would have none loaded"):
        check_plan(LoadPlan(students=100_000, pool=94_000, seed=1, year=year, at=at))


def test_the_validation_bench_prints_its_figures(capsys: pytest.CaptureFixture[str]) -> None:
    import gc

    from bench.records_validation import main

    before = gc.get_threshold()
    main(records=60, runs=2, seed=1, bulk_gc=True)
    out = capsys.readouterr().out
    assert out.startswith("# 60 records (") and "a bulk write's" in out and "\nparse " in out
    assert "\nvalidate " in out and "\ndiff " in out and out.count("us per record") == 2
    assert gc.get_threshold() == before  # the bulk write's collector setting ends with the runs
