"""Loading the records bench's synthetic state straight into the database.

PostgreSQL: a generator process runs `bench.synth` (sequential: one seeded RNG), worker processes
turn chunks of students into rows and `COPY` them (asyncpg `copy_records_to_table`), and this
process chains the access log (sha256 over the previous entry: the one sequential step) and
copies it. Every key of the bulk tables increases with the load (state IDs too, see
`state_id_for`), so the indexes stay in place and only receive appends (rebuilding them would
rescan 8.5M-row tables once per index); any foreign keys are dropped for the load and validated
in one pass after it (on PostgreSQL the elements' subjects are checked by a trigger per statement,
migration d7e8f9a0b1c2, which stays on: a chunk copies its subjects before their elements).
Then the sequences are moved past the loaded ids and the database vacuumed (so autovacuum does
not start during the measurements), analysed and checkpointed. SQLite (quick runs): the same
rows, inserted in this process.

Ids: student `i` (stream order) owns version ids `16*i+1...` (its elements in order; the item
points at its version, the subject at its last one), enrollment ids `2*i+1...`, plan id `i+1`,
item ids `{i:08x}-0000-4000-8000-{k:012x}` and access-log entry `i+1`. So the change feed's order
is the load order, with gaps between students (as a sequence may have), and chunks can be built
independently; only the log chain is sequential.
"""

from __future__ import annotations

import asyncio
import multiprocessing as mp
import queue
import random
import resource
import sqlite3
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path
from typing import Any

from sqlalchemy.engine import make_url

from bench.records_data import (
    BULK_TABLES,
    COLUMNS,
    LOADER_ACTOR,
    SEQUENCES,
    SchoolYear,
    SynthStudent,
    canonical_json,
    elements,
    encode_json,
    field_names,
    identity_rows,
    iter_synth_students,
    student_record,
    submission_id_for,
)
from bench.synth import SynthConfig, Synthesizer
from bench.synth.generator import District
from shared.audit import GENESIS, entry_hash

ROOT_DIR = Path(__file__).resolve().parent.parent
CHUNK = 2000  # students per chunk (fixed: the per-chunk RNG seeds depend on it)
VERSIONS_PER_STUDENT = 16
ENROLLMENTS_PER_STUDENT = 2


@dataclass
class LoadPlan:
    students: int  # records loaded (the state's size)
    pool: int  # further students put into identity only, for the ingest test
    seed: int
    year: SchoolYear
    at: datetime
    read_sample: int = 10_000  # state IDs of the read district handed back for the read test
    workers: int = 2


@dataclass
class LoadResult:
    database: str
    students: int
    rows: dict[str, int]
    read_district: str
    read_ids: list[str]
    pool: list[SynthStudent]
    seconds: dict[str, float]
    peak_rss_mb: float
    districts: int

    @property
    def total_rows(self) -> int:
        return sum(self.rows.values())

    def summary(self) -> dict[str, Any]:
        """The figures, without the pool and the sampled IDs."""
        return {"database": self.database, "students": self.students, "rows": dict(self.rows),
                "total_rows": self.total_rows, "districts": self.districts, "read_district": self.read_district,
                "read_ids_sampled": len(self.read_ids), "pool_students": len(self.pool),
                "seconds": dict(self.seconds), "peak_rss_mb": self.peak_rss_mb}


# --- building a chunk's rows (pure; runs in a worker process or inline) -------------------------


@dataclass
class ChunkRows:
    index: int
    rows: dict[str, list[tuple[Any, ...]]]
    log: list[tuple[int, str, str]]  # (seq, state_id, canonical payload): chained by the caller
    districts: Counter[str]


