"""The bulk write's validation in one process: the CPU that parsing a 1,000-record body,
checking each record against the data dictionary and working out the changes it makes to a state
that has none of its students yet (`RecordWriter._diff`: new items, versions' JSON, log entries)
cost, with no server, database or sockets.

Served ingest figures swing by 15% on a shared 2-core machine; validation was a fifth of the
app's share of a bulk write, the diff a tenth. This measures those steps alone, steadily enough
to compare code: alternate runs from two worktrees. The collector runs as in a bulk write (young
collections deferred, shared/collector.py) unless `--default-gc`.

    .venv/bin/python -m bench.records_validation [--records 1000] [--runs 15] [--default-gc]
"""

from __future__ import annotations

import argparse
import json
import random
import statistics
import time
from contextlib import nullcontext
from datetime import UTC, date, datetime
from typing import Any

import orjson

from bench.records_data import SchoolYear, iter_synth_students, student_record
from bench.synth import SynthConfig
from services.records.models import Submission
from services.records.repository import SubjectRow
from services.records.service import RecordWriter, RowOutcome
from services.records.validation import validate_record
from shared.collector import young_collections_deferred
from shared.policy.principal import Principal


def body(records: int, seed: int) -> bytes:
    """A bulk body as the records bench sends it: the synthetic state's first students."""
    year = SchoolYear.containing(date(2026, 12, 5))
    rng = random.Random(seed)
    students = iter_synth_students(SynthConfig(students=records, seed=seed, school_year=year.fall))
    return json.dumps([student_record(s, rng, year) for s in students], ensure_ascii=False).encode()


def writer() -> RecordWriter:
    """A district SIS client's writer on a PostgreSQL engine that never connects (`_diff` reads
    only the dialect's name: JSON text for COPY)."""
    from sqlalchemy.ext.asyncio import AsyncSession, create_async_engine

    session = AsyncSession(create_async_engine("postgresql+asyncpg://bench@127.0.0.1:1/none"))
    principal = Principal(subject="client:bench-sis", kind="client", role="district_sis",
                          district_ids=frozenset({"1001"}))
    return RecordWriter(session, None, principal, "")  # type: ignore[arg-type]  # no identity calls


def one_run(raw: bytes, write: RecordWriter, submission: Submission) -> tuple[tuple[float, float, float], int, Any]:
    """Parse, validate and diff one body: (CPU ms of each step), elements, the diff."""
    began = time.process_time()
    rows = orjson.loads(raw)
    parsed = time.process_time()
    results = [validate_record("student", row) for row in rows]
    done = time.process_time()
    bad = [problems for record, problems in results if record is None]
    assert not bad, bad[:2]
    ready = [(i, record) for i, (record, _) in enumerate(results)]
    outcomes = [RowOutcome(i, "pending", record.state_id) for i, record in ready]
    subjects = {record.state_id: SubjectRow(record.state_id, 0, 0) for _, record in ready}
    diffing = time.process_time()
    changes = write._diff("student", ready, outcomes, subjects, {}, submission, "1001", datetime.now(UTC))
    ended = time.process_time()
    elements = sum(len(record.elements) for _, record in ready)
    return ((parsed - began) * 1000, (done - parsed) * 1000, (ended - diffing) * 1000), elements, changes


def main(records: int, runs: int, seed: int, bulk_gc: bool) -> None:
    raw = body(records, seed)
    parse, check, diff = [], [], []
    write = writer()
    submission = Submission(id="00000000-0000-4000-8000-000000000000", entity="student", actor="client:bench-sis",
                            district_id="1001", rows=records)
    for _ in range(runs + 2):  # the first two warm the caches (compiled checks, code sets)
        with young_collections_deferred() if bulk_gc else nullcontext():
            times, elements, changes = one_run(raw, write, submission)
        parse.append(times[0])
        check.append(times[1])
        diff.append(times[2])
        assert len(changes.rows) == records, "every new student's row changes something"
    parse, check, diff = parse[2:], check[2:], diff[2:]
    collector = "a bulk write's (young collections deferred)" if bulk_gc else "Python's defaults"
    print(f"# {records:,} records ({elements:,} elements, {len(raw):,} bytes), {runs} runs, {collector} garbage "
          f"collector settings; CPU ms, median (min)")
    print(f"parse    {statistics.median(parse):7.2f} ({min(parse):.2f})")
    print(f"validate {statistics.median(check):7.2f} ({min(check):.2f})   "
          f"{statistics.median(check) * 1000 / records:.1f} us per record")
    print(f"diff     {statistics.median(diff):7.2f} ({min(diff):.2f})   "
          f"{statistics.median(diff) * 1000 / records:.1f} us per record")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--records", type=int, default=1000)
    parser.add_argument("--runs", type=int, default=15)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--default-gc", action="store_true",
                        help="Python's collector settings, not a bulk write's (shared/collector.py)")
    args = parser.parse_args()
    main(args.records, args.runs, args.seed, not args.default_gc)
