"""Append-only, hash-chained logs (access log, disclosure log), one table per service.

Each entry's hash covers its own content and the previous entry's hash, so editing or deleting a
row breaks the chain from that row on, and `verify_chain` names the first bad sequence number.
Appends are serialised per chain (PostgreSQL advisory lock / SQLite write lock) so the sequence
has no gaps or forks under concurrency. A truncated tail is caught against a signed checkpoint of
the head kept outside the table (the tamper-evidence issue builds that on `chain_head`).

Staged entries (`stage_many`, for high-volume reads): written in the request's own transaction
without the chain lock, as rows with a negative `seq` and empty hashes, so readers never queue
on one lock; `chain_staged` later folds them into the chain in `at` order under the lock (a
`StagedChainer` task does that in the background). They are in the database from the request's
commit on, so a crash loses none, and `verify_chain` reports any left unchained past a bound.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import logging
import random
import time
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import orjson
from sqlalchemy import String, Text, bindparam, func, insert, select, text, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, AsyncSession, async_sessionmaker
from sqlalchemy.orm import Mapped, mapped_column

from shared.batching import Coalescer
from shared.db import copy_rows, raw_connections, utcnow

GENESIS = "0" * 64
STAGED_MAX_AGE = timedelta(minutes=5)  # verify_chain fails on a staged entry older than this
_MIN_STAGED_SEQ = -(2**31 - 1)  # seq is a 32-bit integer in some logs
LOCK_WAIT = "20ms"  # how long a batch of read entries waits for the chain's lock before it is staged

logger = logging.getLogger("slds.audit")


class ChainedLogMixin:
    seq: Mapped[int] = mapped_column(primary_key=True, autoincrement=False)
    at: Mapped[datetime]
    actor: Mapped[str] = mapped_column(String(200))
    action: Mapped[str] = mapped_column(String(64))
    request_id: Mapped[str | None] = mapped_column(String(64))
    payload: Mapped[str] = mapped_column(Text)  # canonical JSON: what was accessed, never field values
    prev_hash: Mapped[str] = mapped_column(String(64))
    hash: Mapped[str] = mapped_column(String(64))


_CANONICAL = orjson.OPT_SORT_KEYS | orjson.OPT_PASSTHROUGH_DATETIME | orjson.OPT_PASSTHROUGH_DATACLASS


def canonical(payload: dict[str, Any]) -> str:
    """The payload's stored text, which its entry's hash covers: sorted keys, no spaces, dates and
    unknown types as `str()` gives them. orjson (it runs for every record read); the stdlib for
    what orjson refuses (keys that are not strings, integers past 64 bits). Verification hashes
    the stored text, so entries written by either, or before this, verify alike."""
    try:
        return orjson.dumps(payload, default=str, option=_CANONICAL).decode()
    except orjson.JSONEncodeError:
        return json.dumps(payload, sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=str)


def entry_hash(prev_hash: str, seq: int, at: datetime, actor: str, action: str,
               request_id: str | None, payload: str) -> str:
    """The chain's hash of one entry. `records_access_log_append` (migration e2f3a4b5c6d7, the
    read path's appender on PostgreSQL) computes the same in SQL, `GENESIS` included: a change
    here needs a migration that changes it alike (`verify_chain`, run at the end of every
    hot-read test, recomputes each hash here and would fail)."""
    material = "\x1f".join([prev_hash, str(seq), at.isoformat(), actor, action, request_id or "", payload])
    return hashlib.sha256(material.encode()).hexdigest()


def chain_links(seq: int, prev: str, contents: Iterable[tuple[datetime, str, str, str | None, str]]
                ) -> Iterator[tuple[int, str, str]]:
    """(seq, prev_hash, hash) of each entry appended after the head (`seq`, `prev`), in order;
    `contents` gives each entry's (at, actor, action, request_id, payload)."""
    for at, actor, action, request_id, payload in contents:
        seq += 1
        digest = entry_hash(prev, seq, at, actor, action, request_id, payload)
        yield seq, prev, digest
        prev = digest


