"""Async database helpers (SQLAlchemy 2 + asyncpg): engine, sessions, unit of work base.

The unit of work commits once, at the boundary; the events a use case owes are added to the
same transaction as outbox rows (``UnitOfWork.emit``), and the relay is woken after commit.
"""

from __future__ import annotations

import gc
import os
import time
from collections.abc import Callable, Iterator, Sequence
from types import TracebackType
from typing import Any, Self

from opentelemetry import trace
from opentelemetry.trace import SpanKind, Status, StatusCode
from sqlalchemy import MetaData, event, text
from sqlalchemy.exc import DisconnectionError
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker, create_async_engine

from carbon_common import faults
from carbon_common.bus.port import Record, to_record
from carbon_common.events.envelope import Envelope
from carbon_common.outbox import add_to_outbox, flush_outbox
from carbon_common.settings import PostgresSettings
from carbon_common.telemetry import current_traceparent

NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


def _uuid4_strings() -> Iterator[str]:
    """Random (version 4) UUID strings, 128 at a time from one ``os.urandom`` call."""
    variant = "89ab"
    while True:
        h = os.urandom(2048).hex()
        for i in range(0, 4096, 32):
            yield f"{h[i : i + 8]}-{h[i + 8 : i + 12]}-4{h[i + 13 : i + 16]}-{variant[int(h[i + 16], 16) & 3]}{h[i + 17 : i + 20]}-{h[i + 20 : i + 32]}"


def _uuid7_strings() -> Iterator[str]:
    """Time-ordered (version 7, RFC 9562) UUID strings: the millisecond clock, then 74 random bits
    (128 ids per ``os.urandom`` call, like ``_uuid4_strings``)."""
    variant = "89ab"
    clock = time.time_ns
    while True:
        h = os.urandom(2048).hex()
        for i in range(0, 4096, 32):
            ms = f"{clock() // 1_000_000:012x}"
            yield f"{ms[:8]}-{ms[8:]}-7{h[i + 13 : i + 16]}-{variant[int(h[i + 16], 16) & 3]}{h[i + 17 : i + 20]}-{h[i + 20 : i + 32]}"


_uuid4_stream = _uuid4_strings()
_uuid7_stream = _uuid7_strings()


def _reseed_after_fork() -> None:
    global _uuid4_stream, _uuid7_stream
    _uuid4_stream = _uuid4_strings()  # a forked child must not replay the parent's buffer
    _uuid7_stream = _uuid7_strings()


os.register_at_fork(after_in_child=_reseed_after_fork)


def new_id() -> str:
    """A random UUID (version 4, canonical text), ~5x cheaper than ``str(uuid.uuid4())``: the
    hot paths draw two per fact (fact id, event id), and one ``getrandom`` syscall each showed up
    as a sixth of ingest's submission CPU."""
    return next(_uuid4_stream)


def time_ordered_id() -> str:
    """A UUID version 7 (canonical text): the millisecond clock first, so ids drawn together sort
    together and a B-tree keyed by them grows at its right edge instead of on random pages (ingest's
    fact and submission ids: docs/performance-notes.md). Ids sort by time only roughly (same
    millisecond: random order; several processes: interleaved); only their uniqueness is relied on."""
    return next(_uuid7_stream)


def tune_gc(young_threshold: int = 20_000) -> None:
    """Make the cyclic garbage collector cheap for batch work; call once after start-up.

    A batch allocates a few hundred thousand container objects (rows, records, envelopes). With
    CPython's default thresholds (700, 10, 10) that triggers thousands of young collections and
    a couple of dozen full ones per run, and each full one walks the whole start-up heap
    (SQLAlchemy, pydantic, FastAPI, OpenTelemetry: ~10^6 objects). ``gc.freeze()`` moves the
    start-up heap out of the collector's sight; a larger young threshold collects per batch
    rather than per few hundred rows. Measured on ingest's submission benchmark:
    throughput +25-55 % (docs/performance-notes.md). Nothing is leaked: cycles are still collected.
    """
    gc.collect()
    gc.freeze()
    _, middle, old = gc.get_threshold()
    gc.set_threshold(young_threshold, middle, old)


