"""Bulk resolve: up to 10,000 persons per request (JSON array or NDJSON), answered 202 with a
location; the batch worker then resolves the rows a chunk per transaction.

Each row is validated at intake: a bad row (or one for another district) gets its own problem and
the rest go on. The SSN is replaced by its keyed hash before anything is stored. The same
`Idempotency-Key` from the same caller returns the same batch and creates nothing twice."""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import json
import logging
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from pydantic import ValidationError
from sqlalchemy import Row, bindparam, func, select, text, update
from sqlalchemy.ext.asyncio import AsyncSession

from services.identity.bulk import ChunkResolver, ChunkRow, copy_rows, prepare_ahead
from services.identity.models import Batch, BatchRow
from services.identity.resolve import (
    Resolver,
    authorize_submission,
    facts_as_json,
    facts_from_json,
    facts_from_request,
)
from services.identity.schemas import BatchRowIn
from shared.db import utcnow
from shared.errors import Conflict, NotFound, SLDSError, UnprocessableContent, validation_problems
from shared.policy.principal import Principal
from shared.settings import Settings
from shared.state import Database

MAX_BATCH_ROWS = 10_000
CHUNK_ROWS = 500  # rows per transaction; up to 3 advisory locks each (PostgreSQL's lock table)
ROWWISE_CHUNK_ROWS = 200  # the one-row-at-a-time path as it was
ANALYZE_AFTER_ROWS = 1000
WAKE_CHANNEL = "slds_identity_batch"  # PostgreSQL NOTIFY: a batch was submitted
CHUNK_ATTEMPTS = 3  # a chunk whose new state ID another worker took at the same moment is redone
logger = logging.getLogger("slds.identity.batch")


@dataclass(frozen=True)
class Partition:
    """The rows one of `count` batch workers resolves: those of persons born in a year with
    `year % count == index` (intake requires a birth date; a row without a readable year would
    go to worker 0).

    Why birth years: a chunk locks the birth dates of its rows, and their day/month swaps (the
    same year), until it commits (`ChunkResolver.resolve_chunk`). Workers with different years
    therefore never wait for each other's locks, and all submissions of one birth date, every
    duplicate with the date right, are still resolved by one worker in submission order. A
    duplicate whose year was mistyped may meet its twin in the other worker's open chunk: the
    same race as two single resolves of it at the same moment, which take the same locks."""

    index: int
    count: int

    def __post_init__(self) -> None:
        if not 0 <= self.index < self.count:
            raise ValueError(f"partition {self.index}/{self.count}: the index must be below the count")

    @classmethod
    def parse(cls, text: str) -> Partition:
        """`I/N`, as `slds identity worker --partition` takes it."""
        index, _, count = text.partition("/")
        return cls(int(index), int(count))

    def holds(self, birth_date: str | None) -> bool:
        """Whether a row whose stored `birth_date` (ISO text, or None) is this worker's."""
        year = birth_date[:4] if birth_date else ""
        return (int(year) % self.count if year.isdigit() else 0) == self.index


def parse_rows(raw: bytes, content_type: str) -> list[Any]:
    """A JSON array, or NDJSON (one JSON object per line)."""
    try:
        if "ndjson" in content_type or "jsonlines" in content_type:
            rows = [json.loads(line) for line in raw.splitlines() if line.strip()]
        else:
            rows = json.loads(raw)
    except (ValueError, UnicodeDecodeError):
        raise UnprocessableContent("The body is not valid JSON or NDJSON.", errors=[
            {"field": "body", "code": "json_invalid", "message": "Not valid JSON / NDJSON"}]) from None
    if not isinstance(rows, list):
        raise UnprocessableContent("The body must be a JSON array of persons.", errors=[
            {"field": "body", "code": "list_type", "message": "Expected an array"}])
    if not rows or len(rows) > MAX_BATCH_ROWS:
        raise UnprocessableContent(f"A batch holds 1 to {MAX_BATCH_ROWS} persons.", errors=[
            {"field": "body", "code": "batch_size", "message": f"1 to {MAX_BATCH_ROWS} rows"}])
    return rows


def _row_problem(status: int, title: str, errors: list[dict[str, str]]) -> dict[str, Any]:
    return {"status": status, "title": title, "errors": errors}


