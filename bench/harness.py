"""One command for every benchmark figure of the project: runs the separate benches on PostgreSQL
at a given size, each as a subprocess with its own time budget, and prints ONE table (figure,
value, baseline measured in the same run, ratio, target, met?) with the machine and the date.

    .venv/bin/python -m bench.harness --students 100000 [--reuse] [--json PATH] [--markdown PATH]
    .venv/bin/python -m bench.harness --quick          # every bench's --quick: the CI smoke run
    make bench STUDENTS=1000000 REUSE=1                # the same, and docs/benchmarks.md updated
    make bench-quick

The steps, each `python -m bench.<module> ... --json <run folder>/<step>.json`, output streamed to
the console (prefixed with the step) and to `<step>.log` in the run folder
(`bench/results/<UTC timestamp>/`):

1. `identity`: accuracy of the resolve API beside Splink on the same rows, and end-to-end batch
   throughput over HTTP (`bench.identity`), on min(N, 20,000) students: the HTTP resolve stream
   (one row at a time, in order) and Splink at 100,000+ would take most of the budget.
2. `resolve_load` + `resolve_latency`: N persons copied into PostgreSQL (`bench.identity_load
   load`; skipped with `--reuse` when the database still holds this load), then resolve p50/p95
   one request at a time at N persons over HTTP, beside the same resolves in process.
3. `records`: projected single-record reads beside a bare FastAPI constant-JSON app in the same
   run, load from a second process on loopback; bulk ingest (`bench.records`, `--reuse` passed on;
   when the kept state is not reusable, e.g. its ingest pool was used, it loads afresh).
4. `reporting`: publishing a statewide report beside the plain SQL GROUP BY (`bench.reporting`).

Budgets: the whole run has `--budget-minutes` (default 15 up to 100,000 students, 60 at
1,000,000); each step gets its own cap, shrunk proportionally when the time left cannot cover the
caps of the steps still to run, so one slow step cannot starve the others. A step over its budget
is interrupted (SIGINT, so benches stop their servers and drop scratch databases; SIGKILL 30 s
later) and its figures show as missing. The table is printed whatever happened.

`--quick` runs every bench's own quick mode (a few hundred to 20,000 students) on SQLite unless
`--database-url` (or SLDS_TEST_DATABASE_URL, for its server) names a PostgreSQL server; on SQLite
resolve latency comes from the identity run's one-at-a-time probe (`bench.identity_load` is
PostgreSQL only). Quick figures check the wiring; they are not benchmark figures.

PostgreSQL databases are named after `--database-url`'s database (default `slds_bench_harness`):
`<name>_identity` (scratch, dropped), `<name>_resolve` (kept for --reuse), `<name>_records`
(kept), `<name>_reporting` (recreated each run).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import hashlib
import json
import os
import platform
import shutil
import signal
import sqlite3
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlalchemy.engine import make_url

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_URL = "postgresql+asyncpg://postgres@127.0.0.1:5432/slds_bench_harness"
QUICK_DATABASE = "slds_bench_harness_quick"  # on SLDS_TEST_DATABASE_URL's server, never the test database
IDENTITY_MAX = 20_000
QUICK_RESOLVE_STUDENTS = 2_000
DOCS_BEGIN = "<!-- bench.harness:latest:begin -->"
DOCS_END = "<!-- bench.harness:latest:end -->"
GRACE_SECONDS = 30


# --- steps and budgets -----------------------------------------------------------------------

@dataclass
class Step:
    name: str
    argv: list[str]
    cap: float  # seconds at most
    env: dict[str, str] = field(default_factory=dict)
    json_path: Path | None = None
    # Run before the step; a string returned skips it with that reason (e.g. a reusable load).
    before: Callable[[], str | None] | None = None


@dataclass
class StepResult:
    name: str
    status: str  # ok | failed | timed out | skipped
    seconds: float
    budget: float
    returncode: int | None
    json_path: str | None
    log_path: str | None
    note: str = ""


def step_budget(cap: float, later_caps: list[float], remaining: float) -> float:
    """A step's budget: its cap, or its share of the time left when the time left cannot cover
    the caps of this step and the steps after it."""
    total = cap + sum(later_caps)
    if total <= remaining:
        return cap
    return max(0.0, remaining * cap / total)


def default_budget_minutes(students: int, quick: bool) -> float:
    if quick:
        return 20.0
    return max(15.0, 60.0 * students / 1_000_000)


def _pump(stream: Any, prefix: str, log: Any) -> None:
    with contextlib.suppress(ValueError):  # the log closed under a straggler still writing
        for line in iter(stream.readline, ""):
            sys.stdout.write(f"[{prefix}] {line}" if line.strip() else line)
            sys.stdout.flush()
            log.write(line)
            log.flush()


def run_step(step: Step, budget: float, run_dir: Path, base_env: dict[str, str]) -> StepResult:
    """The step as a subprocess in its own process group, its output streamed; interrupted at
    the budget (SIGINT to the group, SIGKILL after a grace period)."""
    log_path = run_dir / f"{step.name}.log"
    began = time.perf_counter()
    if step.before is not None:
        reason = step.before()
        if reason:
            print(f"[{step.name}] skipped: {reason}", flush=True)
            return StepResult(step.name, "skipped", 0.0, budget, None, None, None, reason)
    if budget < 5:
        return StepResult(step.name, "skipped", 0.0, budget, None, None, None, "the run's time budget was spent")
    print(f"\n== {step.name}: {' '.join(step.argv)} (budget {budget:.0f} s)", flush=True)
    env = {**base_env, **step.env, "PYTHONUNBUFFERED": "1"}
    with open(log_path, "w", encoding="utf-8") as log:
        proc = subprocess.Popen([sys.executable, "-m", *step.argv], cwd=ROOT, env=env, stdout=subprocess.PIPE,
                                stderr=subprocess.STDOUT, text=True, errors="replace", start_new_session=True)
        pump = threading.Thread(target=_pump, args=(proc.stdout, step.name, log), daemon=True)
        pump.start()
        timed_out = False
        try:
            proc.wait(timeout=budget)
        except subprocess.TimeoutExpired:
            timed_out = True
            print(f"[{step.name}] over its budget of {budget:.0f} s: interrupting", flush=True)
            _signal_group(proc, signal.SIGINT)
            try:
                proc.wait(timeout=GRACE_SECONDS)
            except subprocess.TimeoutExpired:
                pass
            # Whatever of the group is still there (the bench, its servers) goes now.
            _signal_group(proc, signal.SIGKILL)
            proc.wait()
        except BaseException:  # Ctrl-C of the harness: stop the step's whole group too
            _signal_group(proc, signal.SIGINT)
            with contextlib.suppress(subprocess.TimeoutExpired):
                proc.wait(timeout=GRACE_SECONDS)
            _signal_group(proc, signal.SIGKILL)
            raise
        pump.join(timeout=10)
    seconds = time.perf_counter() - began
    status = "timed out" if timed_out else ("ok" if proc.returncode == 0 else "failed")
    json_path = step.json_path if step.json_path and step.json_path.exists() else None
    return StepResult(step.name, status, seconds, budget, proc.returncode, str(json_path) if json_path else None,
                      str(log_path))


def _signal_group(proc: subprocess.Popen[str], sig: int) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(proc.pid, sig)


# --- databases -------------------------------------------------------------------------------

def _with_database(url: str, name: str) -> str:
    return make_url(url).set(database=name).render_as_string(hide_password=False)


async def _pg_fetch(url: str, query: str, database: str | None = None) -> Any:
    import asyncpg

    parsed = make_url(url)
    conn = await asyncpg.connect(host=parsed.host or "127.0.0.1", port=parsed.port or 5432, user=parsed.username,
                                 password=parsed.password, database=database or parsed.database)
    try:
        return await conn.fetchval(query)
    finally:
        await conn.close()


def database_version(url: str | None) -> str:
    if not url:
        return f"SQLite {sqlite3.sqlite_version}"
    import asyncpg

    try:
        return "PostgreSQL " + asyncio.run(_pg_fetch(url, "SHOW server_version", database="postgres")).split()[0]
    except (OSError, TimeoutError, asyncpg.PostgresError) as exc:  # shown; each bench reports its own failure
        return f"PostgreSQL (unreachable: {type(exc).__name__})"


def resolve_state_reusable(url: str, load_json: Path, probe_file: Path, students: int, seed: int) -> str | None:
    """Why the kept resolve database can be reused, or None: it holds exactly the persons and
    aliases of an earlier `load` of the same size and seed (the latency runs add only persons
    under `probe-` local IDs), and that load's probe sample is still there."""
    import asyncpg

    if not (load_json.exists() and probe_file.exists()):
        return None
    try:
        loaded = json.loads(load_json.read_text())
        if loaded.get("students") != students or loaded.get("seed") != seed:
            return None
        aliases = asyncio.run(_pg_fetch(url, "SELECT count(*) FROM identity_alias WHERE local_id NOT LIKE 'probe-%'"))
    except (OSError, ValueError, TimeoutError, asyncpg.PostgresError):  # no database, no table: load it
        return None
    if aliases != _get(loaded, "rows", "aliases"):
        return None
    return f"--reuse: {url.rsplit('/', 1)[-1]} holds the {aliases:,} persons of an earlier load of {students:,} students"


