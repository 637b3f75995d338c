"""Identity at scale: batch worker throughput (in process), and resolve latency (over HTTP and in
process) against a PostgreSQL database holding 1,000,000 persons loaded directly.

    # batch worker: the set-based chunk path vs one resolve per row, same stream, fresh databases
    .venv/bin/python -m bench.identity_load batch --students 20000 [--baseline-students 5000]

    # load 1,000,000 synthetic persons (persons, aliases, blocking keys) with COPY, then time
    # resolves one at a time against them
    .venv/bin/python -m bench.identity_load load --students 1000000
    .venv/bin/python -m bench.identity_load latency --probe 400

PostgreSQL URLs come from SLDS_DATABASE_URL (default postgresql+asyncpg://postgres@127.0.0.1:5432/
slds_bench_identity; `batch` uses <name>_batch and <name>_rowwise, `load`/`latency` <name>_1m). `batch`
runs on SQLite with `--sqlite`.

`batch` submits the stream as batches (`BatchService.submit`: validation, SSN hashing, stored
rows) and then runs the worker (`BatchProcessor.run_pending`) over them, timing both; the
baseline is the same worker with `set_based=False` (one `Resolver.resolve` per row, the old path).
Both results are scored against the synthetic truth and compared row by row (decisions and the
grouping of rows into IDs).

`load` builds each person's rows with the service's own code: the facts as `facts_from_request`
makes them from the resolve body, the blocking keys from `matching.blocking_keys`, a random state
ID from `state_ids.new_state_id`, the district's alias from the submission. It copies the first
submission of each of the 1,000,000 synthetic students (`bench.synth`, seed 1; the population the
generator would send: names, dates, guardians, addresses, a share with an SSN), then ANALYZEs and
CHECKPOINTs. `latency` then resolves probe rows one at a time through `Resolver.resolve` in its own
transaction each (committed, as the endpoint's: each run adds the persons it assigns), the way the
endpoint does minus HTTP and token checks: later transfers of loaded students (new local ID: the
probabilistic path), students nobody has (a new ID) and re-submissions (the district's local ID).
Before that it sends rows of the same kinds to `POST /identity/v1/students/resolve` of `slds serve`
(bearer token and all) over one keep-alive connection of the standard library's http.client,
the JSON encoded before the clock starts: the figure is the service's, not an HTTP client
library's (httpx's AsyncClient added 1.5-3.5 ms of client CPU per request on this machine).
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import contextlib
import gc
import http.client
import json
import os
import random
import statistics
import sys
import tempfile
import time
from collections import Counter, defaultdict
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from sqlalchemy import select
from sqlalchemy.engine import make_url

from bench.identity import (
    EXTRA_KEYS,
    RESOLVE,
    TOKEN,
    Server,
    _autovacuum_off,
    _pg_connect,
    _recreate_postgres,
    autoanalyze,
    log,
    score_resolver,
    serve,
    truth_table,
)

DEFAULT_URL = "postgresql+asyncpg://postgres@127.0.0.1:5432/slds_bench_identity"
SUBMITTER = "client:identity-load-bench"


def _url(suffix: str) -> str:
    base = make_url(os.environ.get("SLDS_DATABASE_URL") or DEFAULT_URL)
    return base.set(database=f"{base.database}_{suffix}").render_as_string(hide_password=False)


def _settings(url: str, var_dir: Path) -> Any:
    from shared.settings import Settings

    return Settings(environment="test", database_url=url, var_dir=var_dir, batch_worker=False,
                    secret_key="identity-load-bench-key-not-for-production")


def _ms(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return 1000 * ordered[min(len(ordered) - 1, max(0, round(q * (len(ordered) - 1))))]


# --- batch throughput ------------------------------------------------------------------------

async def _batch_run(url: str, settings: Any, submissions: list[dict[str, Any]], batch_size: int,
                     set_based: bool, profile: Path | None) -> dict[str, Any]:
    from services.identity.batch import BatchProcessor, BatchService
    from services.identity.models import BatchRow
    from shared.policy.principal import Principal
    from shared.state import Database

    db = Database.from_settings(settings)
    principal = Principal(subject=SUBMITTER, kind="client", role="service", state="ST")
    # As in bench.identity: where autovacuum is off, ANALYZE when autovacuum would have.
    postgres = url.startswith("postgresql")
    server = Server("", "", "", "PostgreSQL" if postgres else "SQLite", url if postgres else None,
                    postgres and await _autovacuum_off(url))
    try:
        async with autoanalyze(server):
            began = time.perf_counter()
            intake_cpu = time.process_time()
            batch_ids = []
            for start in range(0, len(submissions), batch_size):
                rows = [{k: v for k, v in row.items() if k not in EXTRA_KEYS or k == "row_ref"}
                        for row in submissions[start:start + batch_size]]
                raw = json.dumps(rows).encode()
                async with db.sessionmaker() as session, session.begin():
                    batch = await BatchService(session, settings).submit(principal, rows, None, raw)
                    batch_ids.append(batch.id)
            intake = time.perf_counter() - began
            intake_cpu = time.process_time() - intake_cpu
            processor = BatchProcessor(db, settings, set_based=set_based)
            pg_before = await _backend_cpu(url)
            cpu_began = time.process_time()
            began = time.perf_counter()
            if profile:
                import cProfile

                profiler = cProfile.Profile()
                profiler.enable()
            await processor.run_pending()
            if profile:
                profiler.disable()
                profiler.dump_stats(profile)
            work = time.perf_counter() - began
            cpu = time.process_time() - cpu_began
            pg_after = await _backend_cpu(url)
            pg_cpu = sum(t - pg_before.get(pid, 0.0) for pid, t in pg_after.items())
        outcomes = []
        async with db.sessionmaker() as session:
            for batch_id in batch_ids:
                for row in await session.scalars(select(BatchRow).where(BatchRow.batch_id == batch_id)
                                                 .order_by(BatchRow.row_index)):
                    outcomes.append({"decision": "rejected" if row.problem else row.decision,
                                     "state_id": row.state_id, "review_id": row.review_id, "rule": None})
    finally:
        await db.engine.dispose()
    return {"rows": len(submissions), "intake_seconds": intake, "worker_seconds": work,
            "intake_rows_per_second": len(submissions) / intake,
            "worker_persons_per_second": len(submissions) / work,
            "persons_per_second": len(submissions) / (intake + work), "analyzes": server.analyzes,
            # CPU seconds per 1,000 rows: this process (the worker) and the database's backends;
            # less sensitive than wall time to the other jobs on a shared machine.
            "worker_cpu_ms_per_row": 1000 * cpu / len(submissions),
            "intake_cpu_ms_per_row": 1000 * intake_cpu / len(submissions),
            "postgres_cpu_ms_per_row": 1000 * pg_cpu / len(submissions) if postgres else None,
            "outcomes": outcomes}


async def _backend_cpu(url: str) -> dict[int, float]:
    """CPU seconds (user + system) of each PostgreSQL backend connected to `url`'s database."""
    if not url.startswith("postgresql"):
        return {}
    conn = await _pg_connect(url)
    try:
        pids = [r[0] for r in await conn.fetch(
            "SELECT pid FROM pg_stat_activity WHERE datname = current_database() AND pid <> pg_backend_pid()")]
    finally:
        await conn.close()
    ticks = os.sysconf("SC_CLK_TCK")
    cpu = {}
    for pid in pids:
        with contextlib.suppress(OSError):
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
            cpu[pid] = (int(fields[11]) + int(fields[12])) / ticks
    return cpu