async def lock_chain(session: AsyncSession, model: type[ChainedLogMixin]) -> None:
    """Hold the chain's append lock until the transaction ends (re-entrant within it). A service
    that must order other writes with its log (records' change versions) takes it first."""
    table = model.__tablename__  # type: ignore[attr-defined]
    if session.bind.dialect.name == "postgresql":
        await session.execute(text("SELECT pg_advisory_xact_lock(hashtext(:t))"), {"t": table})
    else:
        await session.execute(text(f"UPDATE {table} SET seq = seq WHERE 0 = 1"))  # take the write lock


async def try_lock_chain(session: AsyncSession, model: type[ChainedLogMixin]) -> bool:
    """Take the chain's append lock if it is free (PostgreSQL); SQLite's write lock is already
    held by the transaction."""
    if session.bind.dialect.name != "postgresql":
        await lock_chain(session, model)
        return True
    table = model.__tablename__  # type: ignore[attr-defined]
    return bool(await session.scalar(text("SELECT pg_try_advisory_xact_lock(hashtext(:t))"), {"t": table}))


async def lock_chain_within(session: AsyncSession, model: type[ChainedLogMixin], wait: str) -> bool:
    """Take the chain's append lock if it comes within `wait` (a PostgreSQL interval such as
    "250ms"; migration c6d7e8f9a0b1); SQLite's write lock is already held by the transaction."""
    if session.bind.dialect.name != "postgresql":
        await lock_chain(session, model)
        return True
    table = model.__tablename__  # type: ignore[attr-defined]
    return bool(await session.scalar(text("SELECT slds_advisory_xact_lock_within(:t, :wait)"),
                                     {"t": table, "wait": wait}))


async def append(session: AsyncSession, model: type[ChainedLogMixin], *, actor: str, action: str,
                 payload: dict[str, Any], request_id: str | None,
                 index_columns: dict[str, Any] | None = None) -> ChainedLogMixin:
    """Append one entry. `index_columns` fill a log table's own lookup columns (copies of what the
    hashed payload already says, for indexed search)."""
    await lock_chain(session, model)
    last = (await session.execute(select(model.seq, model.hash).where(model.seq > 0)
                                  .order_by(model.seq.desc()).limit(1))).first()
    seq, prev = (last[0] + 1, last[1]) if last else (1, GENESIS)
    at = utcnow()
    body = canonical(payload)
    entry = model(seq=seq, at=at, actor=actor, action=action, request_id=request_id, payload=body,  # type: ignore[call-arg]
                  prev_hash=prev, hash=entry_hash(prev, seq, at, actor, action, request_id, body),
                  **(index_columns or {}))
    session.add(entry)
    await session.flush()
    return entry


async def append_many(session: AsyncSession, model: type[ChainedLogMixin], entries: list[dict[str, Any]],
                      *, actor: str, request_id: str | None) -> None:
    """Append several entries by one actor under one lock hold (a page of a list, a bulk write).
    Each entry is a dict with `action`, `payload` and optional `index_columns`."""
    if not entries:
        return
    await lock_chain(session, model)
    last = (await session.execute(select(model.seq, model.hash).where(model.seq > 0)
                                  .order_by(model.seq.desc()).limit(1))).first()
    seq, prev = (last[0], last[1]) if last else (0, GENESIS)
    at = utcnow()
    index_columns = {k for e in entries for k in e.get("index_columns", {})}
    bodies = [canonical(entry["payload"]) for entry in entries]
    links = chain_links(seq, prev, ((at, actor, e["action"], request_id, body) for e, body in zip(entries, bodies, strict=True)))
    rows = []
    for entry, body, (entry_seq, entry_prev, digest) in zip(entries, bodies, links, strict=True):
        row = dict.fromkeys(index_columns)
        row.update(seq=entry_seq, at=at, actor=actor, action=entry["action"], request_id=request_id, payload=body,
                   prev_hash=entry_prev, hash=digest, **entry.get("index_columns", {}))
        rows.append(row)
    await session.flush()  # what the entries describe is written first, as before
    # Core, not an ORM object per entry (a bulk write logs thousands); RETURNING batches the rows.
    table = model.__table__  # type: ignore[attr-defined]
    if len(rows) < 50 or not await copy_rows(session, table, rows):
        await session.execute(insert(table).returning(table.c.seq), rows)


