"""The batch worker at scale, in process: what a chunk costs when hundreds of thousands of persons
are already stored, without resolving all of them first.

    # once: the first --prefix rows of the synthetic stream as stored persons (COPY), kept as a
    # template database <SLDS_DATABASE_URL's name>_<--template, default scale_tpl>
    .venv/bin/python -m bench.identity_scale load --students 300000 --prefix 330000

    # each run: a copy of the template, then the next --rows rows of the stream as batches of
    # 1,000 through BatchService.submit and BatchProcessor.run_pending, timed (and profiled)
    .venv/bin/python -m bench.identity_scale run --students 300000 --prefix 330000 --rows 10000 \
        [--profile OUT.prof]

`load` copies each student whose first submission lies in the prefix as the service would have
stored it (`bench.identity_load`: facts, blocking keys, a state ID, the district's alias); later
submissions in the prefix are skipped (their aliases and extra keys are missing: a slight
under-estimate of the stored keys). `run` then resolves the rows that follow in the stream: new
students (assigned) and later submissions of stored ones (matched or reviewed), as the statewide
batch load meets them at that point. Figures: worker rows/s, CPU per row of the worker and of the
database backends, candidates per row; and the batch path's decisions against the synthetic truth.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import gc
import json
import os
import pickle
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path
from typing import Any

from sqlalchemy.engine import make_url

from bench.identity import EXTRA_KEYS, _pg_connect, log
from bench.identity_load import (
    ALIAS_COLUMNS,
    PERSON_COLUMNS,
    SUBMITTER,
    _backend_cpu,
    _fresh,
    _person_rows,
    _settings,
    _url,
    drop_constraints,
    restore_constraints,
)


def _stream(students: int, seed: int, upto: int) -> list[tuple[dict[str, Any], dict[str, Any]]]:
    """The first `upto` rows of the stream with their truth; kept in a pickle under the temporary
    folder (a few minutes to generate at 1,000,000 students: once per size and generator source,
    not per run)."""
    import hashlib

    import bench.synth

    source = hashlib.sha256()  # another generator makes another stream
    for path in sorted(Path(bench.synth.__file__).parent.glob("*.py")):
        source.update(path.read_bytes())
    cache = (Path(tempfile.gettempdir())
             / f"slds-identity-scale-stream-{students}-{seed}-{upto}-{source.hexdigest()[:12]}.pickle")
    if cache.exists():
        return pickle.loads(cache.read_bytes())
    rows = _generate(students, seed, upto)
    cache.write_bytes(pickle.dumps(rows, protocol=pickle.HIGHEST_PROTOCOL))
    return rows


def _generate(students: int, seed: int, upto: int) -> list[tuple[dict[str, Any], dict[str, Any]]]:
    from bench.synth import SynthConfig, iter_state

    rows: list[tuple[dict[str, Any], dict[str, Any]]] = []
    pending = None
    for name, record in iter_state(SynthConfig(students=students, seed=seed)):
        if name == "submissions":
            pending = record
        elif name == "truth" and pending is not None:
            rows.append((pending, record))
            pending = None
            if len(rows) >= upto:
                break
    return rows


async def _admin(sql: str) -> None:
    import asyncpg

    parsed = make_url(_url("scale"))
    conn = await asyncpg.connect(host=parsed.host or "127.0.0.1", port=parsed.port or 5432,
                                 user=parsed.username, password=parsed.password, database="postgres")
    try:
        await conn.execute(sql)
    finally:
        await conn.close()


async def load_main(args: argparse.Namespace) -> None:
    from shared.db import utcnow

    url = _url(args.template)
    await _fresh(url)
    # Generated with the run's rows too: one cached stream serves both.
    rows = _stream(args.students, args.seed, args.prefix + args.rows)[:args.prefix]
    log(f"stream: {len(rows):,} rows")
    conn = await _pg_connect(url)
    with tempfile.TemporaryDirectory() as tmp:
        settings = _settings(url, Path(tmp))
    await drop_constraints(conn)
    firsts = [row for row, truth in rows if truth["kind"] == "first"]
    used: set[str] = set()
    now = utcnow()
    counts: Counter[str] = Counter()
    for start in range(0, len(firsts), 20_000):
        persons, aliases, keys = _person_rows(firsts[start:start + 20_000], settings, used, now)
        await conn.copy_records_to_table("identity_person", records=persons, columns=PERSON_COLUMNS)
        await conn.copy_records_to_table("identity_alias", records=aliases, columns=ALIAS_COLUMNS)
        await conn.copy_records_to_table("identity_blocking_key", records=keys, columns=("key", "state_id"))
        counts.update(persons=len(persons), keys=len(keys))
    await restore_constraints(conn)
    for table in ("identity_person", "identity_alias", "identity_blocking_key"):
        await conn.execute(f"VACUUM ANALYZE {table}")
    await conn.close()
    log(f"template {url.split('@')[-1]}: {dict(counts)}")


async def run_main(args: argparse.Namespace) -> dict[str, Any]:
    from services.identity.batch import BatchProcessor, BatchService
    from services.identity.worker import tune_collector
    from shared.policy.principal import Principal
    from shared.state import Database

    tpl, url = make_url(_url(args.template)).database, _url("scale_run")
    run_db = make_url(url).database
    await _admin(f'DROP DATABASE IF EXISTS "{run_db}" WITH (FORCE)')
    await _admin(f'CREATE DATABASE "{run_db}" TEMPLATE "{tpl}"')
    rows = _stream(args.students, args.seed, args.prefix + args.rows)[args.prefix:]
    gc.collect()
    gc.freeze()
    if not args.default_gc:
        tune_collector()  # as the worker process (`slds identity worker`) runs
    log(f"{len(rows):,} rows after the first {args.prefix:,}")
    tmp = tempfile.mkdtemp()
    settings = _settings(url, Path(tmp))
    db = Database.from_settings(settings)
    principal = Principal(subject=SUBMITTER, kind="client", role="service", state="ST")
    try:
        for start in range(0, len(rows), 1000):
            body = [{k: v for k, v in row.items() if k not in EXTRA_KEYS or k == "row_ref"}
                    for row, _ in rows[start:start + 1000]]
            async with db.sessionmaker() as session, session.begin():
                await BatchService(session, settings).submit(principal, body, None, json.dumps(body).encode())
        processor = BatchProcessor(db, settings)
        pg_before = await _backend_cpu(url)
        cpu = time.process_time()
        began = time.perf_counter()
        profiler = None
        if args.profile:
            import cProfile

            profiler = cProfile.Profile()
            profiler.enable()
        await processor.run_pending()
        if profiler is not None:
            profiler.disable()
            profiler.dump_stats(args.profile)
        wall = time.perf_counter() - began
        cpu = time.process_time() - cpu
        pg_after = await _backend_cpu(url)
        pg_cpu = sum(t - pg_before.get(pid, 0.0) for pid, t in pg_after.items())
        conn = await _pg_connect(url)
        try:
            decisions = Counter(dict(await conn.fetch(
                "SELECT coalesce(decision, 'rejected'), count(*) FROM identity_batch_row GROUP BY 1")))
        finally:
            await conn.close()
    finally:
        await db.engine.dispose()
    if not args.keep:
        await _admin(f'DROP DATABASE IF EXISTS "{run_db}" WITH (FORCE)')
    n = len(rows)
    report = {"rows": n, "prefix": args.prefix, "seconds": round(wall, 2), "rows_per_second": round(n / wall),
              "worker_cpu_ms_per_row": round(1000 * cpu / n, 3), "postgres_cpu_ms_per_row": round(1000 * pg_cpu / n, 3),
              "decisions": dict(decisions), "gc_threshold": gc.get_threshold(), "load": os.getloadavg()}
    print(json.dumps(report))
    return report


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.identity_scale", description=__doc__.split("\n\n")[0])
    sub = parser.add_subparsers(dest="command", required=True)
    load = sub.add_parser("load")
    run = sub.add_parser("run")
    for p in (load, run):
        p.add_argument("--students", type=int, default=300_000)
        p.add_argument("--seed", type=int, default=1)
        p.add_argument("--prefix", type=int, default=330_000, help="stream rows stored before the run")
    for p in (load, run):
        p.add_argument("--rows", type=int, default=10_000, help="stream rows the run resolves after the prefix")
    run.add_argument("--profile", type=Path, default=None)
    run.add_argument("--default-gc", action="store_true",
                     help="keep Python's collector thresholds (the worker process raises them)")
    run.add_argument("--keep", action="store_true", help="keep the run's database")
    for p in (load, run):
        p.add_argument("--template", default="scale_tpl", help="the template is <SLDS_DATABASE_URL's name>_<this>")
    args = parser.parse_args(argv)
    if args.command == "load":
        asyncio.run(load_main(args))
    else:
        with contextlib.suppress(KeyboardInterrupt):
            asyncio.run(run_main(args))
    return 0


if __name__ == "__main__":
    sys.exit(main())
