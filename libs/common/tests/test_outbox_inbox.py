"""Outbox and inbox against a real PostgreSQL (PG_URL_BASE; fails when it is missing)."""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from typing import Any

import pytest
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from carbon_common.bus import Decoded, Subscription, envelope_decoder
from carbon_common.bus.memory import InMemoryBus
from carbon_common.db import UnitOfWork, create_engine, new_metadata
from carbon_common.events import FactRecorded, Topics
from carbon_common.events.examples import EXAMPLES
from carbon_common.inbox import claim, inbox_table
from carbon_common.outbox import OUTBOX, OutboxRelay, outbox_table
from carbon_common.settings import PostgresSettings
from carbon_common.testing import drop_database, fresh_database

pytestmark = pytest.mark.integration


@pytest.fixture
async def sessions() -> AsyncIterator[async_sessionmaker[AsyncSession]]:
    url = await fresh_database("common")
    md = new_metadata()
    outbox_table(md)
    inbox_table(md)
    engine = create_engine(PostgresSettings(url=url))  # type: ignore[arg-type]
    async with engine.begin() as conn:
        await conn.run_sync(md.create_all)
    yield async_sessionmaker(engine, expire_on_commit=False)
    await engine.dispose()
    await drop_database(url)


async def test_nothing_is_staged_without_commit(sessions: async_sessionmaker[AsyncSession]) -> None:
    async with UnitOfWork(sessions, "test") as uow:
        uow.emit(EXAMPLES[FactRecorded])
    async with sessions() as s:
        assert (await s.execute(select(func.count()).select_from(OUTBOX))).scalar_one() == 0