class BatchService:
    def __init__(self, session: AsyncSession, settings: Settings) -> None:
        self.session = session
        self.settings = settings

    async def submit(self, principal: Principal, rows: list[Any], idempotency_key: str | None, raw: bytes) -> Batch:
        request_hash = hashlib.sha256(raw).hexdigest()
        if idempotency_key:
            existing = await self.session.scalar(select(Batch).where(
                Batch.submitted_by == principal.subject, Batch.idempotency_key == idempotency_key))
            if existing is not None:
                if existing.request_hash != request_hash:
                    raise Conflict("This Idempotency-Key was used for a different batch.")
                return existing
        batch = Batch(submitted_by=principal.subject, idempotency_key=idempotency_key,
                      request_hash=request_hash, total=len(rows))
        self.session.add(batch)
        await self.session.flush()
        stored = [self._intake(batch.id, index, row, principal) for index, row in enumerate(rows)]
        batch.processed = sum(1 for row in stored if row["done"])
        await self.session.flush()
        if self.session.bind.dialect.name == "postgresql":
            # COPY, not 10,000 ORM objects or INSERT parameters: intake is a share of a bulk load.
            await copy_rows(self.session, BatchRow.__table__, stored)
            # Delivered at commit, when the rows are there to read: wakes the worker, which may
            # run in a process of its own (services/identity/worker.py).
            await self.session.execute(text(f"SELECT pg_notify('{WAKE_CHANNEL}', '')"))
        else:
            await self.session.execute(BatchRow.__table__.insert(), stored)
        return batch

    def _intake(self, batch_id: str, index: int, row: Any, principal: Principal) -> dict[str, Any]:
        row_ref = row.get("row_ref") if isinstance(row, dict) and isinstance(row.get("row_ref"), str) else None
        stored: dict[str, Any] = {"batch_id": batch_id, "row_index": index, "row_ref": row_ref,
                                  "district_id": None, "local_id": None, "facts": None, "done": False,
                                  "decision": None, "state_id": None, "review_id": None, "problem": None}
        try:
            body = BatchRowIn.model_validate(row)
            authorize_submission(principal, body.district_id)
        except ValidationError as exc:
            stored["done"], stored["problem"] = True, _row_problem(
                422, "The row is not valid", validation_problems(list(exc.errors())))
            return stored
        except SLDSError as exc:
            stored["done"], stored["problem"] = True, _row_problem(
                exc.status, exc.detail or exc.title, exc.extensions.get("errors", []))
            return stored
        stored["district_id"], stored["local_id"] = body.district_id, body.local_student_id
        stored["facts"] = facts_as_json(facts_from_request(body, self.settings))
        return stored

    async def get(self, batch_id: str, principal: Principal) -> tuple[Batch, Sequence[Row[Any]]]:
        """The batch, and its rows' results once it is done (none before: a poll costs one read)."""
        batch = await self.session.get(Batch, batch_id)
        if batch is None or batch.submitted_by != principal.subject:
            raise NotFound("No such batch.")  # another caller's batch is as absent as none
        if batch.status != "done":
            return batch, []
        rows = await self.session.execute(
            select(BatchRow.row_index, BatchRow.row_ref, BatchRow.decision, BatchRow.state_id,
                   BatchRow.review_id, BatchRow.problem)
            .where(BatchRow.batch_id == batch_id).order_by(BatchRow.row_index))
        return batch, rows.all()


PERSON_KEY = "pk_identity_person"


def _drew_a_taken_id(exc: BaseException) -> bool:
    """A new person's row refused by the persons' primary key. Persons go in by COPY, which goes
    around SQLAlchemy, so this is asyncpg's own error; two workers run only on PostgreSQL."""
    return getattr(exc, "constraint_name", None) == PERSON_KEY