def _partition(outcomes: list[dict[str, Any]]) -> list[tuple[str, int | None]]:
    """Each row's decision and the first row that got the same state ID (IDs are random)."""
    first: dict[str, int] = {}
    return [(o["decision"], first.setdefault(o["state_id"], i) if o.get("state_id") else None)
            for i, o in enumerate(outcomes)]


async def _fresh(url: str) -> None:
    from shared.migrate import upgrade

    if url.startswith("postgresql"):
        await _recreate_postgres(url)
    await asyncio.to_thread(upgrade, url)


def batch_main(args: argparse.Namespace) -> dict[str, Any]:
    from bench.synth import SynthConfig, generate_state

    state = generate_state(SynthConfig(students=args.students, seed=args.seed))
    truth = truth_table(state)
    log(f"generated {args.students:,} students, {len(state.submissions):,} submissions")
    # The synthetic state is a few million objects a server would not hold: keep the garbage
    # collector from rescanning them at every collection (it would bill the worker for it).
    gc.collect()
    gc.freeze()
    report: dict[str, Any] = {"students": args.students, "seed": args.seed, "batch_size": args.batch_size,
                              "submissions": len(state.submissions), "load_before": os.getloadavg()}
    with tempfile.TemporaryDirectory(prefix="slds-identity-load-") as tmp:
        runs = [("set_based", True, args.students)]
        if args.baseline_students:
            runs.append(("one_at_a_time", False, args.baseline_students))
        for name, set_based, students in runs:
            url = (f"sqlite+aiosqlite:///{tmp}/{name}.db" if args.sqlite else _url(name))
            asyncio.run(_fresh(url))
            submissions = state.submissions
            if students < args.students:  # the baseline is slow: the stream of a smaller state
                sub_state = generate_state(SynthConfig(students=students, seed=args.seed))
                submissions, sub_truth = sub_state.submissions, truth_table(sub_state)
            else:
                sub_truth = truth
            log(f"{name}: {len(submissions):,} rows on {url.split('@')[-1]}")
            run = asyncio.run(_batch_run(url, _settings(url, Path(tmp)), submissions, args.batch_size,
                                         set_based, args.profile if set_based else None))
            accuracy = score_resolver(run["outcomes"], sub_truth)
            run["accuracy"] = {k: accuracy[k] for k in (
                "precision", "recall_auto_review", "recall_auto", "review_share", "false_new_ids",
                "wrong_merges", "probabilistic_matches", "rejected", "errors")}
            run["partition"] = _partition(run.pop("outcomes"))
            report[name] = run
            log(f"{name}: intake {run['intake_rows_per_second']:.0f} rows/s, worker "
                f"{run['worker_persons_per_second']:.0f} persons/s, together {run['persons_per_second']:.0f}")
            if url.startswith("postgresql") and not args.keep:
                asyncio.run(_recreate_postgres(url, drop_only=True))
    report["load_after"] = os.getloadavg()
    if "one_at_a_time" in report:
        base, new = report["one_at_a_time"], report["set_based"]
        n = len(base["partition"])
        report["same_answers_on_common_rows"] = (
            base["partition"] == new["partition"][:n] if args.baseline_students == args.students else None)
        report["worker_speedup"] = new["worker_persons_per_second"] / base["worker_persons_per_second"]
    for run in ("set_based", "one_at_a_time"):
        if run in report:
            report[run].pop("partition")
    print(json.dumps(report, indent=2, default=str))
    return report


