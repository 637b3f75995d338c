"""The bulk write's validation in one process: the CPU that parsing a 1,000-record body and
checking each record against the data dictionary costs, with no server, database or sockets.

Served ingest figures swing by 15% on a shared 2-core machine; validation was a fifth of the
app's share of a bulk write. This measures that step alone, steadily enough to compare code:
alternate runs from two worktrees.

    .venv/bin/python -m bench.records_validation [--records 1000] [--runs 15]
"""

from __future__ import annotations

import argparse
import json
import random
import statistics
import time
from datetime import date

import orjson

from bench.records_data import SchoolYear, iter_synth_students, student_record
from bench.synth import SynthConfig
from services.records.validation import validate_record


def body(records: int, seed: int) -> bytes:
    """A bulk body as the records bench sends it: the synthetic state's first students."""
    year = SchoolYear.containing(date(2026, 12, 5))
    rng = random.Random(seed)
    students = iter_synth_students(SynthConfig(students=records, seed=seed, school_year=year.fall))
    return json.dumps([student_record(s, rng, year) for s in students], ensure_ascii=False).encode()


def main(records: int, runs: int, seed: int) -> None:
    raw = body(records, seed)
    parse, check = [], []
    elements = 0
    for _ in range(runs + 2):  # the first two warm the caches (compiled checks, code sets)
        began = time.process_time()
        rows = orjson.loads(raw)
        parsed = time.process_time()
        results = [validate_record("student", row) for row in rows]
        done = time.process_time()
        parse.append((parsed - began) * 1000)
        check.append((done - parsed) * 1000)
        bad = [problems for record, problems in results if record is None]
        assert not bad, bad[:2]
        elements = sum(len(record.elements) for record, _ in results if record is not None)
    parse, check = parse[2:], check[2:]
    print(f"# {records:,} records ({elements:,} elements, {len(raw):,} bytes), {runs} runs; CPU ms, median (min)")
    print(f"parse    {statistics.median(parse):7.2f} ({min(parse):.2f})")
    print(f"validate {statistics.median(check):7.2f} ({min(check):.2f})   "
          f"{statistics.median(check) * 1000 / records:.1f} us per record")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--records", type=int, default=1000)
    parser.add_argument("--runs", type=int, default=15)
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()
    main(args.records, args.runs, args.seed)