# --- the plan --------------------------------------------------------------------------------

def plan(args: argparse.Namespace, run_dir: Path, state_dir: Path, url: str | None) -> tuple[list[Step], dict[str, Any]]:
    """The steps and the sizes they run at."""
    students = args.students
    steps: list[Step] = []
    name = make_url(url).database if url else None
    db = (lambda suffix: _with_database(url, f"{name}_{suffix}")) if url else (lambda suffix: None)

    def out(step: str) -> Path:
        return run_dir / f"{step}.json"

    identity_students = 500 if args.quick else min(students, IDENTITY_MAX)
    identity = ["bench.identity", "--quick"] if args.quick else ["bench.identity", "--students", str(identity_students)]
    steps.append(Step("identity", [*identity, "--seed", str(args.seed), "--json", str(out("identity"))],
                      300 if args.quick else 60 + 0.02 * identity_students,
                      {"SLDS_DATABASE_URL": db("identity")} if url else {}, out("identity")))

    resolve_students = QUICK_RESOLVE_STUDENTS if args.quick else students
    if url:
        resolve_url = db("resolve")
        probe_file = state_dir / f"{make_url(resolve_url).database}.probe.json"
        load_json = state_dir / f"{make_url(resolve_url).database}.load.json"
        env = {"SLDS_DATABASE_URL": _with_database(url, name or "")}
        common = ["--db-suffix", "resolve", "--seed", str(args.seed), "--probe-file", str(probe_file)]

        def reusable() -> str | None:
            reason = args.reuse and resolve_state_reusable(resolve_url, load_json, probe_file, resolve_students,
                                                           args.seed)
            if not reason:  # loaded afresh: a load cut short must not pass for a reusable one
                load_json.unlink(missing_ok=True)
            return reason or None

        steps.append(Step("resolve_load", ["bench.identity_load", "load", "--students", str(resolve_students),
                                           *common, "--json", str(load_json)],
                          120 if args.quick else 60 + 0.0012 * resolve_students, env, load_json, reusable))
        probes = 60 if args.quick else 600
        steps.append(Step("resolve_latency", ["bench.identity_load", "latency", "--students", str(resolve_students),
                                              "--probe", str(probes), *common, "--json", str(out("resolve_latency"))],
                          180 if args.quick else 150 + 0.00015 * resolve_students, env, out("resolve_latency")))

    records = ["bench.records", "--quick"] if args.quick else ["bench.records", "--students", str(students)]
    if url:
        records += ["--database-url", db("records") or ""]
    if args.reuse and url and not args.quick:
        records.append("--reuse")
    steps.append(Step("records", [*records, "--seed", str(args.seed), "--json", str(out("records"))],
                      300 if args.quick else 1.3 * (170 + students / 2500), {}, out("records")))

    reporting = ["bench.reporting", "--quick"] if args.quick else ["bench.reporting", "--students", str(students)]
    if url:
        reporting += ["--database-url", db("reporting") or ""]
    steps.append(Step("reporting", [*reporting, "--seed", str(args.seed), "--json", str(out("reporting"))],
                      180 if args.quick else 60 + 0.0003 * students, {}, out("reporting")))

    sizes = {"identity_accuracy_students": identity_students,
             "resolve_persons": resolve_students if url else None,
             "records_students": 2_000 if args.quick else students,
             "reporting_students": 20_000 if args.quick else students}
    return steps, sizes


