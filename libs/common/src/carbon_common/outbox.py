"""Transactional outbox and its relay.

A service writes its state change and the events it owes in one transaction (``outbox`` rows,
with the exact bytes and headers to publish). The relay reads unpublished rows in id order,
publishes them (idempotent producer, acks=all), then marks them published. A crash between
publish and mark republishes the same ``ce_id``; consumers' inboxes drop the duplicate.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta

import orjson
from sqlalchemy import (
    BigInteger,
    Column,
    DateTime,
    Index,
    LargeBinary,
    MetaData,
    String,
    Table,
    delete,
    func,
    select,
    text,
)
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from carbon_common.bus.port import EventBus, Record
from carbon_common.metrics import OUTBOX_AGE, OUTBOX_PENDING, OUTBOX_RELAYED

log = logging.getLogger("carbon_common.outbox")

_outbox_metadata = MetaData()
#: the table definition; each service's migrations create it (see ``outbox_table``)
OUTBOX = Table(
    "outbox",
    _outbox_metadata,
    Column("id", BigInteger, primary_key=True, autoincrement=True),
    Column("event_id", String(64), nullable=False),
    Column("topic", String(200), nullable=False),
    Column("key", LargeBinary, nullable=True),
    Column("value", LargeBinary, nullable=True),
    Column("headers", JSONB, nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    Column("published_at", DateTime(timezone=True), nullable=True),
    Index("ix_outbox_unpublished", "id", postgresql_where="published_at IS NULL"),
)


def outbox_table(metadata: MetaData) -> Table:
    """Copy the outbox table into a service's metadata (so its Alembic migration creates it)."""
    return OUTBOX.to_metadata(metadata)


def add_to_outbox(session: AsyncSession, record: Record, event_id: str) -> None:
    """Stage one record; ``flush_outbox`` bulk-inserts the staged rows in the same transaction."""
    _pending(session).append(
        {
            "event_id": event_id,
            "topic": record.topic,
            "key": record.key,
            "value": record.value,
            "headers": [[k, v.decode()] for k, v in record.headers],
        }
    )


def _pending(session: AsyncSession) -> list[dict[str, object]]:
    rows: list[dict[str, object]] | None = session.info.get("outbox_pending")
    if rows is None:
        rows = []
        session.info["outbox_pending"] = rows
    return rows


_FLUSH = text(
    "INSERT INTO outbox (event_id, topic, key, value, headers) "
    "SELECT * FROM unnest(CAST(:event_ids AS varchar[]), CAST(:topics AS varchar[]), "
    "CAST(:keys AS bytea[]), CAST(:values AS bytea[]), CAST(:headers AS jsonb[]))"
)


async def flush_outbox(session: AsyncSession) -> None:
    """Insert the staged outbox rows with one statement (arrays), before the commit."""
    rows: list[dict[str, object]] | None = session.info.pop("outbox_pending", None)
    if not rows:
        return
    await session.execute(
        _FLUSH,
        {
            "event_ids": [r["event_id"] for r in rows],
            "topics": [r["topic"] for r in rows],
            "keys": [r["key"] for r in rows],
            "values": [r["value"] for r in rows],
            "headers": [orjson.dumps(r["headers"]).decode() for r in rows],
        },
    )


#: one fixed statement (prepared once per connection) takes the next batch and marks it sent, inside
#: the relay's transaction, which commits only once the bus has acknowledged the batch (a failed
#: publish rolls the mark back). Rows another relay holds are skipped; headers come back as JSON
#: text for orjson. It replaced a ``SELECT ... FOR UPDATE SKIP LOCKED`` followed by an ``UPDATE``
#: of the same ids: the row locks were a second write of every row (docs/performance-notes.md).
#: Sent straight to asyncpg (``db.driver_connection``): SQLAlchemy's row processing was a tenth of
#: ingest's relay.
_TAKE = (
    "WITH batch AS (SELECT id FROM outbox WHERE published_at IS NULL ORDER BY id LIMIT $1 "
    "FOR UPDATE SKIP LOCKED) "
    "UPDATE outbox o SET published_at = now() FROM batch WHERE o.id = batch.id "
    "RETURNING o.id, o.topic, o.key, o.value, o.headers::text"
)


def _headers(text: str) -> tuple[tuple[str, bytes], ...]:
    return tuple([(k, v.encode()) for k, v in orjson.loads(text)])


