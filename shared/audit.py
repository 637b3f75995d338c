"""Append-only, hash-chained logs (access log, disclosure log), one table per service.

Each entry's hash covers its own content and the previous entry's hash, so editing or deleting a
row breaks the chain from that row on, and `verify_chain` names the first bad sequence number.
Appends are serialised per chain (PostgreSQL advisory lock / SQLite write lock) so the sequence
has no gaps or forks under concurrency. A truncated tail is caught against a signed checkpoint of
the head kept outside the table (the tamper-evidence issue builds that on `chain_head`).
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import String, Text, select, text
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Mapped, mapped_column

from shared.db import utcnow

GENESIS = "0" * 64


class ChainedLogMixin:
    seq: Mapped[int] = mapped_column(primary_key=True, autoincrement=False)
    at: Mapped[datetime]
    actor: Mapped[str] = mapped_column(String(200))
    action: Mapped[str] = mapped_column(String(64))
    request_id: Mapped[str | None] = mapped_column(String(64))
    payload: Mapped[str] = mapped_column(Text)  # canonical JSON: what was accessed, never field values
    prev_hash: Mapped[str] = mapped_column(String(64))
    hash: Mapped[str] = mapped_column(String(64))


def canonical(payload: dict[str, Any]) -> str:
    return json.dumps(payload, sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=str)


def entry_hash(prev_hash: str, seq: int, at: datetime, actor: str, action: str,
               request_id: str | None, payload: str) -> str:
    material = "\x1f".join([prev_hash, str(seq), at.isoformat(), actor, action, request_id or "", payload])
    return hashlib.sha256(material.encode()).hexdigest()


async def lock_chain(session: AsyncSession, model: type[ChainedLogMixin]) -> None:
    """Hold the chain's append lock until the transaction ends (re-entrant within it). A service
    that must order other writes with its log (records' change versions) takes it first."""
    table = model.__tablename__  # type: ignore[attr-defined]
    if session.bind.dialect.name == "postgresql":
        await session.execute(text("SELECT pg_advisory_xact_lock(hashtext(:t))"), {"t": table})
    else:
        await session.execute(text(f"UPDATE {table} SET seq = seq WHERE 0 = 1"))  # take the write lock


async def append(session: AsyncSession, model: type[ChainedLogMixin], *, actor: str, action: str,
                 payload: dict[str, Any], request_id: str | None,
                 index_columns: dict[str, Any] | None = None) -> ChainedLogMixin:
    """Append one entry. `index_columns` fill a log table's own lookup columns (copies of what the
    hashed payload already says, for indexed search)."""
    await lock_chain(session, model)
    last = (await session.execute(select(model.seq, model.hash).order_by(model.seq.desc()).limit(1))).first()
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
    last = (await session.execute(select(model.seq, model.hash).order_by(model.seq.desc()).limit(1))).first()
    seq, prev = (last[0], last[1]) if last else (0, GENESIS)
    at = utcnow()
    rows = []
    for entry in entries:
        seq += 1
        body = canonical(entry["payload"])
        digest = entry_hash(prev, seq, at, actor, entry["action"], request_id, body)
        rows.append(model(seq=seq, at=at, actor=actor, action=entry["action"], request_id=request_id,  # type: ignore[call-arg]
                          payload=body, prev_hash=prev, hash=digest, **entry.get("index_columns", {})))
        prev = digest
    session.add_all(rows)
    await session.flush()


@dataclass(frozen=True)
class ChainReport:
    ok: bool
    entries: int
    first_bad_seq: int | None = None
    problem: str | None = None
    head_hash: str = GENESIS


async def verify_chain(session: AsyncSession, model: type[ChainedLogMixin], batch: int = 5000) -> ChainReport:
    prev, expected_seq, count, after = GENESIS, 1, 0, 0
    while True:
        rows = (await session.scalars(select(model).where(model.seq > after).order_by(model.seq).limit(batch))).all()
        if not rows:
            return ChainReport(True, count, head_hash=prev)
        for row in rows:
            if row.seq != expected_seq:
                return ChainReport(False, count, expected_seq, "missing entry", prev)
            if row.prev_hash != prev:
                return ChainReport(False, count, row.seq, "broken link", prev)
            if row.hash != entry_hash(row.prev_hash, row.seq, row.at, row.actor, row.action,
                                      row.request_id, row.payload):
                return ChainReport(False, count, row.seq, "content changed", prev)
            prev, expected_seq, after, count = row.hash, row.seq + 1, row.seq, count + 1