# --- figures ---------------------------------------------------------------------------------

@dataclass
class Figure:
    key: str
    figure: str
    value: float | None
    unit: str = ""
    baseline: float | None = None
    baseline_label: str = ""
    ratio: float | None = None
    target: str = ""
    met: bool | None = None
    source: str = ""


def _load(results: dict[str, StepResult], name: str) -> dict[str, Any] | None:
    result = results.get(name)
    if result is None or not result.json_path:
        return None
    try:
        return json.loads(Path(result.json_path).read_text())
    except (OSError, ValueError):
        return None


def _get(data: Any, *path: str) -> Any:
    for key in path:
        if not isinstance(data, dict):
            return None
        data = data.get(key)
    return data


def _check(value: float | None, op: str, threshold: float) -> bool | None:
    if value is None:
        return None
    return {">=": value >= threshold, "<=": value <= threshold, "<": value < threshold}[op]


def _figure(key: str, label: str, value: Any, unit: str = "", *, baseline: Any = None, baseline_label: str = "",
            target: tuple[str, str, float, str] | None = None, source: str = "") -> Figure:
    """`target` is (on: value|ratio, op, threshold, text)."""
    value = float(value) if isinstance(value, int | float) else None
    baseline = float(baseline) if isinstance(baseline, int | float) else None
    ratio = value / baseline if value is not None and baseline else None
    met = None
    text = ""
    if target:
        on, op, threshold, text = target
        met = _check(ratio if on == "ratio" else value, op, threshold)
    return Figure(key, label, value, unit, baseline, baseline_label, ratio, text, met, source)


