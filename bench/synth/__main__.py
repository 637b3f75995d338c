"""Command line: write a synthetic state as NDJSON files.

    .venv/bin/python -m bench.synth --students 100000 --seed 1 --out var/synth-100k
    .venv/bin/python -m bench.synth --students 500 --seed 7 --out /tmp/demo --error-rate typo=0.1 --error-rate nickname=0.2
    .venv/bin/python -m bench.synth --students 2000 --out /tmp/hard --error-scale 3 --quiet
"""

from __future__ import annotations

import argparse
import sys
import time
from dataclasses import replace
from pathlib import Path

from tqdm import tqdm

from .api import write_state
from .config import ErrorRates, SynthConfig


def _error_rate(text: str) -> tuple[str, float]:
    name, sep, value = text.partition("=")
    if not sep:
        raise argparse.ArgumentTypeError("expected NAME=RATE, e.g. typo=0.05 (or all=0.1)")
    try:
        rate = float(value)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(f"not a number: {value!r}") from exc
    if not 0.0 <= rate <= 1.0:
        raise argparse.ArgumentTypeError(f"rate must be within [0, 1]: {text}")
    name = name.strip()
    if name != "all" and name not in ErrorRates.names():
        raise argparse.ArgumentTypeError(f"unknown error type {name!r}; known: all, {', '.join(ErrorRates.names())}")
    return name, rate


def build_parser() -> argparse.ArgumentParser:
    defaults = SynthConfig()
    p = argparse.ArgumentParser(prog="python -m bench.synth", description="Write a seeded synthetic state (NDJSON files + manifest.json).")
    p.add_argument("--students", type=int, required=True, help="number of students (1 .. 1,000,000+)")
    p.add_argument("--seed", type=int, default=defaults.seed, help="random seed (same seed, same bytes)")
    p.add_argument("--out", type=Path, required=True, help="output directory (created; files overwritten)")
    p.add_argument("--error-rate", type=_error_rate, action="append", default=[], metavar="NAME=RATE",
                   help="set one error rate (repeatable); all=RATE sets every rate. Types: " + ", ".join(ErrorRates.names()))
    p.add_argument("--error-scale", type=float, default=None, metavar="X", help="multiply every default error rate by X (capped at 1)")
    p.add_argument("--school-year", type=int, default=defaults.school_year, help="fall of the school year (default %(default)s)")
    p.add_argument("--students-per-school", type=int, default=defaults.students_per_school)
    p.add_argument("--ssn-share", type=float, default=defaults.ssn_share)
    p.add_argument("--twin-rate", type=float, default=defaults.twin_rate)
    p.add_argument("--transfer-rate", type=float, default=defaults.transfer_rate)
    p.add_argument("--reentry-rate", type=float, default=defaults.reentry_rate)
    p.add_argument("--resubmission-rate", type=float, default=defaults.resubmission_rate)
    p.add_argument("--quiet", action="store_true", help="no progress bars or summary")
    return p


def config_from_args(args: argparse.Namespace) -> SynthConfig:
    errors = ErrorRates()
    if args.error_scale is not None:
        errors = errors.scaled(args.error_scale)
    rates = dict(args.error_rate)
    if rates:
        errors = errors.with_rates(**rates)
    return replace(
        SynthConfig(),
        students=args.students,
        seed=args.seed,
        school_year=args.school_year,
        students_per_school=args.students_per_school,
        ssn_share=args.ssn_share,
        twin_rate=args.twin_rate,
        transfer_rate=args.transfer_rate,
        reentry_rate=args.reentry_rate,
        resubmission_rate=args.resubmission_rate,
        errors=errors,
    )


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        config = config_from_args(args)
    except ValueError as exc:
        parser.error(str(exc))
    show = not args.quiet and sys.stderr.isatty()
    started = time.perf_counter()
    with tqdm(total=config.students, unit="student", desc="people", disable=not show, file=sys.stderr) as people, \
            tqdm(unit="row", desc="submissions", disable=not show, file=sys.stderr) as rows:
        def on_rows(done: int, total: int) -> None:
            if rows.total != total:
                rows.total = total
                rows.refresh()
            rows.update(done)

        manifest = write_state(config, args.out, on_students=people.update, on_rows=on_rows)
    elapsed = time.perf_counter() - started
    if not args.quiet:
        counts = manifest["counts"]
        kinds = ", ".join(f"{k} {v}" for k, v in manifest["submission_kinds"].items())
        print(
            f"wrote {args.out}: {counts['students']} students, {counts['schools']} schools in {counts['districts']} districts, "
            f"{counts['staff']} staff, {counts['sections']} sections, {counts['submissions']} submissions ({kinds}) "
            f"in {elapsed:.1f} s",
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