# --- the 1M load -----------------------------------------------------------------------------

PERSON_COLUMNS = ("state_id", "kind", "first_name", "middle_name", "last_name", "suffix", "birth_date",
                  "sex", "hispanic_latino", "races", "guardian_names", "ssn_hash", "birthplace",
                  "address", "postal_code", "status", "merged_into", "assigned_by_district",
                  "created_at", "updated_at")
ALIAS_COLUMNS = ("district_id", "local_id", "kind", "state_id", "created_at", "updated_at")


def _facts(row: dict[str, Any], settings: Any) -> Any:
    from services.identity.resolve import facts_from_request
    from services.identity.schemas import StudentResolveRequest

    body = StudentResolveRequest.model_validate({k: v for k, v in row.items() if k not in EXTRA_KEYS})
    return body, facts_from_request(body, settings)


def _person_rows(chunk: list[dict[str, Any]], settings: Any, used: set[str], now: Any
                 ) -> tuple[list[tuple[Any, ...]], list[tuple[Any, ...]], list[tuple[str, str]]]:
    from pydantic import ValidationError

    from services.identity.matching import blocking_keys
    from services.identity.state_ids import new_state_id

    persons, aliases, keys = [], [], []
    for row in chunk:
        try:
            body, f = _facts(row, settings)
        except ValidationError:
            continue
        state_id = new_state_id("student")
        while state_id in used:
            state_id = new_state_id("student")
        used.add(state_id)
        persons.append((state_id, "student", f.first_name, f.middle_name, f.last_name, f.suffix, f.birth_date,
                        f.sex, f.hispanic_latino, json.dumps(sorted(f.races)), json.dumps(list(f.guardian_names)),
                        f.ssn_hash, f.birthplace, f.address, f.postal_code, "active", None, body.district_id,
                        now, now))
        aliases.append((body.district_id, body.local_student_id, "student", state_id, now, now))
        keys.extend((key, state_id) for key in blocking_keys(f))
    return persons, aliases, keys