def figures(results: dict[str, StepResult], sizes: dict[str, Any], quick: bool) -> list[Figure]:
    out: list[Figure] = []
    identity = _load(results, "identity") or {}
    acc, splink = identity.get("accuracy") or {}, identity.get("splink") or {}
    n_id = f"{sizes['identity_accuracy_students']:,} students"
    src = "bench.identity"
    out.append(_figure("identity_auto_precision", f"identity: auto-match precision, probabilistic matches ({n_id})",
                       acc.get("precision"), target=("value", ">=", 0.999, ">= 0.999"), source=src))
    out.append(_figure("identity_recall", f"identity: recall, auto + review ({n_id})", acc.get("recall_auto_review"),
                       target=("value", ">=", 0.99, ">= 0.99"), source=src))
    out.append(_figure("identity_review_share", f"identity: review share of submissions ({n_id})",
                       acc.get("review_share"), "%", target=("value", "<=", 0.02, "<= 2%"), source=src))
    best = _get(splink, "at_best_f1", "pairwise") or {}
    for metric in ("precision", "recall", "f1"):
        out.append(_figure(f"identity_pairwise_{metric}", f"identity: pairwise {metric.replace('f1', 'F1')} ({n_id})",
                           _get(acc, "pairwise", metric), baseline=best.get(metric),
                           baseline_label="Splink @ best F1, same rows", source=src + " + Splink"))

    latency = _load(results, "resolve_latency")
    if latency is not None or "resolve_latency" in results:
        persons = f"{sizes['resolve_persons']:,} persons"
        http, local = (latency or {}).get("http") or {}, (latency or {}).get("in_process") or {}
        src = "bench.identity_load latency"
        out.append(_figure("resolve_p50", f"resolve p50, one at a time over HTTP, {persons}", http.get("p50_ms"), "ms",
                           baseline=local.get("p50_ms"), baseline_label="in process, no HTTP", source=src))
        out.append(_figure("resolve_p95", f"resolve p95, one at a time over HTTP, {persons}", http.get("p95_ms"), "ms",
                           baseline=local.get("p95_ms"), baseline_label="in process, no HTTP",
                           target=("value", "<", 25.0, "< 25 ms"), source=src))
    else:  # SQLite quick: the identity run's one-at-a-time probe
        probe = _get(identity, "speed", "probe") or {}
        persons = f"{probe.get('existing_persons', 0):,} persons, SQLite probe of the identity run"
        out.append(_figure("resolve_p50", f"resolve p50, one at a time over HTTP, {persons}", probe.get("p50_ms"),
                           "ms", source="bench.identity probe"))
        out.append(_figure("resolve_p95", f"resolve p95, one at a time over HTTP, {persons}", probe.get("p95_ms"),
                           "ms", target=("value", "<", 25.0, "< 25 ms"), source="bench.identity probe"))

    batch = _get(identity, "speed", "batch") or {}
    out.append(_figure("batch_throughput", f"batch throughput end to end over HTTP, fresh database ({n_id})",
                       batch.get("persons_per_second"), "persons/s", target=("value", ">=", 2000, ">= 2,000 persons/s"),
                       source="bench.identity"))

    records = _load(results, "records") or {}
    reads = records.get("reads") or {}
    n_rec = f"{sizes['records_students']:,} students"
    reads_figure = _figure("reads_per_second", f"projected reads GET /records/v1/students/{{id}} ({n_rec})",
                           _get(reads, "slds", "reads_per_second"), "req/s",
                           baseline=_get(reads, "bare", "reads_per_second"), baseline_label="bare FastAPI constant JSON",
                           target=("ratio", ">=", 1 / 3, ">= 1/3 of bare and > 2,000 req/s"), source="bench.records")
    if reads_figure.met is not None:
        # Issue 5 reads "1/3 of bare, i.e. over 2,000 reads/s here": a ratio against a bare app that
        # itself only got a few hundred requests/s says nothing (the Python load client was the
        # bottleneck, not the servers), so both halves must hold, and without wrk it is not judged.
        if (records.get("meta") or {}).get("load_generator") != "wrk":
            reads_figure.met = None
            reads_figure.target += " (not judged: load from the Python client, which saturates first; install wrk)"
        else:
            reads_figure.met = reads_figure.met and (reads_figure.value or 0) > 2000
    out.append(reads_figure)
    out.append(_figure("reads_p95", f"projected reads p95 ({n_rec})", _get(reads, "slds", "p95_ms"), "ms",
                       baseline=_get(reads, "bare", "p95_ms"), baseline_label="bare FastAPI constant JSON",
                       source="bench.records"))
    ingest = [v.get("records_per_second") for k, v in (records.get("ingest") or {}).items()
              if k.startswith("concurrency_") and isinstance(v, dict)]
    ingest = [v for v in ingest if isinstance(v, int | float)]
    out.append(_figure("ingest_rate", f"bulk ingest, best of 1, 2 and 4 requests in flight ({n_rec})",
                       max(ingest) if ingest else None, "records/s",
                       target=("value", ">=", 5000, ">= 5,000 records/s"), source="bench.records"))

    reporting = _load(results, "reporting") or {}
    n_rep = f"{sizes['reporting_students']:,} students"
    for measure, label in (("enrollment_count", "counts"), ("ela_proficiency_rate", "rates")):
        m = _get(reporting, "medians", measure) or {}
        out.append(_figure(f"publish_{label}", f"report publish, school x race/ethnicity {label} ({n_rep})",
                           m.get("publish_seconds"), "s", baseline=m.get("group_by_seconds"),
                           baseline_label="plain SQL GROUP BY", target=("value", "<", 5.0, "< 5 s"),
                           source="bench.reporting"))
    return out