async def stage_many(session: AsyncSession, model: type[ChainedLogMixin], entries: list[dict[str, Any]],
                     *, actor: str, request_id: str | None) -> None:
    """Write entries unchained in the caller's transaction, without the chain lock (see the module
    docstring). Staged seqs are random negative numbers; the rare clash is retried."""
    if not entries:
        return
    at = utcnow()
    table = model.__table__  # type: ignore[attr-defined]
    columns = {"at", "actor", "action", "request_id", "payload", "prev_hash", "hash", "seq"}
    columns.update(k for e in entries for k in e.get("index_columns", {}))
    rows = []
    for e in entries:
        row = dict.fromkeys(columns)
        row.update(at=at, actor=actor, action=e["action"], request_id=request_id, payload=canonical(e["payload"]),
                   prev_hash="", hash="", **e.get("index_columns", {}))
        rows.append(row)
    statement = _stage_statement(table, session.bind.dialect.name)
    while rows:
        # A random block of consecutive numbers: `chain_staged` orders by (at, seq), so a
        # request's entries (one `at`) keep their order.
        base = random.randint(_MIN_STAGED_SEQ, -len(rows))
        for offset, row in enumerate(rows):
            row["seq"] = base + offset
        if len(rows) == 1:
            stored = set((await session.execute(statement, rows[0])).scalars())
        else:
            stored = set((await session.execute(statement, rows)).scalars())
        rows = [row for row in rows if row["seq"] not in stored]


_stage_statements: dict[tuple[str, str], Any] = {}


def _stage_statement(table: Any, dialect: str) -> Any:
    """One statement object per table: compiled once, then served from SQLAlchemy's cache."""
    key = (table.name, dialect)
    if key not in _stage_statements:
        insert = pg_insert if dialect == "postgresql" else sqlite_insert
        _stage_statements[key] = (insert(table).on_conflict_do_nothing(index_elements=["seq"])
                                  .returning(table.c.seq))
    return _stage_statements[key]


class StagedLogBatcher:
    """Group commit for the read path's log entries on PostgreSQL, chained as they are written.

    Each read used to stage its entry in its own transaction: BEGIN, INSERT, COMMIT, three round
    trips and a WAL flush per read. Here a request hands its entries over and waits; one writer
    task writes everything handed over since its last write and then wakes the waiters. A request
    still answers only after its entries are in the database, so no read goes out unlogged; under
    load many reads share one write and one WAL flush. If the write fails, every request of that
    batch fails with it.

    The batch goes into the chain directly, in one call of the table's append procedure
    (migrations e2f3a4b5c6d7 and f3a4b5c6d7e8: `records_access_log_append_flushed`): it takes the
    chain's lock, reads the head, hashes the entries as `entry_hash` does and inserts them with
    their final `seq`, in a transaction that commits without waiting for its WAL flush; a second
    transaction in the same call then waits for that flush (an xid makes it commit, and its commit
    flushes the WAL up to itself). So the disk flush happens after the lock is let go, where the
    two processes' flushes are shared, instead of inside it, one at a time; an entry lost in a
    crash before it takes every later entry with it (the WAL is one sequence), so the chain never
    gets a hole. Done as separate statements (lock, head, insert, unlock, flush) the same work was
    four to six round trips per batch, each costing the service more CPU than its rows. When a
    writer holds the lock past `LOCK_WAIT` (a records write holds it to commit), the procedure
    gives up and the batch is staged (negative `seq`) for the chainer to fold in later, so reads
    never wait on writes; `stage` then says so and the caller kicks the chainer."""

    def __init__(self, model: type[ChainedLogMixin], engine: AsyncEngine, *,
                 turns: asyncio.Lock | None = None) -> None:
        table = model.__table__  # type: ignore[attr-defined]
        self.engine = engine
        self.lock_key = table.name  # the key `lock_chain` takes
        self.base_columns = ["seq", "at", "actor", "action", "request_id", "payload", "prev_hash", "hash"]
        self.index_columns = [c.name for c in table.columns if c.name not in self.base_columns]
        if self.index_columns != ["state_id"]:  # the append function's last argument
            raise ValueError(f"{table.name}: the append function takes state_id as its only index column")
        columns = self.base_columns + self.index_columns
        dialect = engine.dialect
        arrays = ", ".join(f"${i}::{table.c[name].type.compile(dialect=dialect)}[]" for i, name in enumerate(columns, 1))
        into = f"INSERT INTO {table.name} ({', '.join(columns)})"
        self.staged_sql = f"{into} SELECT * FROM unnest({arrays}) ON CONFLICT (seq) DO NOTHING RETURNING seq"
        self.append_sql = f"CALL {table.name}_append_flushed($1, $2, $3, $4, $5, $6, $7, $8, $9, NULL)"
        self._batches: Coalescer[list[list[Any]], bool] = Coalescer(self._write_batch, max_batch=1000, turns=turns)

    async def stage(self, entries: list[dict[str, Any]], *, actor: str, request_id: str | None) -> bool:
        """Write the entries; True when they were staged (left for the chainer), False when they
        went into the chain (or there were none)."""
        if not entries:
            return False
        at = utcnow()
        rows = [[0, at, actor, e["action"], request_id, canonical(e["payload"]), "", "",
                 *(e.get("index_columns", {}).get(name) for name in self.index_columns)] for e in entries]
        return await self._batches.submit(rows)

    async def _write_batch(self, batch: list[list[list[Any]]]) -> list[bool]:
        staged = await self._write([row for rows in batch for row in rows])
        return [staged] * len(batch)

    async def _write(self, rows: list[list[Any]]) -> bool:
        _, ats, actors, actions, request_ids, payloads, _, _, state_ids = zip(*rows, strict=True)
        async with raw_connections(self.engine).connection() as connection:
            head = await connection.fetchval(self.append_sql, self.lock_key, LOCK_WAIT, ats,
                                             [at.isoformat() for at in ats], actors, actions, request_ids,
                                             payloads, state_ids)
            if head is None:  # a writer held the lock past LOCK_WAIT
                await self._insert_staged(connection, rows)
                return True
            return False

    async def _insert_staged(self, connection: Any, rows: list[list[Any]]) -> None:
        while rows:
            # Random blocks of negative numbers as in stage_many; a clash is retried.
            base = random.randint(_MIN_STAGED_SEQ, -len(rows))
            for offset, row in enumerate(rows):
                row[0] = base + offset
            stored = {r[0] for r in await connection.fetch(self.staged_sql, *zip(*rows, strict=True))}
            rows = [row for row in rows if row[0] not in stored]