def _stream(students: int, seed: int, probe: int) -> Any:
    """The synthetic stream, streamed (bounded memory at 1,000,000 students): yields each
    student's first submission; fills `sample` with later submissions of those students
    (transfers, re-entries: reservoir-sampled) and some first submissions."""
    from bench.synth import SynthConfig, iter_state

    rng = random.Random(seed)
    sample: dict[str, list[dict[str, Any]]] = {"later": [], "first": []}
    seen = 0
    pending: dict[str, Any] | None = None
    firsts = 0

    def rows() -> Any:
        nonlocal pending, seen, firsts
        for name, record in iter_state(SynthConfig(students=students, seed=seed)):
            if name == "submissions":
                pending = record
            elif name == "truth" and pending is not None:
                if record["kind"] == "first":
                    firsts += 1
                    if len(sample["first"]) < probe:
                        sample["first"].append(pending)
                    elif rng.random() < probe / firsts:
                        sample["first"][rng.randrange(probe)] = pending
                    yield pending
                else:
                    seen += 1
                    if len(sample["later"]) < probe:
                        sample["later"].append(pending)
                    elif rng.random() < probe / seen:
                        sample["later"][rng.randrange(probe)] = pending
                pending = None

    return rows(), sample


async def drop_constraints(conn: Any) -> None:
    """Drop the blocking keys' primary key and the aliases' foreign key before a COPY load: the
    10M keys arrive in random key order, and one sort afterwards is much faster than 10M random
    B-tree inserts; the foreign key is validated once at the end. (The blocking keys have no
    foreign key or state_id index since migration d1b2c3d4e5f6.)"""
    await conn.execute("ALTER TABLE identity_alias DROP CONSTRAINT fk_identity_alias_state_id_identity_person")
    await conn.execute("ALTER TABLE identity_blocking_key DROP CONSTRAINT pk_identity_blocking_key")


async def restore_constraints(conn: Any) -> None:
    """Re-create what `drop_constraints` dropped, as the migrations made it."""
    await conn.execute("SET maintenance_work_mem = '512MB'")
    await conn.execute("ALTER TABLE identity_blocking_key ADD CONSTRAINT pk_identity_blocking_key "
                       "PRIMARY KEY (key, state_id)")
    await conn.execute("ALTER TABLE identity_alias ADD CONSTRAINT fk_identity_alias_state_id_identity_person "
                       "FOREIGN KEY (state_id) REFERENCES identity_person (state_id)")