# --- output ----------------------------------------------------------------------------------

def _fmt(value: float | None, unit: str) -> str:
    if value is None:
        return "missing"
    if unit == "%":
        return f"{100 * value:.2f}%"
    if unit == "ms":
        return f"{value:.1f} ms"
    if unit == "s":
        return f"{value:.2f} s"
    if unit:
        return f"{value:,.0f} {unit}"
    return f"{value:.4f}"


def render(report: dict[str, Any]) -> str:
    meta, m = report["meta"], report["meta"]["machine"]
    mode = "quick mode (wiring check, not benchmark figures)" if meta["quick"] else f"{meta['students']:,} students"
    lines = [(f"Harness run {meta['date']} UTC, {mode}, {meta['database']}: `{meta['command']}`, "
              f"code {meta.get('code', 'unknown')}"), "",
             (f"Machine: {m['cpus']} CPUs, {m['memory_gib']} GiB, load average {m['load_average_start']:.2f} at "
              f"the start and {m['load_average_end']:.2f} at the end, Python {m['python']}, "
              f"{m['database_version']}; {meta['total_seconds']:.0f} s in all."), "",
             "| figure | value | baseline in the same run | ratio | target | met? |", "|---|---|---|---|---|---|"]
    for f in report["figures"]:
        baseline = f"{_fmt(f['baseline'], f['unit'])} ({f['baseline_label']})" if f["baseline_label"] else ""
        ratio = f"{f['ratio']:.2f}x" if f["ratio"] is not None else ""
        met = "" if not f["target"] else ("missing" if f["met"] is None else ("yes" if f["met"] else "**no**"))
        lines.append(f"| {f['figure']} | {_fmt(f['value'], f['unit'])} | {baseline} | {ratio} | {f['target']} | {met} |")
    lines += ["", "Steps: " + "; ".join(
        f"{s['name']} {s['status']}" + (f" ({s['seconds']:.0f} s of {s['budget']:.0f})" if s["status"] != "skipped" else "")
        + (f": {s['note']}" if s["note"] else "") for s in report["steps"]) + "."]
    lines += [f"Note: {note}" for note in report["notes"]]
    return "\n".join(lines) + "\n"