async def test_relay_publishes_committed_events_once_and_inbox_drops_duplicates(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    bus = InMemoryBus()
    applied: list[str] = []

    async def handler(batch: Sequence[Decoded[Any]]) -> None:
        async with UnitOfWork(sessions, "consumer") as uow:
            fresh = await claim(uow.session, "consumer:facts", [d.item.id for d in batch])
            applied.extend(d.item.id for d in batch if d.item.id in fresh)
            await uow.commit()

    bus.subscribe(Subscription("consumer", [Topics.FACTS], envelope_decoder(), handler))
    relay = OutboxRelay(sessions, bus, "test")
    await bus.start()
    async with UnitOfWork(sessions, "producer", on_commit=relay.notify) as uow:
        ids = [uow.emit(EXAMPLES[FactRecorded]).id for _ in range(3)]
        await uow.commit()
    assert await relay.relay_once() == 3
    assert await relay.relay_once() == 0
    await bus.drain()
    # a relay crash between publish and mark republishes: simulate by publishing again
    await bus.publish(bus.records(Topics.FACTS))
    await bus.drain()
    await bus.stop()
    assert sorted(applied) == sorted(ids)
    async with sessions() as s:
        pending = await s.execute(
            select(func.count()).select_from(OUTBOX).where(OUTBOX.c.published_at.is_(None))
        )
        assert pending.scalar_one() == 0


async def test_purge_deletes_only_rows_published_before_the_retention(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    from datetime import timedelta

    from sqlalchemy import update

    bus = InMemoryBus()
    relay = OutboxRelay(sessions, bus, "test", retention=timedelta(hours=1))
    for _ in range(3):  # three transactions, three rows
        async with UnitOfWork(sessions, "producer") as uow:
            uow.emit(EXAMPLES[FactRecorded])
            await uow.commit()
    assert await relay.relay_once() == 3
    async with UnitOfWork(sessions, "producer") as uow:
        uow.emit(EXAMPLES[FactRecorded])  # stays unpublished
        await uow.commit()
    async with sessions() as s, s.begin():
        oldest = (await s.execute(select(func.min(OUTBOX.c.id)))).scalar_one()
        await s.execute(
            update(OUTBOX).where(OUTBOX.c.id == oldest).values(published_at=func.now() - timedelta(hours=2))
        )
    await relay.purge()
    async with sessions() as s:
        left = (await s.execute(select(func.count()).select_from(OUTBOX))).scalar_one()
        pending = (
            await s.execute(select(func.count()).select_from(OUTBOX).where(OUTBOX.c.published_at.is_(None)))
        ).scalar_one()
    assert (left, pending) == (3, 1)


class _FailingBus(InMemoryBus):
    """Refuses every publish (a broker that is down)."""

    async def publish(self, records: Sequence[Any]) -> None:
        raise ConnectionError("broker unavailable")


async def test_a_failed_publish_leaves_the_batch_unsent_and_a_later_round_sends_it_in_order(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    ids = []
    for _ in range(5):  # five transactions, five rows of one record
        async with UnitOfWork(sessions, "producer") as uow:
            ids.append(uow.emit(EXAMPLES[FactRecorded]).id)
            await uow.commit()
    with pytest.raises(ConnectionError):
        await OutboxRelay(sessions, _FailingBus(), "test", batch_size=3).relay_once()
    async with sessions() as s:
        pending = (
            await s.execute(select(func.count()).select_from(OUTBOX).where(OUTBOX.c.published_at.is_(None)))
        ).scalar_one()
    assert pending == 5  # the mark of the failed round was rolled back
    bus = InMemoryBus()
    relay = OutboxRelay(sessions, bus, "test", batch_size=3)
    assert [await relay.relay_once() for _ in range(3)] == [3, 2, 0]
    sent = [dict(r.headers)["ce_id"].decode() for r in bus.records(Topics.FACTS)]
    assert sent == ids  # outbox (commit) order, across two rounds


async def test_a_transaction_is_one_row_per_topic_and_takes_are_sized_by_records(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    """A transaction's records go in one row per topic, in staging order (rows in the order of each
    topic's first record); a take is the oldest row whatever its size, then rows while the records
    before them stay under the batch size."""
    from carbon_common.events import AccountUpdated

    async with UnitOfWork(sessions, "producer") as uow:
        first = [uow.emit(EXAMPLES[FactRecorded]).id, uow.emit(EXAMPLES[AccountUpdated]).id]
        first += [uow.emit(EXAMPLES[FactRecorded]).id for _ in range(2)]
        await uow.commit()
    later = []
    for _ in range(2):
        async with UnitOfWork(sessions, "producer") as uow:
            later.append(uow.emit(EXAMPLES[FactRecorded]).id)
            await uow.commit()
    async with sessions() as s:
        rows = (
            await s.execute(
                select(OUTBOX.c.topic, OUTBOX.c.records, OUTBOX.c.event_ids).order_by(OUTBOX.c.id)
            )
        ).all()
    assert [tuple(r) for r in rows] == [
        (Topics.FACTS, 3, [first[0], first[2], first[3]]),
        (Topics.ACCOUNTS, 1, [first[1]]),
        (Topics.FACTS, 1, [later[0]]),
        (Topics.FACTS, 1, [later[1]]),
    ]
    bus = InMemoryBus()
    relay = OutboxRelay(sessions, bus, "test", batch_size=2)
    # 3 records (the first row alone: it is over the size), then 1 + 1 (the accounts row, then the
    # next row: 1 record before it, under 2), then the last, then nothing
    assert [await relay.relay_once() for _ in range(4)] == [3, 2, 1, 0]
    sent = [dict(r.headers)["ce_id"].decode() for r in bus.records(Topics.FACTS)]
    assert sent == [first[0], first[2], first[3], *later]
    assert [dict(r.headers)["ce_id"].decode() for r in bus.records(Topics.ACCOUNTS)] == [first[1]]


async def test_a_row_with_a_copy_topic_is_published_to_both_topics_in_row_order(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    """The records flagged in ``copies`` go to ``copy_topic`` too, with the same key, value and
    headers, in the row's order (one key: the bus keeps order per key); the take counts each record once. A row whose arrays differ in
    length is refused by the table (the relay would otherwise publish part of it)."""
    from sqlalchemy import text

    n = 5
    async with sessions() as s, s.begin():
        await s.execute(
            text(
                'INSERT INTO outbox_batches (topic, records, event_ids, keys, "values", headers, copy_topic, copies) '
                "VALUES (:t, :n, :ids, :keys, :values, CAST(:headers AS json[]), :copy, :copies)"
            ),
            {
                "t": Topics.FACTS,
                "n": n,
                "ids": [f"e{i}" for i in range(n)],
                "keys": [b"k"] * n,
                "values": [b'{"n":%d}' % i for i in range(n)],
                "headers": [f'[["ce_id", "e{i}"], ["h", "x"]]' for i in range(n)],
                "copy": Topics.CREDIT_FACTS,
                "copies": [i % 2 == 1 for i in range(n)],
            },
        )
    bus = InMemoryBus()
    relay = OutboxRelay(sessions, bus, "test")
    assert await relay.relay_once() == 5
    facts, credit = bus.records(Topics.FACTS), bus.records(Topics.CREDIT_FACTS)
    assert [r.value for r in facts] == [b'{"n":%d}' % i for i in range(n)]
    assert [(r.key, r.value, tuple(r.headers)) for r in credit] == [
        (b"k", b'{"n":%d}' % i, (("ce_id", f"e{i}".encode()), ("h", b"x"))) for i in (1, 3)
    ]
    assert await relay.relay_once() == 0
    from sqlalchemy.exc import IntegrityError

    with pytest.raises(IntegrityError, match="ck_outbox_batches_arrays_match"):
        async with sessions() as s, s.begin():
            await s.execute(
                text(
                    'INSERT INTO outbox_batches (topic, records, event_ids, keys, "values", headers) '
                    "VALUES ('t', 2, ARRAY['a', 'b'], ARRAY['\\x00'::bytea, NULL], ARRAY['\\x00'::bytea], "
                    "ARRAY['[]', '[]']::json[])"
                )
            )


async def test_rows_of_the_per_record_outbox_go_first_and_count_in_the_gauges(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    """During a rollout, pods of the previous release still write the per-record ``outbox``: the
    relay publishes its rows before ``outbox_batches``'s (they were written first), counts them in
    the backlog gauge and purges them after the retention like its own."""
    from datetime import timedelta

    from prometheus_client import REGISTRY
    from sqlalchemy import text

    async with sessions() as s, s.begin():
        for i in range(3):
            await s.execute(
                text(
                    "INSERT INTO outbox (event_id, topic, key, value, headers) VALUES (:e, :t, 'k', :v, :h)"
                ),
                {"e": f"old{i}", "t": Topics.FACTS, "v": b"old%d" % i, "h": f'[["ce_id", "old{i}"]]'},
            )
    async with UnitOfWork(sessions, "producer") as uow:
        new = uow.emit(EXAMPLES[FactRecorded]).id
        await uow.commit()
    bus = InMemoryBus()
    relay = OutboxRelay(sessions, bus, "legacy-test", batch_size=2, retention=timedelta(0))
    await relay.observe_backlog()
    assert REGISTRY.get_sample_value("outbox_pending_records", {"service": "legacy-test"}) == 4
    assert [await relay.relay_once() for _ in range(4)] == [2, 1, 1, 0]
    sent = [dict(r.headers)["ce_id"].decode() for r in bus.records(Topics.FACTS)]
    assert sent == ["old0", "old1", "old2", new]
    await relay.purge()
    async with sessions() as s:
        left = (
            await s.execute(
                text("SELECT (SELECT count(*) FROM outbox) + (SELECT count(*) FROM outbox_batches)")
            )
        ).scalar()
    assert left == 0