def build_chunk(chunk_index: int, students: list[SynthStudent], plan: LoadPlan) -> ChunkRows:
    rng = random.Random(plan.seed * 1_000_003 + chunk_index)
    at, year = plan.at, plan.year
    rows: dict[str, list[tuple[Any, ...]]] = {t: [] for t in BULK_TABLES if t != "records_access_log"}
    subjects, items, versions = rows["records_subject"], rows["records_item"], rows["records_item_version"]
    enrollments, plans = rows["records_enrollment"], rows["records_student_plan"]
    log: list[tuple[int, str, str]] = []
    districts: Counter[str] = Counter()
    for s in students:
        sid, district, i = s.state_id, s.district_id, s.index
        submission = submission_id_for(district)
        districts[district] += 1
        fields: set[str] = set()
        section_names: set[str] = set()
        parts = elements(student_record(s, rng, year))
        assert len(parts) <= VERSIONS_PER_STUDENT
        version_id = VERSIONS_PER_STUDENT * i
        enrollment_id = ENROLLMENTS_PER_STUDENT * i
        for k, (section, key, data) in enumerate(parts):
            version_id += 1
            item_id = f"{i:08x}-0000-4000-8000-{k:012x}"
            text = encode_json(data)
            items.append((item_id, "student", sid, section, key, district, text, 1, version_id, at,
                          LOADER_ACTOR, submission))
            versions.append((version_id, item_id, "student", sid, section, key, 1, "create", text, district,
                             at, LOADER_ACTOR, submission))
            section_names.add(section)
            fields.update(field_names(section, tuple(data)))
            if section == "enrollment":
                enrollment_id += 1
                exit_date = data.get("exit_date")
                enrollments.append((enrollment_id, sid, item_id, data["district_id"], data["school_id"],
                                    date.fromisoformat(data["entry_date"]),
                                    date.fromisoformat(exit_date) if exit_date else None))
            elif section == "special_education":
                plans.append((i + 1, sid, "iep", date.fromisoformat(data["iep_begin_date"]),
                              date.fromisoformat(data["iep_end_date"])))
            elif section == "section_504":
                plans.append((i + 1, sid, "504", date.fromisoformat(data["plan_begin_date"]),
                              date.fromisoformat(data["plan_end_date"])))
        assert enrollment_id <= ENROLLMENTS_PER_STUDENT * (i + 1)
        subjects.append(("student", sid, 1, version_id, at, at))
        # The entry RecordWriter._store appends for a stored record.
        log.append((i + 1, sid, canonical_json({
            "entity": "student", "state_id": sid, "role": "district_sis", "district_id": district,
            "submission_id": submission, "sections": sorted(section_names), "fields": sorted(fields),
            "ssn_received": False})))
    return ChunkRows(chunk_index, rows, log, districts)


class LogChain:
    """Chains access-log entries in seq order, as `shared.audit.append_many` does."""

    def __init__(self, at: datetime) -> None:
        self.at, self.prev, self.seq = at, GENESIS, 0

    def rows(self, entries: list[tuple[int, str, str]]) -> list[tuple[Any, ...]]:
        out = []
        for seq, sid, payload in entries:
            assert seq == self.seq + 1, (seq, self.seq)
            digest = entry_hash(self.prev, seq, self.at, LOADER_ACTOR, "write", None, payload)
            out.append((seq, self.at, LOADER_ACTOR, "write", None, payload, self.prev, digest, sid))
            self.prev, self.seq = digest, seq
        return out


# --- the student stream, split into loaded chunks, the ingest pool and the read sample ----------


def _synth_config(plan: LoadPlan) -> SynthConfig:
    return SynthConfig(students=plan.students + plan.pool, seed=plan.seed, school_year=plan.year.fall)


def _largest(districts: list[District]) -> District:
    return max(districts, key=lambda d: (d.quota, d.district_id))


def largest_district(config: SynthConfig) -> str:
    """The district with the most students (the generator plans every district's size first)."""
    return _largest(Synthesizer(config).districts).district_id


class Splitter:
    """Routes the stream: the first `students` into chunks, the rest into the pool; keeps a
    sample of the read district's (the largest district's) state IDs."""

    def __init__(self, plan: LoadPlan) -> None:
        self.plan = plan
        self.pool: list[SynthStudent] = []
        self.read_district = largest_district(_synth_config(plan))
        self.read_ids: list[str] = []
        self._seen = 0
        self._rng = random.Random(plan.seed)
        self.districts: set[str] = set()

    def chunks(self) -> Iterator[tuple[int, list[SynthStudent]]]:
        chunk: list[SynthStudent] = []
        n = 0
        for s in iter_synth_students(_synth_config(self.plan)):
            self.districts.add(s.district_id)
            if s.index >= self.plan.students:
                self.pool.append(s)
                continue
            if s.district_id == self.read_district:
                self._sample(s.state_id)
            chunk.append(s)
            if len(chunk) == CHUNK:
                yield n, chunk
                n, chunk = n + 1, []
        if chunk:
            yield n, chunk

    def _sample(self, state_id: str) -> None:  # reservoir sampling
        self._seen += 1
        if len(self.read_ids) < self.plan.read_sample:
            self.read_ids.append(state_id)
        else:
            j = self._rng.randrange(self._seen)
            if j < self.plan.read_sample:
                self.read_ids[j] = state_id