def new_metadata() -> MetaData:
    return MetaData(naming_convention=NAMING_CONVENTION)


#: a pooled connection idle for longer than this is pinged before it is handed out
PING_AFTER_IDLE_S = 1.0


def create_engine(settings: PostgresSettings) -> AsyncEngine:
    engine = create_async_engine(
        settings.url.get_secret_value(),
        pool_size=settings.pool_size,
        max_overflow=settings.max_overflow,
        echo=settings.echo,
    )
    ping_idle_connections(engine, PING_AFTER_IDLE_S)
    return engine


def ping_idle_connections(engine: AsyncEngine, idle_s: float) -> None:
    """Pessimistic disconnect handling, but only for connections that sat idle.

    SQLAlchemy's ``pool_pre_ping`` pings on *every* checkout, and the asyncpg adapter's ping is
    three round trips (BEGIN, ``;``, ROLLBACK): on a busy consumer that was ~6 % of the embedded
    demo's CPU. A connection that was checked in less than ``idle_s`` ago was just used
    successfully, so only older ones are pinged; a failed ping raises ``DisconnectionError`` and
    the pool replaces the connection. A connection that breaks while busy (server restart
    mid-flight) fails its statement as a disconnect, which invalidates the pool, and the caller's
    retry (consumers) or the client (HTTP 503) handles it as before.
    """
    sync_engine = engine.sync_engine

    @event.listens_for(sync_engine, "checkin")
    def _checked_in(dbapi_connection: Any, record: Any) -> None:
        record.info["idle_since"] = time.monotonic()

    @event.listens_for(sync_engine, "checkout")
    def _checked_out(dbapi_connection: Any, record: Any, proxy: Any) -> None:
        since = record.info.get("idle_since")
        if since is None or time.monotonic() - since < idle_s:
            return
        try:
            dbapi_connection.ping()
        except Exception as exc:
            raise DisconnectionError("idle connection failed its ping") from exc


async def ping(engine: AsyncEngine) -> bool:
    try:
        async with engine.connect() as conn:
            await conn.execute(text("SELECT 1"))
        return True
    except Exception:
        return False