async def chain_staged(session: AsyncSession, model: type[ChainedLogMixin], *, limit: int = 5000,
                       wait: bool = True) -> int:
    """Fold committed staged entries into the chain, oldest first, under the chain lock (held to
    the end of the caller's transaction). With `wait=False`, gives up at once (0) when another
    transaction holds the lock. Returns how many were chained."""
    if wait:
        await lock_chain(session, model)
    elif not await try_lock_chain(session, model):
        return 0
    table = model.__table__  # type: ignore[attr-defined]
    staged = (await session.execute(
        select(table.c.seq, table.c.at, table.c.actor, table.c.action, table.c.request_id, table.c.payload)
        .where(table.c.seq < 0).order_by(table.c.at, table.c.seq).limit(limit))).all()
    if not staged:
        return 0
    last = (await session.execute(select(table.c.seq, table.c.hash).where(table.c.seq > 0)
                                  .order_by(table.c.seq.desc()).limit(1))).first()
    seq, prev = (last[0], last[1]) if last else (0, GENESIS)
    moves = [{"old_seq": row[0], "new_seq": new_seq, "new_prev": new_prev, "new_hash": digest}
             for row, (new_seq, new_prev, digest) in zip(staged, chain_links(seq, prev, (r[1:] for r in staged)),
                                                         strict=True)]
    if session.bind.dialect.name == "postgresql":
        # One statement for the whole batch: as many single-row UPDATEs cost PostgreSQL a
        # parse/bind/execute each, which on the read path was a large share of its CPU per read.
        await session.execute(text(
            f"UPDATE {table.name} AS t SET seq = m.new_seq, prev_hash = m.new_prev, hash = m.new_hash "
            "FROM unnest(CAST(:old AS bigint[]), CAST(:new AS bigint[]), CAST(:prev AS text[]), "
            "CAST(:hash AS text[])) AS m(old_seq, new_seq, new_prev, new_hash) WHERE t.seq = m.old_seq"),
            {"old": [m["old_seq"] for m in moves], "new": [m["new_seq"] for m in moves],
             "prev": [m["new_prev"] for m in moves], "hash": [m["new_hash"] for m in moves]})
        return len(moves)
    await session.execute(
        update(table).where(table.c.seq == bindparam("old_seq"))
        .values(seq=bindparam("new_seq"), prev_hash=bindparam("new_prev"), hash=bindparam("new_hash"))
        .execution_options(synchronize_session=False), moves)
    return len(moves)