# --- PostgreSQL -----------------------------------------------------------------------------------


def asyncpg_dsn(url: str) -> str:
    return make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)


async def recreate_database(url: str) -> None:
    import asyncpg

    parsed = make_url(url)
    admin = await asyncpg.connect(host=parsed.host, port=parsed.port or 5432, user=parsed.username,
                                  password=parsed.password, database="postgres")
    try:
        await admin.execute(f'DROP DATABASE IF EXISTS "{parsed.database}" WITH (FORCE)')
        await admin.execute(f'CREATE DATABASE "{parsed.database}"')
    finally:
        await admin.close()


def migrate(url: str, env: dict[str, str]) -> None:
    """`slds db upgrade` against the bench database (the schema comes from the migrations)."""
    subprocess.run([sys.executable, "-m", "services.cli", "db", "upgrade"], cwd=ROOT_DIR, check=True,
                   env={**env, "SLDS_DATABASE_URL": url}, stdout=subprocess.DEVNULL)


async def _session_settings(conn: Any) -> None:
    # This session only: the load's own commits need not wait for the WAL flush, and VACUUM gets
    # room for its dead-tuple list. The server's configuration is left alone.
    await conn.execute("SET synchronous_commit = off")
    await conn.execute("SET maintenance_work_mem = '1GB'")


async def _drop_foreign_keys(conn: Any, tables: tuple[str, ...]) -> list[str]:
    """Drop the tables' foreign keys (checked row by row during a COPY, validated in one pass
    afterwards); return the DDL that adds them again. Primary keys and indexes stay: the load
    goes in key order (state IDs and ids increase with it), so it appends to every one of them."""
    rows = await conn.fetch(
        "SELECT c.conrelid::regclass::text AS tbl, c.conname, pg_get_constraintdef(c.oid) AS def "
        "FROM pg_constraint c WHERE c.conrelid::regclass::text = ANY($1::text[]) AND c.contype = 'f'",
        list(tables))
    for row in rows:
        await conn.execute(f'ALTER TABLE {row["tbl"]} DROP CONSTRAINT "{row["conname"]}"')
    return [f'ALTER TABLE {r["tbl"]} ADD CONSTRAINT "{r["conname"]}" {r["def"]}' for r in rows]


def _producer(plan: LoadPlan, work: Any, back: Any, workers: int) -> None:
    """Generator process: the synth stream, split into chunks for the workers."""
    splitter = Splitter(plan)
    for n, chunk in splitter.chunks():
        work.put((n, chunk))
    for _ in range(workers):
        work.put(None)
    back.put(("meta", splitter.read_district, splitter.read_ids, splitter.pool, sorted(splitter.districts)))


def _worker(dsn: str, plan: LoadPlan, work: Any, back: Any) -> None:
    asyncio.run(_worker_main(dsn, plan, work, back))


async def _worker_main(dsn: str, plan: LoadPlan, work: Any, back: Any) -> None:
    import asyncpg

    conn = await asyncpg.connect(dsn)
    await _session_settings(conn)
    counts: Counter[str] = Counter()
    try:
        while (task := work.get()) is not None:
            n, students = task
            built = build_chunk(n, students, plan)
            async with conn.transaction():
                for table, rows in built.rows.items():
                    if rows:
                        await conn.copy_records_to_table(table, records=rows, columns=COLUMNS[table])
                        counts[table] += len(rows)
            back.put(("chunk", n, built.log, built.districts))
    finally:
        await conn.close()
    back.put(("done", dict(counts), resource.getrusage(resource.RUSAGE_SELF).ru_maxrss))


