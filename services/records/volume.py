"""The volume alarm's counter, kept off the read path's locks.

Counting every read in the database made each caller's reads queue on one row lock (held until
the request commits). Instead each process counts in memory and adds its count to the shared
row (`records_read_counter`) every `FLUSH_SECONDS` or `FLUSH_READS` reads, and at once when the
caller nears its limit, so the refusal lands on the read that crosses it. With several worker
processes a caller may overshoot by at most FLUSH_READS reads per process before being refused.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass, field
from datetime import UTC, datetime

from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession

from services.records.models import ReadCounter
from shared.db import fetch_raw

_TABLE = ReadCounter.__tablename__
# The hot read path's flush (PostgreSQL): two autocommit statements instead of a session's BEGIN,
# upsert, COMMIT. Only the flush whose UPDATE flips `alerted` raises the hour's alert.
_ADD_SQL = (f"INSERT INTO {_TABLE} (actor, hour, reads, alerted) VALUES ($1, $2, $3, false) "
            f"ON CONFLICT (actor, hour) DO UPDATE SET reads = {_TABLE}.reads + EXCLUDED.reads RETURNING reads, alerted")
_ALERT_SQL = f"UPDATE {_TABLE} SET alerted = true WHERE actor = $1 AND hour = $2 AND NOT alerted RETURNING reads"

FLUSH_SECONDS = 2.0
FLUSH_READS = 50
NEAR_LIMIT = 0.9  # from this share of the limit on, every read is counted in the database


@dataclass(slots=True)
class _Tally:
    known: int = 0  # the shared count as of our last flush (ours and other processes')
    pending: int = 0  # our reads not yet added to it
    flushed_at: float = field(default_factory=time.monotonic)
    flushing: asyncio.Lock = field(default_factory=asyncio.Lock)


def _hour(number: int) -> datetime:
    return datetime.fromtimestamp(number * 3600, UTC)


class ReadVolume:
    def __init__(self) -> None:
        self._tallies: dict[tuple[str, int], _Tally] = {}

    async def count(self, transaction: Callable[[], AbstractAsyncContextManager[AsyncSession]], actor: str, n: int,
                    limit: int, *, raw: AsyncEngine | None = None) -> tuple[int, bool]:
        """Count `n` reads; returns (reads this hour as far as known, whether an alert is still
        to be raised this hour: True only on the first crossing seen in the database).
        `transaction()` gives the session to flush in; it is entered only when a flush is due.
        With `raw` (PostgreSQL's engine, the hot read path) a flush needs no session."""
        # Keyed by the hour's number: building the hour's datetime (and hashing it) on every
        # read cost more than the rest of the count.
        hour_number = int(time.time() // 3600)
        key = (actor, hour_number)
        tally = self._tallies.get(key)
        if tally is None:
            if len(self._tallies) > 10_000:  # past hours: forget them
                self._tallies = {k: v for k, v in self._tallies.items() if k[1] == hour_number}
            tally = self._tallies[key] = _Tally()
        if tally.known + tally.pending + n >= limit * NEAR_LIMIT:
            # Near the limit each read waits for its turn and is counted in the database on its
            # own, so the refusal lands on the read that crosses it (a read still waiting must
            # not be counted into the one ahead of it).
            async with tally.flushing:
                tally.pending += n
                return await self._flush(transaction, tally, actor, _hour(hour_number), limit, raw)
        tally.pending += n
        estimate = tally.known + tally.pending
        # One flush at a time per caller: reads that arrive while one runs leave theirs to the
        # next (under load every concurrent read used to start its own).
        due = tally.pending >= FLUSH_READS or time.monotonic() - tally.flushed_at >= FLUSH_SECONDS
        if not due or tally.flushing.locked():
            return estimate, False
        async with tally.flushing:
            return await self._flush(transaction, tally, actor, _hour(hour_number), limit, raw)

    async def _flush(self, transaction: Callable[[], AbstractAsyncContextManager[AsyncSession]], tally: _Tally,
                     actor: str, hour: datetime, limit: int, raw: AsyncEngine | None) -> tuple[int, bool]:
        taking, tally.pending = tally.pending, 0
        if raw is not None:
            try:
                ((reads, alerted),) = await fetch_raw(raw, _ADD_SQL, actor, hour, taking)
            except BaseException:
                tally.pending += taking  # not stored: counted again with the next flush
                raise
            tally.known, tally.flushed_at = reads, time.monotonic()
            first = reads > limit and not alerted and bool(await fetch_raw(raw, _ALERT_SQL, actor, hour))
            return reads + tally.pending, first
        try:
            async with transaction() as session:
                insert = pg_insert if session.bind.dialect.name == "postgresql" else sqlite_insert
                statement = insert(ReadCounter).values(actor=actor, hour=hour, reads=taking, alerted=False)
                statement = statement.on_conflict_do_update(
                    index_elements=["actor", "hour"], set_={"reads": ReadCounter.reads + taking}
                ).returning(ReadCounter.reads, ReadCounter.alerted)
                reads, alerted = (await session.execute(statement)).one()
                tally.known, tally.flushed_at = reads, time.monotonic()
                if reads > limit and not alerted:
                    await session.execute(ReadCounter.__table__.update()
                                          .where(ReadCounter.actor == actor, ReadCounter.hour == hour)
                                          .values(alerted=True))
                    return reads + tally.pending, True
                return reads + tally.pending, False
        except BaseException:
            tally.pending += taking  # not stored: counted again with the next flush
            raise