class StagedChainer:
    """Folds staged entries into the chain in the background, in transactions of its own: a task
    started by the first `kick` that runs while entries keep coming, then ends (the next `kick`
    starts it again). Entries a crashed process staged are folded by the next run anywhere (or
    by `chain_staged` before the log is read)."""

    def __init__(self, model: type[ChainedLogMixin], sessionmaker: async_sessionmaker[AsyncSession], *,
                 interval: float = 0.1, linger: float = 2.0) -> None:
        self.model = model
        self.sessionmaker = sessionmaker
        self.interval = interval
        self.linger = linger
        self._kicked = 0.0
        self._task: asyncio.Task[None] | None = None
        # A sessionmaker bound to one connection (a test's rolled-back transaction) cannot be used
        # beside the requests: there the log's readers fold staged entries themselves.
        self.enabled = not isinstance(sessionmaker.kw.get("bind"), AsyncConnection)

    def kick(self) -> None:
        self._kicked = time.monotonic()
        if self.enabled and (self._task is None or self._task.done()):
            self._task = asyncio.get_running_loop().create_task(self._run())

    async def run_once(self) -> int | None:
        """Fold staged entries; how many, or None when another transaction held the lock."""
        async with self.sessionmaker() as session:
            if not await try_lock_chain(session, self.model):
                return None
            # Batches of 1,000: the lock is held for tens of milliseconds, not a second, so the
            # read path (which stages when it cannot get the lock soon) rarely falls back.
            chained = await chain_staged(session, self.model, limit=1000)
            await session.commit()
            return chained

    async def _run(self) -> None:
        while True:
            await asyncio.sleep(self.interval)
            try:
                chained = await self.run_once()
            except Exception:  # the entries stay staged; the next run folds them
                logger.exception("chaining staged log entries failed")
                chained = None
                await asyncio.sleep(1.0)
            # It ends only once it has found nothing to fold for `linger` seconds. A lock held by
            # others says nothing of what is staged: under load the read path holds it most of
            # the time, and a chainer that gave up then left staged entries behind.
            if chained == 0 and time.monotonic() - self._kicked > self.linger:
                return


@dataclass(frozen=True)
class ChainReport:
    ok: bool
    entries: int
    first_bad_seq: int | None = None
    problem: str | None = None
    head_hash: str = GENESIS
    staged: int = 0  # entries written but not yet folded into the chain


async def verify_chain(session: AsyncSession, model: type[ChainedLogMixin], batch: int = 5000,
                       *, staged_max_age: timedelta = STAGED_MAX_AGE) -> ChainReport:
    """Check the chain from genesis. Staged entries are not part of it yet, but one older than
    `staged_max_age` means they are not being folded (no chainer running): that fails too, after
    the chain itself checked out."""
    staged, oldest = (await session.execute(
        select(func.count(), func.min(model.at)).where(model.seq < 0))).one()
    prev, expected_seq, count, after = GENESIS, 1, 0, 0
    while True:
        rows = (await session.scalars(select(model).where(model.seq > after).order_by(model.seq).limit(batch))).all()
        if not rows:
            break
        for row in rows:
            if row.seq != expected_seq:
                return ChainReport(False, count, expected_seq, "missing entry", prev, staged)
            if row.prev_hash != prev:
                return ChainReport(False, count, row.seq, "broken link", prev, staged)
            if row.hash != entry_hash(row.prev_hash, row.seq, row.at, row.actor, row.action,
                                      row.request_id, row.payload):
                return ChainReport(False, count, row.seq, "content changed", prev, staged)
            prev, expected_seq, after, count = row.hash, row.seq + 1, row.seq, count + 1
    if staged and oldest < utcnow() - staged_max_age:
        oldest_seq = await session.scalar(select(model.seq).where(model.seq < 0).order_by(model.at).limit(1))
        return ChainReport(False, count, oldest_seq, f"unchained entries older than {staged_max_age}", prev, staged)
    return ChainReport(True, count, head_hash=prev, staged=staged)
