"""Reporting figures: publishing a statewide report (aggregate, suppress with complementary
suppression, audit against the ledger, store the release and its ledger document) beside the plain
SQL GROUP BY over the same fact table, in the same run.

    .venv/bin/python -m bench.reporting [--students 1000000] [--schools 2000] [--rounds 3]
                                        [--policy maine_n10] [--database-url URL] [--json PATH] [--quick]

1. A fresh database (PostgreSQL `slds_bench_reporting` on 127.0.0.1 by default, dropped and
   created; `--quick` uses a SQLite file unless a URL is given), migrated, then N synthetic fact
   rows copied into `reporting_student_fact`: schools of log-normal size in districts of about
   ten schools (the shape of bench/synth's state, drawn directly with numpy so a million rows take
   seconds), each school with its own race/ethnicity mix (Dirichlet around state shares: 7 groups,
   so a table has 8 columns with `all`), sex, English learner, IEP, free/reduced lunch, migrant,
   and outcomes (proficiency odds vary by school and group).
2. Each round, for two statewide school-level reports by race/ethnicity (enrollment counts;
   ELA proficiency rates): the plain GROUP BY alone, then the whole publish in one transaction
   that is rolled back afterwards, so every round starts from the same empty ledger.

Medians over the rounds, with the wall time and this process's CPU time of each publish (the
machine is often shared: CPU time is the steadier figure; it leaves out the database server).
The table goes to stdout, the figures to `--json`. Last run (docs/benchmarks.md, 2026-12-03):
at 1,000,000 students a publish takes 4.07 s (counts) and 3.96 s (rates), 3.3-3.4 s CPU, against
0.6-1.2 s for the plain GROUP BY: issue 7's 5 s target is met (it was 26-33 s on 2026-11-23).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import statistics
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
from sqlalchemy import text
from sqlalchemy.engine import make_url

DEFAULT_URL = "postgresql+asyncpg://postgres@127.0.0.1:5432/slds_bench_reporting"
YEAR = "2025-2026"
RACES = ["HI7", "AM7", "AS7", "BL7", "PI7", "WH7", "MU7"]
RACE_SHARE = np.array([0.27, 0.01, 0.055, 0.15, 0.004, 0.47, 0.041])
GRADES = ["KG", "01", "02", "03", "04", "05", "06", "07", "08", "09", "10", "11", "12"]
REPORTS = [("enrollment_count", "counts"), ("ela_proficiency_rate", "rates")]


def generate(students: int, schools: int, seed: int) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(seed)
    sizes = rng.lognormal(0, 0.6, schools)
    school = rng.choice(schools, size=students, p=sizes / sizes.sum())
    district_of = np.sort(rng.integers(0, max(1, schools // 10), schools))
    mix = rng.dirichlet(RACE_SHARE * 25 + 1e-3, schools)
    u = rng.random(students)
    race = (u[:, None] > np.cumsum(mix, axis=1)[school]).sum(axis=1).clip(0, 6)
    school_odds = rng.normal(0, 0.6, schools)
    race_odds = np.array([-0.3, -0.5, 0.4, -0.4, -0.2, 0.2, 0.0])
    frl = rng.random(students) < 0.45
    logit = school_odds[school] + race_odds[race] - 0.5 * frl
    tested = rng.random(students) < 0.7
    proficient = rng.random(students) < 1 / (1 + np.exp(-logit))
    return {
        "school": school, "district": district_of[school], "race": race, "frl": frl,
        "sex": rng.choice(3, students, p=[0.49, 0.5, 0.01]), "grade": rng.integers(0, 13, students),
        "el": rng.random(students) < 0.1, "iep": rng.random(students) < 0.14,
        "migrant": rng.random(students) < 0.01, "tested": tested, "proficient": proficient,
        "attendance": np.clip(rng.normal(0.94, 0.05, students), 0.3, 1.0),
        "incidents": rng.poisson(0.08, students),
    }


def rows(data: dict[str, np.ndarray], now: datetime) -> list[tuple[Any, ...]]:
    sexes = ["F", "M", "X"]
    out = []
    n = len(data["school"])
    for i in range(n):
        s, d = int(data["school"][i]), int(data["district"][i])
        ela = bool(data["proficient"][i]) if data["tested"][i] else None
        att = float(data["attendance"][i])
        out.append((YEAR, f"{i:064x}", "ST", f"{d:04d}", f"{d:04d}-{s:04d}", GRADES[int(data["grade"][i])],
                    sexes[int(data["sex"][i])], RACES[int(data["race"][i])], bool(data["el"][i]),
                    bool(data["iep"][i]), bool(data["frl"][i]), bool(data["migrant"][i]), ela, ela,
                    att, att < 0.9, int(data["incidents"][i]), False, None, now))
    return out


COLUMNS = ["school_year", "student_key", "state", "district_id", "school_id", "grade_level", "sex",
           "race_ethnicity", "english_learner", "special_education", "free_reduced_lunch", "migrant",
           "ela_proficient", "math_proficient", "attendance_rate", "chronically_absent",
           "discipline_incidents", "graduation_cohort", "graduated", "refreshed_at"]


async def load(url: str, data: dict[str, np.ndarray]) -> float:
    from shared.db import create_engine

    started = time.perf_counter()
    records = rows(data, datetime.now(UTC))
    engine = create_engine(url)
    async with engine.begin() as conn:
        if url.startswith("postgresql"):
            raw = await conn.get_raw_connection()
            await raw.driver_connection.copy_records_to_table(
                "reporting_student_fact", records=records, columns=COLUMNS)
            await conn.execute(text("ANALYZE reporting_student_fact"))
        else:
            from services.reporting.facts_model import StudentFact
            for start in range(0, len(records), 20000):
                await conn.execute(StudentFact.__table__.insert(),
                                   [dict(zip(COLUMNS, r, strict=True)) for r in records[start:start + 20000]])
    await engine.dispose()
    return time.perf_counter() - started


GROUP_BY = {
    "enrollment_count": """SELECT state, district_id, school_id, race_ethnicity, count(*)
        FROM reporting_student_fact WHERE school_year = :y
        GROUP BY state, district_id, school_id, race_ethnicity""",
    "ela_proficiency_rate": """SELECT state, district_id, school_id, race_ethnicity, count(*),
        sum(CASE WHEN ela_proficient THEN 1 ELSE 0 END)
        FROM reporting_student_fact WHERE school_year = :y AND ela_proficient IS NOT NULL
        GROUP BY state, district_id, school_id, race_ethnicity""",
}


async def measure_round(url: str, policy: str) -> dict[str, Any]:
    from services.reporting import service
    from shared.db import create_engine, create_sessionmaker

    engine = create_engine(url)
    maker = create_sessionmaker(engine)
    out: dict[str, Any] = {}
    try:
        for measure, _label in REPORTS:
            async with engine.connect() as conn:
                t0 = time.perf_counter()
                groups = (await conn.execute(text(GROUP_BY[measure]), {"y": YEAR})).all()
                group_by = time.perf_counter() - t0
            async with maker() as session:
                t0, c0 = time.perf_counter(), time.process_time()
                release = await service.publish(
                    session, measure_code=measure, level="school", dimension_code="race_ethnicity",
                    school_year=YEAR, policy_code=policy, actor="bench")
                publish, publish_cpu = time.perf_counter() - t0, time.process_time() - c0
                cells = [c for r in release.table["rows"] for c in r["cells"]]
                audit = release.audit
                await session.rollback()  # the next round starts from the same ledger
            out[measure] = {
                "group_by_seconds": group_by, "groups": len(groups), "publish_seconds": publish,
                "publish_cpu_seconds": publish_cpu,
                "audit_seconds": audit["seconds"], "lp_calls": audit["lp_calls"],
                "protect_rounds": audit["rounds"], "cells": len(cells),
                "hidden": sum(c["display"] in ("*", "N<10") for c in cells),
                "primary": sum(c["reason"] == "primary_small_n" for c in cells),
                "secondary": sum(c["reason"] == "secondary" for c in cells),
            }
    finally:
        await engine.dispose()
    return out


def prepare_database(url: str) -> None:
    from shared.migrate import upgrade
    from tests.helpers import recreate_postgres_database

    if url.startswith("postgresql"):
        asyncio.run(recreate_postgres_database(url))
    upgrade(url)


def table(report: dict[str, Any]) -> str:
    lines = ["| report (school level x race/ethnicity, 8 columns) | plain SQL GROUP BY | publish (aggregate + suppress + audit + store) | publish, CPU of this process | of which audit | cells | hidden (primary / secondary) | LP solves | protect rounds |",
             "|---|---|---|---|---|---|---|---|---|"]
    for measure, label in REPORTS:
        m = report["medians"][measure]
        lines.append(f"| {label} ({measure}) | {m['group_by_seconds']:.3f} s | {m['publish_seconds']:.3f} s "
                     f"| {m['publish_cpu_seconds']:.3f} s "
                     f"| {m['audit_seconds']:.3f} s | {m['cells']:.0f} | {m['hidden']:.0f} ({m['primary']:.0f} / {m['secondary']:.0f}) "
                     f"| {m['lp_calls']:.0f} | {m['protect_rounds']:.0f} |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="bench.reporting", description=__doc__.splitlines()[0])
    parser.add_argument("--students", type=int, default=1_000_000)
    parser.add_argument("--schools", type=int)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--policy", default="maine_n10")
    parser.add_argument("--database-url")
    parser.add_argument("--json", type=Path)
    parser.add_argument("--quick", action="store_true", help="20,000 students, 40 schools, 2 rounds")
    args = parser.parse_args(argv)
    if args.quick:
        args.students, args.rounds = min(args.students, 20_000), min(args.rounds, 2)
    schools = args.schools or max(2, args.students // 500)
    tmp = None
    url = args.database_url
    if url is None and args.quick:
        tmp = tempfile.mkdtemp(prefix="slds-bench-reporting-")
        url = f"sqlite+aiosqlite:///{tmp}/bench.db"
    url = url or DEFAULT_URL
    os.environ.setdefault("SLDS_SECRET_KEY", "bench-reporting-secret-key-not-for-production")

    prepare_database(url)
    t0 = time.perf_counter()
    data = generate(args.students, schools, args.seed)
    generate_seconds = time.perf_counter() - t0
    load_seconds = asyncio.run(load(url, data))
    rounds = [asyncio.run(measure_round(url, args.policy)) for _ in range(args.rounds)]
    medians = {measure: {key: statistics.median(r[measure][key] for r in rounds) for key in rounds[0][measure]}
               for measure, _ in REPORTS}
    report = {
        "meta": {"students": args.students, "schools": schools, "districts": len(set(data["district"].tolist())),
                 "rounds": args.rounds, "policy": args.policy, "python": sys.version.split()[0],
                 "machine": platform.machine(), "cpus": os.cpu_count(),
                 "database": "PostgreSQL" if url.startswith("postgresql") else "SQLite",
                 "database_name": make_url(url).database},
        "load": {"generate_seconds": generate_seconds, "copy_seconds": load_seconds},
        "rounds": rounds, "medians": medians,
        "targets": {"publish_under_5s": all(medians[m]["publish_seconds"] < 5 for m, _ in REPORTS)},
    }
    print(f"reporting bench: {args.students:,} students, {schools:,} schools, "
          f"{report['meta']['districts']:,} districts, policy {args.policy}, {report['meta']['database']}, "
          f"medians of {args.rounds} rounds (load {generate_seconds:.1f} s generate + {load_seconds:.1f} s copy)")
    print(table(report))
    if args.json:
        args.json.write_text(json.dumps(report, indent=2, default=str))
    return 0


if __name__ == "__main__":
    sys.exit(main())