async def load_postgres(url: str, plan: LoadPlan, env: dict[str, str], progress: bool = True) -> LoadResult:
    import asyncpg

    seconds: dict[str, float] = {}
    started = time.perf_counter()
    await recreate_database(url)
    migrate(url, env)
    seconds["create_and_migrate"] = time.perf_counter() - started

    dsn = asyncpg_dsn(url)
    conn = await asyncpg.connect(dsn)
    await _session_settings(conn)
    foreign_keys = await _drop_foreign_keys(conn, BULK_TABLES)

    began = time.perf_counter()
    ctx = mp.get_context("spawn")
    work, back = ctx.Queue(maxsize=2 * plan.workers + 2), ctx.Queue()
    producer = ctx.Process(target=_producer, args=(plan, work, back, plan.workers), daemon=True)
    workers = [ctx.Process(target=_worker, args=(dsn, plan, work, back), daemon=True) for _ in range(plan.workers)]
    producer.start()
    for w in workers:
        w.start()
    chain = LogChain(plan.at)
    pending: dict[int, list[tuple[int, str, str]]] = {}
    next_chunk, done = 0, 0
    rows: Counter[str] = Counter()
    per_district: Counter[str] = Counter()
    child_rss = 0
    meta: tuple[Any, ...] | None = None
    last_report = time.perf_counter()
    loop = asyncio.get_running_loop()
    while done < plan.workers or meta is None:
        try:
            message = await loop.run_in_executor(None, back.get, True, 5.0)
        except queue.Empty:
            dead = [p for p in (producer, *workers) if p.exitcode not in (None, 0)]
            if dead:
                raise RuntimeError(f"a load process failed (exit codes {[p.exitcode for p in dead]})") from None
            continue
        kind = message[0]
        if kind == "chunk":
            _, n, log, districts = message
            per_district.update(districts)
            pending[n] = log
            while next_chunk in pending:  # the chain goes in stream order
                entries = chain.rows(pending.pop(next_chunk))
                await conn.copy_records_to_table("records_access_log", records=entries,
                                                 columns=COLUMNS["records_access_log"])
                rows["records_access_log"] += len(entries)
                next_chunk += 1
            if progress and time.perf_counter() - last_report > 15:
                last_report = time.perf_counter()
                done_students = rows["records_access_log"]
                print(f"  loaded {done_students:,} / {plan.students:,} students "
                      f"({done_students / (last_report - began):,.0f}/s)", file=sys.stderr, flush=True)
        elif kind == "done":
            done += 1
            rows.update(message[1])
            child_rss = max(child_rss, message[2])
        elif kind == "meta":
            meta = message
    producer.join()
    for w in workers:
        w.join()
    assert not pending and rows["records_access_log"] == plan.students, (len(pending), rows)
    _, read_district, read_ids, pool, districts = meta
    if not read_ids:
        raise RuntimeError(f"no loaded student in the read district {read_district}")
    await conn.copy_records_to_table(
        "records_submission", columns=COLUMNS["records_submission"],
        records=[(submission_id_for(d), "student", LOADER_ACTOR, d, plan.at, k, k, 0) for d, k in sorted(per_district.items())])
    rows["records_submission"] = len(per_district)
    for table, table_rows in identity_rows(pool, plan.at).items():
        await conn.copy_records_to_table(table, records=table_rows, columns=COLUMNS[table])
        rows[table] = len(table_rows)
    seconds["generate_and_copy"] = time.perf_counter() - began

    began = time.perf_counter()
    for ddl in foreign_keys:
        await conn.execute(ddl)
    for table, column in SEQUENCES.items():
        await conn.execute(f"SELECT setval(pg_get_serial_sequence('{table}', '{column}'), "
                           f"(SELECT coalesce(max({column}), 0) + 1 FROM {table}), false)")
    seconds["foreign_keys_and_sequences"] = time.perf_counter() - began
    began = time.perf_counter()
    await conn.execute("VACUUM (ANALYZE)")
    await conn.execute("CHECKPOINT")
    seconds["vacuum_analyze_checkpoint"] = time.perf_counter() - began
    await conn.close()
    seconds["total"] = time.perf_counter() - started
    rss_kb = max(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss, child_rss,
                 resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)
    return LoadResult("postgresql", plan.students, dict(rows), read_district, read_ids, pool, seconds,
                      rss_kb / 1024, len(districts))


def reuse_postgres(url: str, plan: LoadPlan, env: dict[str, str]) -> LoadResult:
    """The state a previous run of the same plan loaded, kept: migrated to the current schema, and
    the pool, the read district and its sample regenerated from the seed (no rows written). The
    pool must still be unwritten (an ingest consumes it): else load afresh."""
    import asyncpg

    started = time.perf_counter()
    migrate(url, env)
    splitter = Splitter(plan)
    for _ in splitter.chunks():
        pass
    ids = [s.state_id for s in splitter.pool]

    async def check() -> dict[str, int]:
        conn = await asyncpg.connect(asyncpg_dsn(url))
        try:
            students = await conn.fetchval("SELECT count(*) FROM records_subject WHERE entity = 'student'")
            written = await conn.fetchval(
                "SELECT count(*) FROM records_subject WHERE entity = 'student' AND state_id = any($1::text[])", ids)
            known = await conn.fetchval("SELECT count(*) FROM identity_person WHERE state_id = any($1::text[])", ids)
        finally:
            await conn.close()
        if students < plan.students or written or known != len(ids):
            raise SystemExit(f"--reuse: the database does not hold this plan's unused state ({students:,} students, "
                             f"{written:,} of the {len(ids):,} pool students already written, {known:,} known to "
                             "identity); run without --reuse to load it")
        return {"records_subject": students}

    rows = asyncio.run(check())
    seconds = {"generate_and_copy": time.perf_counter() - started, "total": time.perf_counter() - started}
    return LoadResult("postgresql", plan.students, rows, splitter.read_district, splitter.read_ids, splitter.pool,
                      seconds, resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, len(splitter.districts))