class OutboxRelay:
    """Publishes outbox rows. One relay per service process; woken on commit, polls as fallback."""

    def __init__(
        self,
        sessions: async_sessionmaker[AsyncSession],
        bus: EventBus,
        service: str,
        batch_size: int = 2000,
        poll_interval: float = 0.5,
        retention: timedelta = timedelta(days=3),
        coalesce_s: float = 0.0,
    ) -> None:
        self._sessions = sessions
        self._bus = bus
        self._service = service
        self._batch = batch_size
        self._poll = poll_interval
        self._retention = retention
        self._wake = asyncio.Event()
        #: ``notify`` wakes the relay at most once per this many seconds (0: at every commit)
        self.coalesce_s = coalesce_s
        self._wake_pending = False
        self._task: asyncio.Task[None] | None = None
        self._stopping = False
        #: how often the backlog gauges (outbox_pending_records, ..._age_seconds) are sampled
        self.observe_interval = 5.0
        self._next_observe = 0.0
        self._next_purge = 0.0

    def notify(self) -> None:
        """A commit staged rows: wake the relay, at once or within ``coalesce_s``.

        Each relay round is a transaction of a few statements; woken after every commit of a
        busy consumer or of many small HTTP writes, the relay cost more CPU than the writes
        themselves (docs/performance-notes.md, accounting). Coalesced, the rows of every commit
        within ``coalesce_s`` go out in one round, at most ``coalesce_s`` later."""
        if self.coalesce_s <= 0:
            self._wake.set()
            return
        if not self._wake_pending:
            self._wake_pending = True
            asyncio.get_running_loop().call_later(self.coalesce_s, self._fire)

    def _fire(self) -> None:
        self._wake_pending = False
        self._wake.set()

    async def start(self) -> None:
        self._stopping = False
        self._task = asyncio.create_task(self._run(), name=f"outbox-relay:{self._service}")

    async def stop(self) -> None:
        self._stopping = True
        self._wake.set()
        if self._task is not None:
            try:
                await asyncio.wait_for(self._task, timeout=10)
            except (TimeoutError, asyncio.CancelledError):
                self._task.cancel()
            self._task = None

    def healthy(self) -> bool:
        return self._task is not None and not self._task.done()

    async def relay_once(self) -> int:
        """Publish one batch of pending rows; returns how many were published."""
        async with self._sessions() as session, session.begin():
            from carbon_common.db import driver_connection  # db imports this module

            conn = await driver_connection(session)
            rows = sorted(await conn.fetch(_TAKE, self._batch), key=lambda r: r[0])  # RETURNING: any order
            if not rows:
                OUTBOX_PENDING.labels(self._service).set(0)
                OUTBOX_AGE.labels(self._service).set(0)
                return 0
            # a fact written to two topics (ingest's credit stream) has byte-identical headers in
            # both rows: parse each distinct headers text once per batch
            parsed: dict[str, tuple[tuple[str, bytes], ...]] = {}
            records: Sequence[Record] = [
                Record(
                    topic, key, value, parsed.get(headers) or parsed.setdefault(headers, _headers(headers))
                )
                for _, topic, key, value, headers in rows
            ]
            await self._bus.publish(records)
        OUTBOX_RELAYED.labels(self._service).inc(len(rows))
        return len(rows)

    async def observe_backlog(self) -> None:
        """Set the backlog gauges: unpublished rows and the age of the oldest (partial index scan)."""
        async with self._sessions() as session:
            n, age = (
                await session.execute(
                    select(func.count(), func.extract("epoch", func.now() - func.min(OUTBOX.c.created_at)))
                    .select_from(OUTBOX)
                    .where(OUTBOX.c.published_at.is_(None))
                )
            ).one()
        OUTBOX_PENDING.labels(self._service).set(n)
        OUTBOX_AGE.labels(self._service).set(max(0.0, float(age or 0)))

    async def _maybe_observe(self) -> None:
        now = asyncio.get_running_loop().time()
        if now >= self._next_purge:
            # published rows are kept ``retention`` for audits and replays, then deleted, so
            # the table does not grow without bound (once an hour, off the hot path)
            self._next_purge = now + 3600
            try:
                await self.purge()
            except Exception:
                log.warning("outbox purge failed; retrying in an hour", exc_info=True)
        if now < self._next_observe:
            return
        self._next_observe = now + self.observe_interval
        try:
            await self.observe_backlog()
        except Exception:  # metrics must never stop the relay
            log.debug("outbox backlog sampling failed", exc_info=True)

    async def purge(self) -> None:
        """Delete rows published longer ago than the retention period."""
        cutoff = datetime.now(UTC) - self._retention
        async with self._sessions() as session, session.begin():
            await session.execute(delete(OUTBOX).where(OUTBOX.c.published_at < cutoff))

    async def _run(self) -> None:
        delay = 0.1
        while True:
            await self._maybe_observe()
            try:
                n = await self.relay_once()
                delay = 0.1
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("outbox relay failed; retrying", extra={"service": self._service})
                await asyncio.sleep(delay)
                delay = min(delay * 2, 5.0)
                continue
            if n:
                continue
            if self._stopping:
                return
            self._wake.clear()
            try:
                await asyncio.wait_for(self._wake.wait(), timeout=self._poll)
            except TimeoutError:
                pass