async def load_main(args: argparse.Namespace) -> dict[str, Any]:
    import asyncpg

    from shared.db import utcnow

    url = _url(args.db_suffix)
    await _fresh(url)
    parsed = make_url(url)
    conn = await asyncpg.connect(host=parsed.host or "127.0.0.1", port=parsed.port or 5432,
                                 user=parsed.username, password=parsed.password, database=parsed.database)
    with tempfile.TemporaryDirectory() as tmp:
        settings = _settings(url, Path(tmp))
    used: set[str] = set()
    now = utcnow()
    counts: Counter[str] = Counter()
    began = time.perf_counter()
    await drop_constraints(conn)
    rows, sample = _stream(args.students, args.seed, args.probe_sample)
    chunk: list[dict[str, Any]] = []

    async def flush() -> None:
        persons, aliases, keys = _person_rows(chunk, settings, used, now)
        await conn.copy_records_to_table("identity_person", records=persons, columns=PERSON_COLUMNS)
        await conn.copy_records_to_table("identity_alias", records=aliases, columns=ALIAS_COLUMNS)
        await conn.copy_records_to_table("identity_blocking_key", records=keys, columns=("key", "state_id"))
        counts.update(persons=len(persons), aliases=len(aliases), blocking_keys=len(keys))
        if counts["persons"] // 100_000 != (counts["persons"] - len(persons)) // 100_000:
            log(f"copied {counts['persons']:,} persons")
        chunk.clear()

    for row in rows:
        chunk.append(row)
        if len(chunk) == 20_000:
            await flush()
    if chunk:
        await flush()
    copied = time.perf_counter() - began
    began = time.perf_counter()
    await restore_constraints(conn)
    indexed = time.perf_counter() - began
    began = time.perf_counter()
    for table in ("identity_person", "identity_alias", "identity_blocking_key"):
        await conn.execute(f"VACUUM ANALYZE {table}")
    await conn.execute("CHECKPOINT")
    analyzed = time.perf_counter() - began
    await conn.close()
    args.probe_file.write_text(json.dumps(sample))
    report = {"students": args.students, "seed": args.seed, "database": url.split("@")[-1],
              "rows": dict(counts), "generate_and_copy_seconds": copied, "index_and_fk_seconds": indexed,
              "vacuum_analyze_seconds": analyzed, "probe_file": str(args.probe_file)}
    print(json.dumps(report, indent=2))
    return report


# --- latency at 1M ---------------------------------------------------------------------------

def serve_existing(database_url: str) -> contextlib.AbstractContextManager[Server]:
    """`slds serve` (one uvicorn process, as bench.identity runs it) on the loaded database. A fixed
    secret key: the signing keys it encrypts stay readable from one run to the next."""
    return serve(database_url, existing=True,
                 extra_env={"SLDS_SECRET_KEY": "identity-load-bench-key-not-for-production"})


def _probes(args: argparse.Namespace, offset: int) -> dict[str, list[dict[str, Any]]]:
    """Probe rows; `offset` varies the new persons (each run commits the ones it assigns)."""
    from bench.synth import SynthConfig, generate_state

    sample = json.loads(args.probe_file.read_text())
    rng = random.Random(args.seed)
    others = generate_state(SynthConfig(students=max(200, args.probe), seed=args.seed + 7919 + offset))
    new = [row for row, t in zip(others.submissions, others.truth, strict=True) if t["kind"] == "first"]
    n = args.probe // 3
    return {"existing person, new local ID": rng.sample(sample["later"], n),
            "new person": new[:n], "same district and local ID": rng.sample(sample["first"], n)}


def _body(label: str, row: dict[str, Any], index: int, run: str) -> dict[str, Any]:
    """The resolve body; a known person under a new local ID takes the probabilistic path, a new
    person gets a local ID never seen."""
    body = {k: v for k, v in row.items() if k not in EXTRA_KEYS}
    if label != "same district and local ID":
        body["local_student_id"] = f"probe-{run}-{label[0]}-{index}"
    return body


