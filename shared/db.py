"""Database plumbing shared by the four services: the declarative base, engines, sessions.

Every service owns its own tables but they share one `MetaData` (one Alembic history). Repositories
never commit; the request edge (`shared.deps.get_session`) commits once per request.
"""

from __future__ import annotations

import asyncio
import json
import operator
import os
import uuid
import weakref
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from typing import Any

import orjson
from asyncpg import PostgresError
from sqlalchemy import JSON, BigInteger, DateTime, Integer, MetaData, String, any_, bindparam, event
from sqlalchemy.dialects.postgresql import ARRAY, JSONB
from sqlalchemy.engine import Dialect
from sqlalchemy.ext.asyncio import (
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column
from sqlalchemy.types import TypeDecorator
from sqlalchemy.util import await_

# A 64-bit integer key (change versions, log sequence numbers, event ids): BIGINT on PostgreSQL,
# INTEGER on SQLite, whose INTEGER PRIMARY KEY is 64 bits already and the only type it autoincrements.
BigKey = BigInteger().with_variant(Integer(), "sqlite")

NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


def utcnow() -> datetime:
    return datetime.now(UTC)


def one_of(dialect: str, column: Any, values: list[str]) -> Any:
    """`column IN (values)`; on PostgreSQL `= ANY($1)` with one array parameter: an expanding IN
    of a thousand parameters costs more CPU to render than the statement costs to run, and is
    a new statement (no cached plan) for every count of values."""
    if dialect == "postgresql":
        return column == any_(bindparam(None, values, type_=ARRAY(String)))
    return column.in_(values)


def new_uuid() -> str:
    return str(uuid.uuid4())


def new_uuids(n: int) -> list[str]:
    """`n` random (version 4) UUIDs from one read of the OS's random source, not one each."""
    raw = os.urandom(16 * n)
    return [str(uuid.UUID(bytes=raw[i:i + 16], version=4)) for i in range(0, 16 * n, 16)]


class UTCDateTime(TypeDecorator[datetime]):
    """Timezone-aware UTC datetimes on every backend (SQLite drops the zone; we put it back)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given; use timezone-aware UTC")
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)
    type_annotation_map = {datetime: UTCDateTime(), dict[str, Any]: JSON, list[str]: JSON}


class TimestampMixin:
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)


async def copy_rows(session: AsyncSession, table: Any, rows: list[dict[str, Any]],
                    encoded: dict[int, str] | None = None) -> bool:
    """PostgreSQL: write `rows` (dicts with the same keys) with COPY in the session's transaction:
    several times faster than a multi-row INSERT of thousands of rows, whose parameters
    SQLAlchemy processes one by one. Returns False on other databases: the caller inserts.
    `encoded` (JSON text by `id()` of the value) lets calls that write the same values (a record's
    items and their versions) encode each once; the caller keeps the values alive meanwhile."""
    if session.bind.dialect.name != "postgresql" or not rows:
        return False
    columns = list(rows[0])
    json_columns = {c.name for c in table.columns if isinstance(c.type, JSON | JSONB)}
    cache: dict[int, str] = {} if encoded is None else encoded

    def as_json(value: Any) -> str:
        text = cache.get(id(value))
        if text is None:
            text = cache[id(value)] = json.dumps(value)
        return text

    # Each row's values in C (itemgetter), JSON encoded after: a generator per row was ~1% of a
    # bulk write's CPU (its log entries and enrollments).
    values = operator.itemgetter(*columns) if len(columns) > 1 else lambda r: (r[columns[0]],)
    json_at = [i for i, c in enumerate(columns) if c in json_columns]
    records: list[Any] = [values(r) for r in rows]
    if json_at:
        records = [list(record) for record in records]
        for record in records:
            for i in json_at:
                if record[i] is not None:
                    record[i] = as_json(record[i])
    await session.flush()
    connection = await session.connection()
    raw = (await connection.get_raw_connection()).driver_connection
    await raw.copy_records_to_table(table.name, records=records, columns=columns)
    return True


RAW_CONNECTIONS = 10  # per engine and process: statements `fetch_raw` runs at once


class RawConnections:
    """The connections `fetch_raw` runs its statements on: a few asyncpg connections opened
    through the engine's pool (so they are set up exactly as the ORM's) and then detached from it
    for good, kept in a plain list.

    Checking a connection out of SQLAlchemy's pool and back cost ~80 us of CPU per statement, and
    asyncpg's own pool ~190 us (its release runs a reset query); taking one off a list costs next
    to nothing. It also keeps the hot paths off the engine's overflow: a connection SQLAlchemy's
    pool closed on its return (beyond `pool_size`) was closed outside a greenlet, which failed
    (MissingGreenlet) and left the connection open. At most `size` statements run at once; more
    wait for a connection. A connection whose statement did not finish cleanly (cancelled, or the
    connection broke) is dropped, as its state is unknown; one the server refused a statement on
    (a `PostgresError`: no transaction is ever open on these) is kept."""

    def __init__(self, engine: AsyncEngine, size: int = RAW_CONNECTIONS) -> None:
        self.engine = engine
        self.slots = asyncio.Semaphore(size)
        self.idle: list[Any] = []  # asyncpg connections
        self.closed = False

    @asynccontextmanager
    async def connection(self) -> AsyncIterator[Any]:
        """One connection for several statements in a row (no transaction is begun for them)."""
        async with self.slots:
            connection = self.idle.pop() if self.idle else await self._open()
            try:
                yield connection
            except PostgresError:
                self._put_back(connection)
                raise
            except BaseException:
                connection.terminate()
                raise
            self._put_back(connection)

    async def fetch(self, sql: str, *args: Any) -> list[Any]:
        async with self.connection() as connection:
            return await connection.fetch(sql, *args)

    async def _open(self) -> Any:
        pooled = await self.engine.raw_connection()
        connection = pooled.driver_connection
        pooled.detach()  # the pool forgets it; closing it is ours now
        # The hot statements run here take IDs (and a date) as parameters: one plan fits every
        # value. Left to choose, PostgreSQL kept planning the read-context statement (nine
        # branches, ~0.7 ms of planning) for every batch, a third of its CPU per record read.
        await connection.execute("SET plan_cache_mode = force_generic_plan")
        return connection

    def _put_back(self, connection: Any) -> None:
        if self.closed or connection.is_closed():
            connection.terminate()
        else:
            self.idle.append(connection)

    def close(self) -> None:
        """Close the idle connections (the engine is being disposed); ones in use close when their
        statement ends."""
        self.closed = True
        idle, self.idle = self.idle, []
        for connection in idle:
            try:
                # Called from `AsyncEngine.dispose`, inside SQLAlchemy's greenlet: the connection can
                # say goodbye to the server properly.
                await_(connection.close(timeout=2))
            except Exception:  # noqa: BLE001 - outside a greenlet, or the server is gone
                connection.terminate()


_raw_connections: weakref.WeakKeyDictionary[Any, RawConnections] = weakref.WeakKeyDictionary()


def raw_connections(engine: AsyncEngine) -> RawConnections:
    """The engine's `RawConnections` (one per connection pool: `dispose` replaces the pool and
    closes these)."""
    pool = engine.sync_engine.pool
    raw = _raw_connections.get(pool)
    if raw is None:
        raw = _raw_connections[pool] = RawConnections(engine)
        event.listen(engine.sync_engine, "engine_disposed", lambda _engine: raw.close(), once=True)
    return raw


async def fetch_raw(engine: AsyncEngine, sql: str, *args: Any) -> list[Any]:
    """PostgreSQL: run one statement through asyncpg outside any transaction (autocommit) and
    return its records. For the hottest paths only: it skips the session, the transaction and the
    pool checkout (see `RawConnections`). `sql` numbers its parameters $1, $2 and so on."""
    return await raw_connections(engine).fetch(sql, *args)


class RawStatement:
    """A SQLAlchemy Core statement compiled once for PostgreSQL and run with `fetch_raw`, its
    bound parameters given by name. For a statement made on (nearly) every request."""

    def __init__(self, engine: AsyncEngine, statement: Any) -> None:
        compiled = statement.compile(dialect=engine.dialect)
        self.engine = engine
        self.sql = str(compiled)
        self.names = list(compiled.positiontup or ())
        self.constants = dict(compiled.params)

    async def fetch(self, **params: Any) -> list[Any]:
        values = {**self.constants, **params}
        return await fetch_raw(self.engine, self.sql, *(values[name] for name in self.names))


def json_loads(text: str | bytes) -> Any:
    """JSON columns as read back: orjson (identity's batch worker decodes two lists for every
    candidate it fetches; ~1 µs less per value, about 2% of the worker); the stdlib for what
    orjson refuses (integers past 64 bits), so every stored value still reads."""
    try:
        return orjson.loads(text)
    except orjson.JSONDecodeError:
        return json.loads(text)


def json_dumps(value: Any) -> str:
    """JSON text for a COPY into a JSON column: orjson (a batch writes tens of thousands of small
    lists and objects); the stdlib for what orjson refuses (integers past 64 bits)."""
    try:
        return orjson.dumps(value).decode()
    except TypeError:  # orjson.JSONEncodeError is one
        return json.dumps(value)


def create_engine(url: str, *, echo: bool = False) -> AsyncEngine:
    if url.startswith("sqlite"):
        engine = create_async_engine(url, echo=echo, connect_args={"timeout": 30}, json_deserializer=json_loads)
        _make_sqlite_transactional(engine)
        return engine
    # No pool_pre_ping: it costs a round trip on every checkout (~0.5 ms, a tenth of a record
    # read); connections are recycled instead, and one dropped by a server restart fails one
    # request with a 500 that the client may retry.
    # pool_size covers a worker's usual concurrency: a connection beyond it is closed on return,
    # and under load that meant a new PostgreSQL backend (fork, auth) for many requests.
    return create_async_engine(url, echo=echo, pool_recycle=1800, pool_size=20, max_overflow=10,
                               json_deserializer=json_loads)


def _make_sqlite_transactional(engine: AsyncEngine) -> None:
    """Let SQLAlchemy, not the sqlite3 driver, issue BEGIN: needed for SAVEPOINTs to work (test
    rollback per test) and for foreign keys to be enforced as on PostgreSQL. SQLite is the
    embedded single-process default: its transactions run one at a time."""

    @event.listens_for(engine.sync_engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA busy_timeout=30000")
        cursor.close()

    @event.listens_for(engine.sync_engine, "begin")
    def _on_begin(conn: Any) -> None:
        # IMMEDIATE: take the write lock at the start. Nearly every request writes (a read of a
        # record appends to the access log), and a deferred transaction that reads first cannot
        # upgrade while another holds the lock: SQLite answers "database is locked" at once
        # instead of waiting out busy_timeout.
        # A caller that only reads (the readiness probe) says so and does not queue for the lock.
        conn.exec_driver_sql("BEGIN" if conn.get_execution_options().get("slds_read_only") else "BEGIN IMMEDIATE")


def create_sessionmaker(engine: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    return async_sessionmaker(engine, expire_on_commit=False)


async def read_only(session: AsyncSession) -> None:
    """Mark a session that only reads, before its first statement: on SQLite it then does not
    queue for the write lock, which another service in the same process may hold while it calls
    this one (token verification, the ban list, opt-out lookups, ID status)."""
    await session.connection(execution_options={"slds_read_only": True})