# --- SQLite (quick runs) -------------------------------------------------------------------------


def _sqlite_value(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.replace(tzinfo=None).strftime("%Y-%m-%d %H:%M:%S.%f")  # as SQLAlchemy stores it
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, bool):
        return int(value)
    return value


def _sqlite_insert(db: sqlite3.Connection, table: str, rows: list[tuple[Any, ...]]) -> None:
    columns = COLUMNS[table]
    db.executemany(f"INSERT INTO {table} ({', '.join(columns)}) VALUES ({', '.join('?' * len(columns))})",
                   [tuple(_sqlite_value(v) for v in row) for row in rows])


def load_sqlite(url: str, plan: LoadPlan, env: dict[str, str]) -> LoadResult:
    seconds: dict[str, float] = {}
    started = time.perf_counter()
    path = Path(make_url(url).database or "")
    for suffix in ("", "-wal", "-shm"):
        Path(f"{path}{suffix}").unlink(missing_ok=True)
    migrate(url, env)
    seconds["create_and_migrate"] = time.perf_counter() - started
    began = time.perf_counter()
    db = sqlite3.connect(path)
    rows: Counter[str] = Counter()
    per_district: Counter[str] = Counter()
    chain = LogChain(plan.at)
    splitter = Splitter(plan)
    with db:
        for n, chunk in splitter.chunks():
            built = build_chunk(n, chunk, plan)
            per_district.update(built.districts)
            for table, table_rows in built.rows.items():
                _sqlite_insert(db, table, table_rows)
                rows[table] += len(table_rows)
            entries = chain.rows(built.log)
            _sqlite_insert(db, "records_access_log", entries)
            rows["records_access_log"] += len(entries)
        _sqlite_insert(db, "records_submission", [(submission_id_for(d), "student", LOADER_ACTOR, d, plan.at, k, k, 0)
                                                  for d, k in sorted(per_district.items())])
        rows["records_submission"] = len(per_district)
        for table, table_rows in identity_rows(splitter.pool, plan.at).items():
            _sqlite_insert(db, table, table_rows)
            rows[table] = len(table_rows)
    db.execute("ANALYZE")
    db.close()
    seconds["generate_and_copy"] = time.perf_counter() - began
    seconds["total"] = time.perf_counter() - started
    if not splitter.read_ids:
        raise RuntimeError(f"no loaded student in the read district {splitter.read_district}")
    return LoadResult("sqlite", plan.students, dict(rows), splitter.read_district, splitter.read_ids,
                      splitter.pool, seconds, resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
                      len(splitter.districts))


def check_plan(plan: LoadPlan) -> None:
    """Refuse, before anything is loaded, a pool so large beside the loaded students that the read
    district (the largest) would fall wholly in it: students come district by district, the pool
    after the loaded ones, so that district would have no record to read."""
    districts = Synthesizer(_synth_config(plan)).districts
    read = _largest(districts)
    first = sum(d.quota for d in districts[:districts.index(read)])
    if first >= plan.students:
        raise SystemExit(f"the ingest pool ({plan.pool:,} students) is too large beside {plan.students:,} loaded "
                         f"students: the read district {read.district_id} would have none loaded. Load more "
                         "students or ask for fewer ingest batches.")


def load(url: str, plan: LoadPlan, env: dict[str, str]) -> LoadResult:
    check_plan(plan)
    if url.startswith("postgresql"):
        return asyncio.run(load_postgres(url, plan, env))
    if url.startswith("sqlite"):
        return load_sqlite(url, plan, env)
    raise SystemExit(f"unsupported database URL: {url}")


__all__ = ["LoadPlan", "LoadResult", "build_chunk", "check_plan", "load", "reuse_postgres"]