class BatchProcessor:
    """Resolves the open rows of every unfinished batch, a chunk of rows per transaction."""

    def __init__(self, db: Database, settings: Settings, *, set_based: bool = True,
                 partition: Partition | None = None) -> None:
        self.db = db
        self.settings = settings
        self.partition = partition  # None: every row
        self.wake = asyncio.Event()
        self.set_based = set_based  # False: one `Resolver.resolve` per row (the bench's baseline)
        self.chunk_rows = CHUNK_ROWS if set_based else ROWWISE_CHUNK_ROWS
        self._analyzing: asyncio.Task[None] | None = None

    async def run_pending(self) -> int:
        """Every pending batch, oldest first, and those submitted meanwhile (each once per call:
        one whose rows another worker holds stays pending for the next call)."""
        done = 0
        seen: set[str] = set()
        while True:
            async with self.db.sessionmaker() as session:
                batch_ids = [b for b in await session.scalars(select(Batch.id).where(Batch.status == "pending")
                                                              .order_by(Batch.created_at)) if b not in seen]
            if not batch_ids:
                break
            for batch_id in batch_ids:
                seen.add(batch_id)
                done += await self._run_batch(batch_id)
        if self._analyzing is not None:
            await self._analyzing  # the queue is empty: nothing left to overlap it with
        return done

    async def _run_batch(self, batch_id: str) -> int:
        async with self.db.sessionmaker() as session:
            batch = await session.get(Batch, batch_id)
            assert batch is not None
            submitter = batch.submitted_by
            # The open rows' input up front (intake wrote it for good); each chunk claims its rows.
            query = (select(BatchRow.row_index, BatchRow.district_id, BatchRow.local_id, BatchRow.facts)
                     .where(BatchRow.batch_id == batch_id, BatchRow.done.is_(False)))
            if self.partition is not None and self.partition.count > 1:
                # This worker's share, chosen on the birth date alone (the rest is not decoded).
                born = (await session.execute(
                    select(BatchRow.row_index, BatchRow.facts["birth_date"].as_string())
                    .where(BatchRow.batch_id == batch_id, BatchRow.done.is_(False)))).all()
                mine = [index for index, birth_date in born if self.partition.holds(birth_date)]
                query = query.where(BatchRow.row_index.in_(mine))
            stored = (await session.execute(query.order_by(BatchRow.row_index))).all()
        chunks = [stored[start:start + self.chunk_rows] for start in range(0, len(stored), self.chunk_rows)]
        ahead: asyncio.Task[dict[int, ChunkRow]] | None = None
        try:
            for number, chunk in enumerate(chunks):
                inputs = await ahead if ahead is not None else await self._inputs(chunk)
                # The next chunk's input is made while this one waits on the database.
                ahead = asyncio.create_task(self._inputs(chunks[number + 1])) if number + 1 < len(chunks) else None
                await self._run_chunk_again_on_clash(batch_id, submitter, inputs)
        finally:
            if ahead is not None:
                ahead.cancel()
        async with self.db.sessionmaker() as session, session.begin():
            batch = await session.get(Batch, batch_id)
            remaining = await session.scalar(select(func.count()).select_from(BatchRow).where(
                BatchRow.batch_id == batch_id, BatchRow.done.is_(False)))
            if batch is not None:
                batch.processed = batch.total - (remaining or 0)
                if remaining == 0:
                    batch.status, batch.finished_at = "done", utcnow()
            if (len(stored) >= ANALYZE_AFTER_ROWS and session.bind.dialect.name == "postgresql"
                    and (self.partition is None or self.partition.index == 0)):
                # (Worker 0 only: two ANALYZEs of a table at once fail, "tuple concurrently updated".)
                # A bulk load changes the tables' shape faster than autovacuum notices: refresh the
                # planner's statistics so candidate look-ups keep using their indexes. Only the
                # tables that changed by a tenth since (autovacuum's rule): at a million persons
                # an ANALYZE after every batch would cost more than the batch.
                stale = (await session.scalars(text(
                    "SELECT relname FROM pg_stat_user_tables WHERE relname IN ('identity_person', "
                    "'identity_alias', 'identity_blocking_key') AND n_mod_since_analyze > 50 + 0.1 * n_live_tup"
                ))).all()
                if stale and (self._analyzing is None or self._analyzing.done()):
                    # Beside the next chunks, as autovacuum would: not before this batch is done.
                    self._analyzing = asyncio.create_task(self._analyze(sorted(stale)))
        return len(stored)

    async def _analyze(self, tables: list[str]) -> None:
        try:
            async with self.db.sessionmaker() as session, session.begin():
                await session.execute(text(f"ANALYZE {', '.join(tables)}"))
        except Exception:  # statistics a little older: slower plans for a while, same answers
            logger.warning("batch worker: ANALYZE %s failed", tables, exc_info=True)

    async def _inputs(self, stored: Sequence[Row[Any]]) -> dict[int, ChunkRow]:
        """The resolver's input for a chunk's rows and, set-based, their normalised names and
        blocking keys (cached by the facts); in slices, so that the chunk in progress goes on as
        soon as the database answers it."""
        inputs: dict[int, ChunkRow] = {}
        for count, (index, district, local, facts) in enumerate(stored, 1):
            inputs[index] = row = ChunkRow(facts_from_json(facts or {}), district or "", local or "")
            if self.set_based:
                prepare_ahead(row)
            if count % 20 == 0:
                await asyncio.sleep(0)
        return inputs

    async def _run_chunk_again_on_clash(self, batch_id: str, submitter: str, chunk: dict[int, ChunkRow]) -> None:
        """`_run_chunk`, done again (from the start, in a new transaction) when it drew a new
        state ID that another worker's open chunk drew too: the unused IDs are checked against
        committed persons, and the second COPY of the ID fails on the primary key."""
        for attempt in range(1, CHUNK_ATTEMPTS + 1):
            try:
                await self._run_chunk(batch_id, submitter, chunk)
                return
            except Exception as exc:
                if attempt == CHUNK_ATTEMPTS or not _drew_a_taken_id(exc):
                    raise
                logger.warning("batch worker: a new state ID was drawn twice at once; chunk done again")

    async def _run_chunk(self, batch_id: str, submitter: str, chunk: dict[int, ChunkRow]) -> None:
        """One transaction for a chunk of rows: a crash loses the whole chunk, which is then
        redone, so every row is still resolved exactly once; fewer commits make bulk loads fast."""
        table = BatchRow.__table__
        async with self.db.sessionmaker() as session, session.begin():
            claimed = list(await session.scalars(
                select(BatchRow.row_index)
                .where(BatchRow.batch_id == batch_id, BatchRow.row_index.in_(list(chunk)), BatchRow.done.is_(False))
                .order_by(BatchRow.row_index).with_for_update(skip_locked=True)))
            # Rows locked by another worker were skipped: it is doing them. The chunk is resolved
            # set-based (services/identity/bulk.py): same answers as one row at a time, in order.
            inputs = [chunk[index] for index in claimed]
            if self.set_based:
                outcomes = await ChunkResolver(session, self.settings).resolve_chunk(inputs, submitter, explain=False)
            else:
                resolver = Resolver(session, self.settings)
                outcomes = [await resolver.resolve(r.facts, r.district_id, r.local_id, submitter) for r in inputs]
            results = [(index, o.decision, o.state_id, o.review_id) for index, o in zip(claimed, outcomes, strict=True)]
            if results and session.bind.dialect.name == "postgresql":
                indexes_, decisions, state_ids, review_ids = (list(c) for c in zip(*results, strict=True))
                await session.execute(text(
                    "UPDATE identity_batch_row b SET done = true, decision = t.decision, state_id = t.state_id, "
                    "review_id = t.review_id FROM unnest(CAST(:i AS integer[]), CAST(:d AS varchar[]), "
                    "CAST(:s AS varchar[]), CAST(:r AS varchar[])) AS t(row_index, decision, state_id, review_id) "
                    "WHERE b.batch_id = :batch AND b.row_index = t.row_index"),
                    {"i": indexes_, "d": decisions, "s": state_ids, "r": review_ids, "batch": batch_id})
            elif results:
                await session.execute(
                    update(table).where(table.c.batch_id == batch_id, table.c.row_index == bindparam("i"))
                    .values(done=True, decision=bindparam("d"), state_id=bindparam("s"), review_id=bindparam("r")),
                    [{"i": i, "d": d, "s": sid, "r": rid} for i, d, sid, rid in results])
            await session.execute(update(Batch).where(Batch.id == batch_id)
                                  .values(processed=Batch.processed + len(claimed)))

    async def run_forever(self, poll_seconds: float = 2.0) -> None:
        listener = (asyncio.create_task(self._listen(poll_seconds), name="identity-batch-listener")
                    if self.db.engine.dialect.name == "postgresql" else None)
        try:
            while True:
                try:
                    await self.run_pending()
                except Exception:  # keep the worker alive; the batch stays pending and is retried
                    logger.exception("batch worker error")
                try:
                    await asyncio.wait_for(self.wake.wait(), timeout=poll_seconds)
                except TimeoutError:
                    pass
                self.wake.clear()
        finally:
            if listener is not None:
                listener.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await listener

    async def _listen(self, retry_seconds: float) -> None:
        """Wake at each batch's commit (its NOTIFY) rather than at the next poll, also when the
        batch came in through another process; a lost connection is made again (polls cover
        the gap)."""
        while True:
            try:
                await self._listen_once()
            except Exception:
                logger.warning("batch worker: not listening for new batches", exc_info=True)
            await asyncio.sleep(retry_seconds)

    async def _listen_once(self) -> None:
        """Until the connection is lost."""
        async with self.db.engine.connect() as connection:
            raw = (await connection.get_raw_connection()).driver_connection
            lost = asyncio.Event()
            raw.add_termination_listener(lambda _connection: lost.set())
            await raw.add_listener(WAKE_CHANNEL, lambda *_notification: self.wake.set())
            self.wake.set()  # a batch may have come while nobody listened
            await lost.wait()
