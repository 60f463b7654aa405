"""Transactional outbox and its relay.

A service writes its state change and the events it owes in one transaction (``outbox`` rows,
with the exact bytes and headers to publish). The relay reads unpublished rows in id order,
publishes them (idempotent producer, acks=all), then marks them published. A crash between
publish and mark republishes the same ``ce_id``; consumers' inboxes drop the duplicate.

**One row per transaction and topic** (``outbox_batches``). A row holds the records one
transaction owes one topic, in order, as arrays (``event_ids``, ``keys``, ``values``, ``headers``;
``records`` of them). Marking a row sent is then one small write per transaction, not a rewrite of
every ~1 kB event: the arrays are stored out of line (TOAST) and an UPDATE of ``published_at`` leaves
them where they are. Per-record rows cost ingest's database ~11 s of a pilot replay in the mark
alone (docs/performance-notes.md, seventh pass). The relay publishes a row's records in array
order and rows in id order, so per key each topic keeps the order the writers committed.

**The per-record ``outbox``** of the previous releases stays while a rollout may still run pods
that write it (expand, then contract in a later release): the relay drains its rows before
``outbox_batches``'s, and its gauges and purge cover both.

A row may name a second topic (``copy_topic``) that gets the records flagged in ``copies``, with
the same key, value and headers: ingest's credit stream (``ingest.credit-facts.v1``) carries a
copy of some facts' events without storing their bytes twice.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from itertools import compress, repeat
from operator import itemgetter
from typing import Any

import orjson
from sqlalchemy import (
    BigInteger,
    Boolean,
    CheckConstraint,
    Column,
    DateTime,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Table,
    delete,
    func,
    select,
    text,
    union_all,
)
from sqlalchemy.dialects.postgresql import ARRAY, JSON, JSONB
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from carbon_common.bus.port import EventBus, Record
from carbon_common.metrics import OUTBOX_AGE, OUTBOX_PENDING, OUTBOX_RELAYED

log = logging.getLogger("carbon_common.outbox")

_outbox_metadata = MetaData()
#: every array holds one element per record (a one-dimensional array of n elements has cardinality n)
ARRAYS_MATCH = (
    'records > 0 AND cardinality(event_ids) = records AND cardinality(keys) = records AND cardinality("values") = records '
    "AND cardinality(headers) = records AND (copies IS NULL OR cardinality(copies) = records)"
)
#: the table definition; each service's migrations create it (see ``outbox_table``)
OUTBOX = Table(
    "outbox_batches",
    _outbox_metadata,
    Column("id", BigInteger, primary_key=True, autoincrement=True),
    Column("topic", String(200), nullable=False),
    #: how many records the row holds (the arrays' length; the relay sizes its takes by it)
    Column("records", Integer, nullable=False),
    #: the arrays are stored out of line and uncompressed (the migrations set ``STORAGE EXTERNAL``:
    #: pglz would cost the writers CPU for disk the 3-day retention does not need)
    Column("event_ids", ARRAY(String(64)), nullable=False),
    Column("keys", ARRAY(LargeBinary), nullable=False),
    Column("values", ARRAY(LargeBinary), nullable=False),
    #: each record's ``[[name, value], ...]`` as ``json``: validated when written (a malformed row
    #: would stall the relay), kept as the text it was written (``jsonb`` would parse it into its
    #: binary form and print it back for the relay, which parses it with orjson)
    Column("headers", ARRAY(JSON), nullable=False),
    #: a second topic that also gets the records flagged in ``copies`` (same key, value, headers)
    Column("copy_topic", String(200), nullable=True),
    Column("copies", ARRAY(Boolean), nullable=True),
    Column("created_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    Column("published_at", DateTime(timezone=True), nullable=True),
    Index("ix_outbox_batches_unpublished", "id", postgresql_where="published_at IS NULL"),
    CheckConstraint(ARRAYS_MATCH, name="arrays_match"),
)

#: the per-record outbox of the previous releases (one row per record). Kept while a rollout may
#: still run pods that write it; the relay drains it before ``OUTBOX``. A later release drops it.
LEGACY_OUTBOX = Table(
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

#: rows not yet published in both outboxes (a migrated service database; 0 means nothing is owed)
PENDING_ROWS_SQL = (
    "SELECT (SELECT count(*) FROM outbox WHERE published_at IS NULL)"
    " + (SELECT count(*) FROM outbox_batches WHERE published_at IS NULL)"
)


def outbox_table(metadata: MetaData) -> Table:
    """Copy the outbox tables into a service's metadata (what its migrations create); returns
    ``outbox_batches``, the one this release writes."""
    LEGACY_OUTBOX.to_metadata(metadata)
    return OUTBOX.to_metadata(metadata)


def add_to_outbox(session: AsyncSession, record: Record, event_id: str) -> None:
    """Stage one record; ``flush_outbox`` writes the staged records in the same transaction."""
    _pending(session).append(
        (
            event_id,
            record.topic,
            record.key,
            record.value,
            orjson.dumps([[k, v.decode()] for k, v in record.headers]).decode(),
        )
    )


def _pending(session: AsyncSession) -> list[tuple[str, str, bytes | None, bytes | None, str]]:
    rows: list[tuple[str, str, bytes | None, bytes | None, str]] | None = session.info.get("outbox_pending")
    if rows is None:
        rows = []
        session.info["outbox_pending"] = rows
    return rows


#: the staged records, one row per topic, each row's arrays in staging order; rows in the order of
#: their topic's first record
_FLUSH = text(
    'INSERT INTO outbox_batches (topic, records, event_ids, keys, "values", headers) '
    "SELECT topic, count(*), array_agg(event_id ORDER BY n), array_agg(key ORDER BY n), "
    "array_agg(value ORDER BY n), array_agg(headers ORDER BY n) "
    "FROM unnest(CAST(:event_ids AS varchar[]), CAST(:topics AS varchar[]), CAST(:keys AS bytea[]), "
    "CAST(:values AS bytea[]), CAST(:headers AS json[])) WITH ORDINALITY "
    "AS t(event_id, topic, key, value, headers, n) "
    "GROUP BY topic ORDER BY min(n)"
)


async def flush_outbox(session: AsyncSession) -> None:
    """Insert the staged records with one statement (one row per topic), before the commit."""
    rows: list[tuple[str, str, bytes | None, bytes | None, str]] | None = session.info.pop(
        "outbox_pending", None
    )
    if not rows:
        return
    event_ids, topics, keys, values, headers = (list(c) for c in zip(*rows, strict=True))
    await session.execute(
        _FLUSH, {"event_ids": event_ids, "topics": topics, "keys": keys, "values": values, "headers": headers}
    )


#: one fixed statement (prepared once per connection) takes the next rows and marks them sent,
#: inside the relay's transaction, which commits only once the bus has acknowledged the batch (a
#: failed publish rolls the mark back). A take is the oldest pending row and the rows after it
#: while the records before each stay under ``$1`` (at most ``$2`` rows are looked at). Rows another
#: relay holds are skipped; headers come back as the JSON text they were written as, for orjson.
#: Sent straight to asyncpg (``db.driver_connection``): SQLAlchemy's row processing was a tenth of
#: ingest's relay.
_TAKE = (
    "WITH pending AS (SELECT id, records FROM outbox_batches WHERE published_at IS NULL ORDER BY id LIMIT $2), "
    "pick AS (SELECT id FROM (SELECT id, sum(records) OVER (ORDER BY id) - records AS before FROM pending) s "
    "WHERE before < $1), "
    "batch AS (SELECT id FROM outbox_batches WHERE id IN (SELECT id FROM pick) AND published_at IS NULL "
    "FOR UPDATE SKIP LOCKED) "
    "UPDATE outbox_batches o SET published_at = now() FROM batch WHERE o.id = batch.id "
    'RETURNING o.id, o.topic, o.keys, o."values", o.headers::text[], o.copy_topic, o.copies'
)
#: rows looked at per take (the records cap usually stops it first)
_TAKE_ROWS = 1000
#: the per-record outbox's next rows (pods of the previous release may still write it)
_TAKE_LEGACY = (
    "WITH batch AS (SELECT id FROM outbox WHERE published_at IS NULL ORDER BY id LIMIT $1 "
    "FOR UPDATE SKIP LOCKED) "
    "UPDATE outbox o SET published_at = now() FROM batch WHERE o.id = batch.id "
    "RETURNING o.id, o.topic, o.key, o.value, o.headers::text"
)


def _headers(text: str) -> tuple[tuple[str, bytes], ...]:
    return tuple([(k, v.encode()) for k, v in orjson.loads(text)])


def _records(rows: Sequence[Any]) -> list[Record]:
    """The bus records of taken rows (``_TAKE``'s columns; RETURNING gives them in any order)."""
    out: list[Record] = []
    for row_id, topic, keys, values, headers_texts, copy_topic, copies in sorted(rows, key=itemgetter(0)):
        # the table's check constraint refuses such a row; never publish part of one
        if not len(keys) == len(values) == len(headers_texts) or (
            copies is not None and len(copies) != len(keys)
        ):
            raise ValueError(f"outbox row {row_id}: its arrays differ in length")
        headers = [_headers(h) for h in headers_texts]
        out += map(Record, repeat(topic), keys, values, headers)
        if copy_topic is not None and copies is not None:
            out += map(
                Record,
                repeat(copy_topic),
                compress(keys, copies),
                compress(values, copies),
                compress(headers, copies),
            )
    return out


class OutboxRelay:
    """Publishes outbox rows. One relay per service process; woken on commit, polls as fallback."""

    def __init__(
        self,
        sessions: async_sessionmaker[AsyncSession],
        bus: EventBus,
        service: str,
        batch_size: int = 5000,
        poll_interval: float = 0.5,
        retention: timedelta = timedelta(days=3),
        coalesce_s: float = 0.0,
    ) -> None:
        self._sessions = sessions
        self._bus = bus
        self._service = service
        #: records per take: a take is the oldest pending row (whatever its size) and the rows after
        #: it while the records before each stay under this
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
        #: whether the database still has the per-record ``outbox`` (looked up once)
        self._legacy: bool | None = None

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

    async def _has_legacy(self, session: AsyncSession) -> bool:
        """Whether the database still has the per-record ``outbox`` (looked up once per relay)."""
        if self._legacy is None:
            found = (await session.execute(text("SELECT to_regclass('outbox') IS NOT NULL"))).scalar()
            self._legacy = bool(found)
        return self._legacy

    async def relay_once(self) -> int:
        """Publish one take of pending rows; returns how many records were published (a record
        also sent to a row's ``copy_topic`` counts once)."""
        async with self._sessions() as session, session.begin():
            from carbon_common.db import driver_connection  # db imports this module

            conn = await driver_connection(session)
            legacy = await conn.fetch(_TAKE_LEGACY, self._batch) if await self._has_legacy(session) else []
            if legacy:  # the per-record rows first: written before this release's rows
                records = [
                    Record(t, k, v, _headers(h)) for _, t, k, v, h in sorted(legacy, key=itemgetter(0))
                ]
                rows = []
            else:
                rows = await conn.fetch(_TAKE, self._batch, _TAKE_ROWS)
                if not rows:
                    OUTBOX_PENDING.labels(self._service).set(0)
                    OUTBOX_AGE.labels(self._service).set(0)
                    return 0
                records = _records(rows)
            await self._bus.publish(records)
        OUTBOX_RELAYED.labels(self._service).inc(len(records))
        return len(legacy) or sum(len(r[2]) for r in rows)

    async def observe_backlog(self) -> None:
        """Set the backlog gauges: unpublished records and the age of the oldest (partial index
        scans), of both outboxes while the per-record one exists."""
        parts = [
            select(
                func.coalesce(func.sum(OUTBOX.c.records), 0).label("n"),
                func.min(OUTBOX.c.created_at).label("oldest"),
            ).where(OUTBOX.c.published_at.is_(None))
        ]
        async with self._sessions() as session:
            legacy = await self._has_legacy(session)
        if legacy:
            parts.append(
                select(func.count().label("n"), func.min(LEGACY_OUTBOX.c.created_at).label("oldest")).where(
                    LEGACY_OUTBOX.c.published_at.is_(None)
                )
            )
        both = union_all(*parts).subquery()
        async with self._sessions() as session:
            n, age = (
                await session.execute(
                    select(func.sum(both.c.n), func.extract("epoch", func.now() - func.min(both.c.oldest)))
                )
            ).one()
        OUTBOX_PENDING.labels(self._service).set(float(n or 0))
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
            if await self._has_legacy(session):
                await session.execute(delete(LEGACY_OUTBOX).where(LEGACY_OUTBOX.c.published_at < cutoff))

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