class UnitOfWork:
    """One transaction. Subclasses add repositories in ``_bind(session)``.

    ``emit`` stages an event in the outbox of the same transaction; nothing is published
    before ``commit``. Leaving the block without ``commit`` rolls back.
    """

    def __init__(
        self,
        sessions: async_sessionmaker[AsyncSession],
        source: str,
        on_commit: Callable[[], None] | None = None,
    ) -> None:
        self._sessions = sessions
        self.source = source
        self._on_commit = on_commit
        self.session: AsyncSession
        self._emitted = 0

    async def __aenter__(self) -> Self:
        self.session = self._sessions()
        self._emitted = 0
        self._bind(self.session)
        return self

    async def __aexit__(
        self, et: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        try:
            await self.session.rollback()
        finally:
            await self.session.close()

    def _bind(self, session: AsyncSession) -> None:
        """Attach repositories to the session (override)."""

    def emit(self, event: Any) -> Envelope[Any]:
        """Stage an event (a contract ``Event``) for publication with this transaction."""
        env: Envelope[Any] = Envelope(
            data=event, source=self.source, id=new_id(), traceparent=current_traceparent()
        )
        self.stage(to_record(env), env.id)
        return env

    def stage(self, record: Record, event_id: str) -> None:
        """Stage an already-encoded record (e.g. a dead-letter copy) in this transaction's outbox."""
        add_to_outbox(self.session, record, event_id)
        self._emitted += 1

    async def commit(self) -> None:
        await flush_outbox(self.session)
        await self.session.flush()
        await faults.point("uow.before_commit")
        await self.session.commit()
        if self._emitted and self._on_commit is not None:
            self._on_commit()
        self._emitted = 0

    async def rollback(self) -> None:
        await self.session.rollback()


async def driver_connection(session: AsyncSession) -> Any:
    """The asyncpg connection under ``session``, inside the session's transaction.

    Hot paths send fixed statements straight to it (prepared once per connection, no SQLAlchemy
    compile or row processing per call). SQLAlchemy's asyncpg adapter sends BEGIN lazily, with
    its first statement: a statement sent to asyncpg before that would run outside the unit of
    work's transaction (and an advisory xact lock would be released at once), so the transaction
    is started here first."""
    conn = await session.connection()
    raw = await conn.get_raw_connection()
    adapter: Any = raw.dbapi_connection
    if not hasattr(adapter, "_started"):  # another adapter version: let SQLAlchemy begin
        if not session.info.get("begun"):
            await session.execute(text("SELECT 1"))
            session.info["begun"] = True
    elif not adapter._started:
        await adapter._start_transaction()
    return raw.driver_connection


_SQL_TRACER = trace.get_tracer("carbon_common.sql")


def _statement_span(statement: str) -> Any:
    """The CLIENT span SQLAlchemy's instrumentation gives its own statements (named by the
    statement's first word; ``db.system``, ``db.statement``), or None when nobody would record it.

    Only under a recording span (a request's, a consumed batch's): with no tracer provider, or
    outside any request or batch (where the sampler drops CLIENT spans anyway: the outbox relay's
    polling), a statement costs one context lookup and no span object."""
    if not trace.get_current_span().is_recording():
        return None
    return _SQL_TRACER.start_span(
        statement.split(None, 1)[0],
        kind=SpanKind.CLIENT,
        attributes={"db.system": "postgresql", "db.statement": statement},
    )


def _failed(span: Any, exc: Exception) -> None:
    span.record_exception(exc)
    span.set_status(Status(StatusCode.ERROR, f"{type(exc).__name__}: {exc}"))


class TracedConnection:
    """A view of an asyncpg connection whose statements are traced like SQLAlchemy's.

    Hot paths send fixed statements to asyncpg directly (``driver_connection``), which bypasses
    SQLAlchemy's OpenTelemetry instrumentation; through this view each ``fetch``, ``fetchrow``,
    ``fetchval``, ``execute`` and ``executemany`` is a CLIENT span, child of the current span, so
    a trace still shows every statement of a request or batch (``_statement_span``). The span is
    not made current (nothing runs under it) and ends when the statement returns; a statement that
    fails marks it as an error. ``raw`` is the asyncpg connection itself (untraced).
    """

    __slots__ = ("raw",)

    def __init__(self, raw: Any) -> None:
        self.raw = raw

    async def _traced(self, method: str, query: str, *args: Any, **kwargs: Any) -> Any:
        call = getattr(self.raw, method)
        span = _statement_span(query)
        if span is None:
            return await call(query, *args, **kwargs)
        try:
            return await call(query, *args, **kwargs)
        except Exception as exc:
            _failed(span, exc)
            raise
        finally:
            span.end()

    async def fetch(self, query: str, *args: Any, timeout: float | None = None) -> list[Any]:
        rows: list[Any] = await self._traced("fetch", query, *args, timeout=timeout)
        return rows

    async def fetchrow(self, query: str, *args: Any, timeout: float | None = None) -> Any:
        return await self._traced("fetchrow", query, *args, timeout=timeout)

    async def fetchval(self, query: str, *args: Any, column: int = 0, timeout: float | None = None) -> Any:
        return await self._traced("fetchval", query, *args, column=column, timeout=timeout)

    async def execute(self, query: str, *args: Any, timeout: float | None = None) -> str:
        status: str = await self._traced("execute", query, *args, timeout=timeout)
        return status

    async def executemany(
        self, command: str, args: Sequence[Sequence[Any]], *, timeout: float | None = None
    ) -> None:
        await self._traced("executemany", command, args, timeout=timeout)


async def traced_connection(session: AsyncSession) -> TracedConnection:
    """``driver_connection(session)`` behind a ``TracedConnection``: what the services' hot paths
    send their direct statements to."""
    return TracedConnection(await driver_connection(session))