class _KeepAliveClient:
    """One keep-alive HTTP/1.1 connection (the standard library's http.client) and one
    client-credentials token, renewed after a 401. The clock should run on the service, not on
    the client: httpx's AsyncClient took 1.5-3.5 ms of this 2-core machine per request (GET
    /identity/health: 2-4 ms with it, 0.4 ms with this), which the in-process figure never pays."""

    def __init__(self, server: Server) -> None:
        url = urlsplit(server.base)
        self._connection = http.client.HTTPConnection(url.hostname or "127.0.0.1", url.port, timeout=120)
        basic = base64.b64encode(f"{server.client_id}:{server.client_secret}".encode()).decode()
        self._basic = f"Basic {basic}"
        self._token = self._new_token()

    def _request(self, path: str, body: bytes, headers: dict[str, str]) -> tuple[int, bytes]:
        for attempt in range(2):  # the server may have closed the idle connection: reopen once
            try:
                self._connection.request("POST", path, body=body, headers=headers)
                response = self._connection.getresponse()
                return response.status, response.read()
            except (http.client.HTTPException, ConnectionError):
                self._connection.close()
                if attempt:
                    raise
        raise AssertionError("unreachable")

    def _new_token(self) -> str:
        status, payload = self._request(TOKEN, b"grant_type=client_credentials", {
            "Authorization": self._basic, "Content-Type": "application/x-www-form-urlencoded"})
        if status != 200:
            raise RuntimeError(f"token request refused: {status} {payload[:200]!r}")
        return json.loads(payload)["access_token"]

    def post_json(self, path: str, body: bytes) -> tuple[int, bytes]:
        status, payload = self._request(path, body, {"Authorization": f"Bearer {self._token}",
                                                     "Content-Type": "application/json"})
        if status == 401:
            self._token = self._new_token()
            status, payload = self._request(path, body, {"Authorization": f"Bearer {self._token}",
                                                         "Content-Type": "application/json"})
        return status, payload

    def close(self) -> None:
        self._connection.close()


def _time_http(server: Server, order: list[tuple[str, dict[str, Any]]], tag: str
               ) -> tuple[dict[str, list[float]], Counter[str]]:
    latencies: dict[str, list[float]] = defaultdict(list)
    decisions: Counter[str] = Counter()
    client = _KeepAliveClient(server)
    try:
        for index, (label, row) in enumerate([order[-1], *order]):  # the first one warms up
            body = json.dumps(_body(label, row, index, tag)).encode()
            started = time.perf_counter()
            status, payload = client.post_json(RESOLVE, body)
            elapsed = time.perf_counter() - started
            if index:
                latencies[label].append(elapsed)
                decisions[f"{label}: {json.loads(payload).get('decision') if status == 200 else status}"] += 1
    finally:
        client.close()
    return latencies, decisions


async def _time_in_process(url: str, order: list[tuple[str, dict[str, Any]]], tag: str
                           ) -> tuple[dict[str, list[float]], Counter[str]]:
    from services.identity.resolve import Resolver, facts_from_request
    from services.identity.schemas import StudentResolveRequest
    from shared.state import Database

    latencies: dict[str, list[float]] = defaultdict(list)
    decisions: Counter[str] = Counter()
    with tempfile.TemporaryDirectory() as tmp:
        settings = _settings(url, Path(tmp))
        db = Database.from_settings(settings)
        try:
            for index, (label, row) in enumerate([order[-1], *order]):
                if index == 1:  # after the warm-up: CPU of this process and of the backends
                    pg_before, cpu = await _backend_cpu(url), time.process_time()
                started = time.perf_counter()
                body = StudentResolveRequest.model_validate(_body(label, row, index, tag))
                async with db.sessionmaker() as session, session.begin():  # committed, as the endpoint
                    outcome = await Resolver(session, settings).resolve(
                        facts_from_request(body, settings), body.district_id, body.local_student_id, SUBMITTER)
                elapsed = time.perf_counter() - started
                if index:
                    latencies[label].append(elapsed)
                    decisions[f"{label}: {outcome.decision}"] += 1
            cpu = time.process_time() - cpu
            pg_after = await _backend_cpu(url)
            decisions["_python_cpu_ms"] = round(1000 * cpu)
            decisions["_postgres_cpu_ms"] = round(1000 * sum(t - pg_before.get(p, 0.0) for p, t in pg_after.items()))
        finally:
            await db.engine.dispose()
    return latencies, decisions