def write_markdown(path: Path, text: str) -> None:
    """Replace the section between the harness markers where the file has them (docs/benchmarks.md
    keeps the rest of its text); otherwise write the file."""
    if path.exists():
        current = path.read_text()
        if DOCS_BEGIN in current and DOCS_END in current:
            head, rest = current.split(DOCS_BEGIN, 1)
            _, tail = rest.split(DOCS_END, 1)
            path.write_text(f"{head}{DOCS_BEGIN}\n{text}{DOCS_END}{tail}")
            return
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)


def code_version() -> str:
    """The commit the run measured, and whether the work tree differed from it: the benches import
    the work tree, so an uncommitted edit (or one made while the run goes on) is in the figures."""
    try:
        commit = subprocess.run(["git", "rev-parse", "--short=12", "HEAD"], cwd=ROOT, capture_output=True,
                                text=True, check=True, timeout=10).stdout.strip()
        diff = subprocess.run(["git", "diff", "HEAD"], cwd=ROOT, capture_output=True, check=True,
                              timeout=30).stdout
    except (OSError, subprocess.SubprocessError):
        return "unknown (not a git checkout)"
    if not diff:
        return commit
    return f"{commit} with uncommitted changes (diff {hashlib.sha256(diff).hexdigest()[:8]})"


def machine(database_version_text: str) -> dict[str, Any]:
    memory = 0
    with contextlib.suppress(OSError, ValueError, IndexError):
        memory = round(int(Path("/proc/meminfo").read_text().split()[1]) / 1024 / 1024)
    return {"cpus": os.cpu_count(), "memory_gib": memory, "load_average_start": os.getloadavg()[0],
            "python": platform.python_version(), "platform": platform.platform(),
            "database_version": database_version_text}


# --- main ------------------------------------------------------------------------------------

def command_line(argv: list[str]) -> str:
    """The command as typed, a database password masked (the table goes into docs/)."""
    def mask(arg: str) -> str:
        flag, _, url = arg.partition("=") if arg.startswith("--database-url=") else ("", "", arg)
        if not url.startswith("postgresql"):
            return arg
        return (flag + "=" if flag else "") + make_url(url).render_as_string(hide_password=True)

    return " ".join(["python -m bench.harness", *map(mask, argv)])


def database_url(args: argparse.Namespace) -> str | None:
    if args.database_url:
        return args.database_url
    if args.quick:
        test_url = os.environ.get("SLDS_TEST_DATABASE_URL", "")
        return _with_database(test_url, QUICK_DATABASE) if test_url.startswith("postgresql") else None
    return DEFAULT_URL


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.harness", description=__doc__.split("\n\n")[0])
    parser.add_argument("--students", type=int, default=None,
                        help="state size (required; ignored with --quick, which runs each bench's quick size)")
    parser.add_argument("--quick", action="store_true", help="every bench's quick mode; SQLite unless a URL is given")
    parser.add_argument("--reuse", action="store_true",
                        help="keep loaded PostgreSQL states of the same size and seed (resolve, records)")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--database-url", default=None,
                        help=f"PostgreSQL server and base database name (default {DEFAULT_URL}; --quick: SQLite)")
    parser.add_argument("--budget-minutes", type=float, default=None,
                        help="the whole run (default 15 up to 100,000 students, 60 per 1,000,000; quick 20)")
    parser.add_argument("--results-dir", type=Path, default=ROOT / "bench" / "results",
                        help="run folders go here, one per run (<UTC timestamp>/)")
    parser.add_argument("--json", type=Path, default=None, help="also write the report here")
    parser.add_argument("--markdown", type=Path, default=None,
                        help="also write the table here (a file with the harness markers gets that section replaced)")
    args = parser.parse_args(argv)
    if args.students is None and not args.quick:
        parser.error("--students is required (or --quick)")
    if args.students is not None and args.students < 1:
        parser.error("--students must be at least 1")
    args.students = args.students or 0
    url = database_url(args)
    if url and not url.startswith("postgresql"):
        parser.error("--database-url must be a postgresql+asyncpg:// URL (SQLite: --quick without a URL)")
    if not url and not args.quick:
        parser.error("full runs need PostgreSQL")

    started = datetime.now(UTC)
    run_dir = args.results_dir / started.strftime("%Y%m%dT%H%M%SZ")
    run_dir.mkdir(parents=True, exist_ok=True)
    state_dir = args.results_dir / "state"
    state_dir.mkdir(parents=True, exist_ok=True)
    budget = 60 * (args.budget_minutes or default_budget_minutes(args.students, args.quick))
    # Kept back from the steps: an interrupted step's grace period and the table itself.
    deadline = time.perf_counter() + budget - GRACE_SECONDS - 15
    began = time.perf_counter()
    info = machine(database_version(url))
    code_at_start = code_version()
    print(f"# bench.harness: {'quick' if args.quick else f'{args.students:,} students'}, "
          f"{'PostgreSQL' if url else 'SQLite'}, budget {budget / 60:.0f} min, run folder {run_dir}", flush=True)

    base_env = dict(os.environ)
    base_env.pop("SLDS_DATABASE_URL", None)  # each step gets its own database
    steps, sizes = plan(args, run_dir, state_dir, url)
    results: dict[str, StepResult] = {}
    notes: list[str] = []
    if not args.quick and not shutil.which("wrk"):
        notes.append("wrk was not found, so the reads' load came from a Python client, which saturates at a few "
                     "hundred requests/s before either server does: the reads figures are not judged "
                     "(`apt-get install wrk`).")
        print(f"# {notes[-1]}", flush=True)
    for index, step in enumerate(steps):
        remaining = deadline - time.perf_counter()
        step_seconds = step_budget(step.cap, [s.cap for s in steps[index + 1:]], remaining)
        load = results.get("resolve_load")
        if step.name == "resolve_latency" and load and not (
                load.status == "ok" or (load.status == "skipped" and load.note.startswith("--reuse"))):
            results[step.name] = StepResult(step.name, "skipped", 0.0, step_seconds, None, None, None,
                                            f"no loaded state (resolve_load {load.status})")
            continue
        result = run_step(step, step_seconds, run_dir, base_env)
        if step.name == "records" and "--reuse" in step.argv and result.status == "failed":
            log = Path(result.log_path or "").read_text(errors="replace") if result.log_path else ""
            if "\nloaded " not in log:  # refused before using a state: none kept, or its ingest pool used
                notes.append("records: no reusable state was kept (none, or its ingest pool was used): loaded afresh")
                Path(result.log_path or "").rename(run_dir / "records-reuse-refused.log")
                step.argv.remove("--reuse")
                retry = step_budget(step.cap, [s.cap for s in steps[index + 1:]], deadline - time.perf_counter())
                result = run_step(step, retry, run_dir, base_env)
        results[step.name] = result

    if not args.quick:
        notes.append(f"identity accuracy, Splink and batch throughput run on min(N, {IDENTITY_MAX:,}) students: the "
                     "HTTP resolve stream (one row at a time, in order) and Splink at 100,000+ would take most of "
                     "the budget; resolve latency is measured at N persons loaded by COPY.")
    else:
        notes.append("quick mode: each bench's smallest setting; the figures check the wiring, not performance.")
        if not url:
            notes.append("SQLite: resolve p50/p95 come from the identity run's one-at-a-time probe "
                         "(bench.identity_load needs PostgreSQL).")
    info["load_average_end"] = os.getloadavg()[0]
    if (code_at_end := code_version()) != code_at_start:
        notes.append(f"The work tree changed during the run (now {code_at_end}): a step may have run "
                     "code other than the one named above.")
    report = {
        "meta": {"date": started.strftime("%Y-%m-%d %H:%M"), "started": started.isoformat(), "students": args.students,
                 "quick": args.quick, "reuse": args.reuse, "seed": args.seed,
                 "database": "PostgreSQL" if url else "SQLite",
                 "database_url": make_url(url).render_as_string(hide_password=True) if url else None,
                 "command": command_line(argv if argv is not None else sys.argv[1:]),
                 "budget_seconds": budget, "total_seconds": time.perf_counter() - began, "sizes": sizes,
                 "run_dir": str(run_dir), "machine": info, "code": code_at_start},
        "steps": [asdict(r) for r in results.values()],
        "figures": [asdict(f) for f in figures(results, sizes, args.quick)],
        "notes": notes,
    }
    text = render(report)
    print("\n" + text, flush=True)
    (run_dir / "harness.json").write_text(json.dumps(report, indent=2) + "\n")
    (run_dir / "harness.md").write_text(text)
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(report, indent=2) + "\n")
    if args.markdown:
        write_markdown(args.markdown, text)
    return 0 if all(r.status in ("ok", "skipped") for r in results.values()) else 1


if __name__ == "__main__":
    sys.exit(main())