def _figures(latencies: dict[str, list[float]], decisions: Counter[str]) -> dict[str, Any]:
    every = [v for values in latencies.values() for v in values]
    return {"rows": len(every), "p50_ms": _ms(every, 0.5), "p95_ms": _ms(every, 0.95), "p99_ms": _ms(every, 0.99),
            "mean_ms": 1000 * statistics.fmean(every),
            "by_kind": {k: {"p50_ms": _ms(v, 0.5), "p95_ms": _ms(v, 0.95), "rows": len(v)}
                        for k, v in latencies.items()},
            "decisions": dict(decisions)}


def latency_main(args: argparse.Namespace) -> dict[str, Any]:
    url = _url(args.db_suffix)
    runs = {}
    run = int(time.time()) % 100_000  # each run commits what it assigns: new persons and IDs per run
    for offset, mode in enumerate(("http", "in_process")):
        order = [(label, row) for label, rows in _probes(args, 2 * run + offset).items() for row in rows]
        random.Random(args.seed + offset).shuffle(order)
        runs[mode] = order
    report: dict[str, Any] = {"persons": args.students, "load_before": os.getloadavg()}
    with serve_existing(url) as server:
        log(f"HTTP: {len(runs['http'])} resolves one at a time")
        report["http"] = _figures(*_time_http(server, runs["http"], f"{run}h"))
    log(f"in process: {len(runs['in_process'])} resolves one at a time")
    figures = _figures(*asyncio.run(_time_in_process(url, runs["in_process"], f"{run}p")))
    # CPU per resolve, this process (validation and resolve) and the database: unlike wall time,
    # hardly affected by the other jobs on a shared machine.
    for side in ("python", "postgres"):
        figures[f"{side}_cpu_ms_per_resolve"] = figures["decisions"].pop(f"_{side}_cpu_ms") / figures["rows"]
    report["in_process"] = figures
    report["load_after"] = os.getloadavg()
    print(json.dumps(report, indent=2))
    return report


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.identity_load", description=__doc__.split("\n\n")[0])
    sub = parser.add_subparsers(dest="command", required=True)
    batch = sub.add_parser("batch", help="batch worker throughput: set-based chunks vs one row at a time")
    batch.add_argument("--students", type=int, default=20_000)
    batch.add_argument("--baseline-students", type=int, default=5_000,
                       help="students for the one-at-a-time baseline (0: none)")
    batch.add_argument("--batch-size", type=int, default=1000)
    batch.add_argument("--sqlite", action="store_true")
    batch.add_argument("--keep", action="store_true", help="keep the PostgreSQL databases")
    batch.add_argument("--profile", type=Path, default=None, help="cProfile the set-based worker into this file")
    load = sub.add_parser("load", help="COPY synthetic persons into PostgreSQL (<db>_1m)")
    latency = sub.add_parser("latency", help="resolve latency against the loaded persons")
    for p in (batch, load, latency):
        p.add_argument("--seed", type=int, default=1)
        p.add_argument("--json", type=Path, default=None)
    for p in (load, latency):
        p.add_argument("--students", type=int, default=1_000_000)
        p.add_argument("--db-suffix", default="1m", help="the database is <SLDS_DATABASE_URL's name>_<this>")
    latency.add_argument("--probe", type=int, default=600, help="rows timed (a third of each kind)")
    load.add_argument("--probe-sample", type=int, default=2000, help="submissions kept for the latency probe")
    for p in (load, latency):
        p.add_argument("--probe-file", type=Path, default=Path(tempfile.gettempdir()) / "slds_identity_1m_probe.json")
    args = parser.parse_args(argv)
    if args.command == "batch":
        report = batch_main(args)
    elif args.command == "load":
        report = asyncio.run(load_main(args))
    else:
        report = latency_main(args)
    if args.json:
        args.json.write_text(json.dumps(report, indent=2, default=str))
    return 0


if __name__ == "__main__":
    sys.exit(main())
