"""One contract suite for the event bus, run against both adapters.

The in-process bus (embedded mode, fast tests) and the Kafka bus (real broker from
``KAFKA_BOOTSTRAP``) must behave the same for what the services rely on: delivery in key order,
consumer-group semantics, dead-lettering with the original bytes, retry of transient errors,
isolation of a record that can never be applied, no redelivery after commit.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator, Callable, Sequence
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import pytest

from carbon_common.bus import Decoded, PoisonRecord, Record, Subscription, envelope_decoder, to_record
from carbon_common.bus.kafka import KafkaBus, ensure_topics
from carbon_common.bus.memory import InMemoryBus
from carbon_common.events import Envelope, FactRecorded, Topics
from carbon_common.settings import KafkaSettings
from carbon_common.testing import kafka_bootstrap

CODE_A = "91140400MA0GRPWX3R"
CODE_B = "91140200MA0H2J3U78"


def fact(i: int, code: str = CODE_A, topic: str | None = None) -> Envelope[FactRecorded]:
    return Envelope(
        data=FactRecorded(
            fact_id=f"f{i}",
            fact_key=f"stats-140400/r{i}",
            credit_code=code,
            department="stats-140400",
            record_id=f"r{i}",
            indicator="energy.raw_coal",
            period="2024-01",
            value=Decimal(i),
            unit="t",
            evidence_hash="h",
            recorded_at=datetime(2024, 2, 1, tzinfo=UTC),
        ),
        source="test",
    )


class BusHarness:
    """Builds a bus of one kind on unique topic names, so runs never see each other's data."""

    def __init__(self, kind: str) -> None:
        self.kind = kind
        self.topic = f"contract.{uuid.uuid4().hex[:8]}"
        self.buses: list[Any] = []

    async def prepare(self) -> None:
        if self.kind == "kafka":
            await ensure_topics(self.settings(), [self.topic, Topics.dlq(self.topic)], partitions=3)

    def settings(self) -> KafkaSettings:
        return KafkaSettings(bootstrap_servers=kafka_bootstrap(), poll_timeout_ms=100, max_batch=50)

    def new_bus(self) -> Any:
        bus: Any = KafkaBus(self.settings()) if self.kind == "kafka" else InMemoryBus(partitions=3)
        self.buses.append(bus)
        return bus

    def record(self, env: Envelope[Any]) -> Record:
        r = to_record(env)
        return Record(self.topic, r.key, r.value, r.headers)

    async def close(self) -> None:
        for b in self.buses:
            await b.stop()


@pytest.fixture(params=["memory", pytest.param("kafka", marks=pytest.mark.integration)])
async def harness(request: pytest.FixtureRequest) -> AsyncIterator[BusHarness]:
    h = BusHarness(request.param)
    await h.prepare()
    yield h
    await h.close()


async def wait_for(cond: Callable[[], bool], timeout: float = 30.0) -> None:
    loop = asyncio.get_running_loop()
    end = loop.time() + timeout
    while not cond():
        if loop.time() > end:
            raise AssertionError("condition not met in time")
        await asyncio.sleep(0.05)


def collector(sink: list[Decoded[Any]]) -> Callable[[Sequence[Decoded[Any]]], Any]:
    async def handler(batch: Sequence[Decoded[Any]]) -> None:
        sink.extend(batch)

    return handler


async def test_delivers_every_record_in_key_order(harness: BusHarness) -> None:
    got: list[Decoded[Any]] = []
    bus = harness.new_bus()
    bus.subscribe(Subscription("g1", [harness.topic], envelope_decoder(), collector(got)))
    await bus.start()
    await bus.publish([harness.record(fact(i, CODE_A if i % 2 else CODE_B)) for i in range(40)])
    await wait_for(lambda: len(got) >= 40)
    for code in (CODE_A, CODE_B):
        values = [int(d.item.data.value) for d in got if d.item.data.credit_code == code]
        assert values == sorted(values) and len(values) == 20
    assert got[0].item.data.ce_type == FactRecorded.ce_type


async def test_a_publish_larger_than_a_record_batch_keeps_order_and_headers(harness: BusHarness) -> None:
    """KafkaBus hands each partition's records to the producer as whole record batches (at most
    256 KiB each): a relay's round of ~1 MB per partition spans several of them, which must arrive
    complete, in order per key, each with its own headers."""
    got: list[Decoded[Any]] = []
    bus = harness.new_bus()
    bus.subscribe(Subscription("g-big", [harness.topic], envelope_decoder(), collector(got)))
    await bus.start()
    padding = "x" * 1500  # ~1.9 KB per record: 600 records per key ≈ 1.1 MB, several batches
    records = []
    for i in range(1200):
        env = fact(i, CODE_A if i % 2 else CODE_B)
        env = Envelope(data=env.data.model_copy(update={"attributes": {"note": padding}}), source="test")
        records.append(harness.record(env))
    await bus.publish(records)
    await wait_for(lambda: len(got) >= 1200, timeout=60)
    assert len(got) == 1200
    for code in (CODE_A, CODE_B):
        values = [int(d.item.data.value) for d in got if d.item.data.credit_code == code]
        assert values == sorted(values) and len(values) == 600
    sent = {r.value: dict(r.headers)["ce_id"] for r in records}
    assert all(dict(d.record.headers)["ce_id"] == sent[d.record.value] for d in got)


async def test_each_group_gets_its_own_copy(harness: BusHarness) -> None:
    a: list[Decoded[Any]] = []
    b: list[Decoded[Any]] = []
    bus = harness.new_bus()
    bus.subscribe(Subscription("ga", [harness.topic], envelope_decoder(), collector(a)))
    bus.subscribe(Subscription("gb", [harness.topic], envelope_decoder(), collector(b)))
    await bus.start()
    await bus.publish([harness.record(fact(i)) for i in range(10)])
    await wait_for(lambda: len(a) >= 10 and len(b) >= 10)
    assert {d.item.id for d in a} == {d.item.id for d in b}


async def test_undecodable_record_is_dead_lettered_between_good_ones(harness: BusHarness) -> None:
    got: list[Decoded[Any]] = []
    dlq: list[Decoded[Any]] = []
    bus = harness.new_bus()
    bus.subscribe(Subscription("g", [harness.topic], envelope_decoder(), collector(got)))
    bus.subscribe(Subscription("dlq-reader", [Topics.dlq(harness.topic)], lambda r: r, collector(dlq)))
    await bus.start()
    bad = Record(
        harness.topic, CODE_A.encode(), b"\xffnot json", (("ce_specversion", b"1.0"), ("ce_type", b"nope"))
    )
    await bus.publish([harness.record(fact(1)), bad, harness.record(fact(2))])
    await wait_for(lambda: len(got) >= 2 and len(dlq) >= 1)
    assert [d.item.data.record_id for d in got] == ["r1", "r2"]
    dead = dlq[0].item
    headers = dict(dead.headers)
    assert dead.value == b"\xffnot json"
    assert b"unknown event type" in headers["dlq_reason"]
    assert headers["dlq_source_topic"] == harness.topic.encode()


async def test_poison_record_is_isolated_and_the_rest_applied(harness: BusHarness) -> None:
    applied: list[str] = []
    dlq: list[Decoded[Any]] = []

    async def handler(batch: Sequence[Decoded[Any]]) -> None:
        for d in batch:
            if d.item.data.record_id == "r3":
                raise PoisonRecord(d.record, "record r3: value: refused by the handler")
        applied.extend(d.item.data.record_id for d in batch)

    bus = harness.new_bus()
    bus.subscribe(Subscription("g", [harness.topic], envelope_decoder(), handler))
    bus.subscribe(Subscription("dlq-reader", [Topics.dlq(harness.topic)], lambda r: r, collector(dlq)))
    await bus.start()
    await bus.publish([harness.record(fact(i)) for i in range(1, 6)])
    await wait_for(lambda: len(applied) >= 4 and len(dlq) >= 1)
    assert sorted(applied) == ["r1", "r2", "r4", "r5"]
    assert dict(dlq[0].item.headers)["dlq_reason"] == b"record r3: value: refused by the handler"


async def test_handler_crash_on_one_record_is_bisected_and_dead_lettered(harness: BusHarness) -> None:
    applied: list[str] = []
    dlq: list[Decoded[Any]] = []

    async def handler(batch: Sequence[Decoded[Any]]) -> None:
        if any(d.item.data.record_id == "r2" for d in batch):
            raise ValueError("boom")
        applied.extend(d.item.data.record_id for d in batch)

    bus = harness.new_bus()
    bus.subscribe(Subscription("g", [harness.topic], envelope_decoder(), handler, max_attempts=2))
    bus.subscribe(Subscription("dlq-reader", [Topics.dlq(harness.topic)], lambda r: r, collector(dlq)))
    await bus.start()
    await bus.publish([harness.record(fact(i)) for i in range(1, 5)])
    await wait_for(lambda: len(applied) >= 3 and len(dlq) >= 1)
    assert sorted(applied) == ["r1", "r3", "r4"]
    assert b"ValueError: boom" in dict(dlq[0].item.headers)["dlq_reason"]


async def test_transient_errors_are_retried_not_dropped(harness: BusHarness) -> None:
    applied: list[str] = []
    failures = {"left": 3}

    async def handler(batch: Sequence[Decoded[Any]]) -> None:
        if failures["left"] > 0:
            failures["left"] -= 1
            raise ConnectionRefusedError("database is restarting")
        applied.extend(d.item.data.record_id for d in batch)

    bus = harness.new_bus()
    bus.subscribe(Subscription("g", [harness.topic], envelope_decoder(), handler))
    await bus.start()
    await bus.publish([harness.record(fact(7))])
    await wait_for(lambda: applied == ["r7"])
    assert failures["left"] == 0


async def test_committed_records_are_not_redelivered_to_the_group(harness: BusHarness) -> None:
    first: list[Decoded[Any]] = []
    bus = harness.new_bus()
    bus.subscribe(Subscription("g-restart", [harness.topic], envelope_decoder(), collector(first)))
    await bus.start()
    await bus.publish([harness.record(fact(i)) for i in range(5)])
    await wait_for(lambda: len(first) >= 5)
    if harness.kind == "memory":
        # the in-process bus lives in the process: a "restart" is a new subscription on the same bus
        second: list[Decoded[Any]] = []
        await bus.stop()
        bus._subs.clear()
        bus.subscribe(Subscription("g-restart", [harness.topic], envelope_decoder(), collector(second)))
        await bus.start()
        await bus.publish([harness.record(fact(100))])
        await wait_for(lambda: len(second) >= 1)
    else:
        await bus.stop()
        second = []
        bus2 = harness.new_bus()
        bus2.subscribe(Subscription("g-restart", [harness.topic], envelope_decoder(), collector(second)))
        await bus2.start()
        await bus2.publish([harness.record(fact(100))])
        await wait_for(lambda: len(second) >= 1)
        await asyncio.sleep(1.0)  # a redelivery would arrive with or right after the new record
    assert [d.item.data.record_id for d in second] == ["r100"]


def sizer(sizes: list[int]) -> Callable[[Sequence[Decoded[Any]]], Any]:
    async def handler(batch: Sequence[Decoded[Any]]) -> None:
        sizes.append(len(batch))

    return handler


async def test_a_trickle_lingers_into_one_batch(harness: BusHarness) -> None:
    """Records arriving one by one within the linger time are handled as one batch (one
    transaction, one set of downstream results), not one handler call each."""
    sizes: list[int] = []
    bus = harness.new_bus()
    bus.subscribe(
        Subscription("gl", [harness.topic], envelope_decoder(), sizer(sizes), max_batch=1000, linger_ms=3000)
    )
    await bus.start()
    for i in range(10):
        await bus.publish([harness.record(fact(i))])
        await asyncio.sleep(0.03)
    await wait_for(lambda: sum(sizes) >= 10)
    assert sum(sizes) == 10
    assert len(sizes) <= 2, sizes  # the first poll may race the first record; never one call per record


async def test_a_full_batch_does_not_linger(harness: BusHarness) -> None:
    """A batch that reached ``max_batch`` is handled at once, whatever the linger time."""
    sizes: list[int] = []
    bus = harness.new_bus()
    bus.subscribe(
        Subscription("gf", [harness.topic], envelope_decoder(), sizer(sizes), max_batch=5, linger_ms=600_000)
    )
    await bus.start()
    await bus.publish([harness.record(fact(i)) for i in range(10)])
    await wait_for(lambda: sum(sizes) >= 10, timeout=60)
    assert sizes == [5, 5]


async def batch_sizes_of_a_paced_stream(harness: BusHarness, per_tick: int, burst_rate: int) -> list[int]:
    """Batch sizes a subscription with a 150 ms linger and a 10 s burst linger sees when
    ``per_tick`` records are published every 50 ms for 1.5 s (every record handled once)."""
    sizes: list[int] = []
    bus = harness.new_bus()
    bus.subscribe(
        Subscription(
            f"g-paced-{per_tick}",
            [harness.topic],
            envelope_decoder(),
            sizer(sizes),
            max_batch=100_000,
            linger_ms=150,
            burst_linger_ms=10_000,
            burst_rate=burst_rate,
        )
    )
    await bus.start()
    for tick in range(30):
        await bus.publish([harness.record(fact(tick * per_tick + k)) for k in range(per_tick)])
        await asyncio.sleep(0.05)
    n = 30 * per_tick
    await wait_for(lambda: sum(sizes) >= n)
    assert sum(sizes) == n
    return sizes


async def test_a_burst_keeps_the_batch_filling_past_the_linger(harness: BusHarness) -> None:
    """Records arriving faster than ``burst_rate`` keep a part-filled batch open past
    ``linger_ms``, up to ``burst_linger_ms`` (one transaction, one result per key, for a
    replay or a month-end burst)."""
    # 20 records every 50 ms: 400/s, four times the burst rate
    sizes = await batch_sizes_of_a_paced_stream(harness, per_tick=20, burst_rate=100)
    # with the plain 150 ms linger alone this is ten or more batches of ~60
    assert len(sizes) <= 3 and max(sizes) >= 300, sizes


async def test_a_trickle_below_the_burst_rate_waits_the_plain_linger_only(harness: BusHarness) -> None:
    """A stream slower than ``burst_rate`` (the steady state) is handed over every
    ``linger_ms``: the burst linger adds no latency to it."""
    # one record every 50 ms: 20/s, a twentieth of the burst rate
    sizes = await batch_sizes_of_a_paced_stream(harness, per_tick=1, burst_rate=400)
    # batches of ~150-200 ms (3-4 records); one that waited the burst linger would hold all 30
    assert len(sizes) >= 4 and max(sizes) <= 12, sizes


async def test_a_poll_is_handled_topic_by_topic_in_the_subscriptions_order(harness: BusHarness) -> None:
    """A subscription lists its reference data first (services subscribe to the enterprise
    directory before the facts or accounts that refer to it). When one poll returns records of
    several topics, they are handled in that order: a fact that arrives together with its
    enterprise's registration is applied after it, not before (which would publish a result
    without the enterprise's industry, then restate it a moment later)."""
    reference = harness.topic + ".ref"
    if harness.kind == "kafka":
        await ensure_topics(harness.settings(), [reference, Topics.dlq(reference)], partitions=3)
    calls: list[str] = []

    async def handler(batch: Sequence[Decoded[Any]]) -> None:
        calls.extend({d.record.topic for d in batch})

    bus = harness.new_bus()
    bus.subscribe(
        Subscription(
            "g-order", [reference, harness.topic], envelope_decoder(), handler, max_batch=1000, linger_ms=3000
        )
    )
    await bus.start()
    facts = [harness.record(fact(i, CODE_A if i % 2 else CODE_B)) for i in range(20)]
    await bus.publish(facts)  # the dependent records first, so arrival order is no help
    await bus.publish([Record(reference, r.key, r.value, r.headers) for r in facts[:4]])
    await wait_for(lambda: harness.topic in calls, timeout=60)
    assert calls == [reference, harness.topic]  # the linger makes it one poll


@pytest.mark.integration
async def test_kafka_places_each_key_where_the_default_partitioner_does() -> None:
    """KafkaBus picks partitions itself (murmur2, memoised per key); it must agree with aiokafka's
    (and the Java client's) default partitioner, or a producer without the memo (the pilot's Kafka
    replay, another client) would put an enterprise's records on two partitions."""
    from aiokafka.partitioner import DefaultPartitioner

    h = BusHarness("kafka")
    await h.prepare()
    try:
        got: list[Decoded[Any]] = []
        bus = h.new_bus()
        bus.subscribe(Subscription("g-part", [h.topic], envelope_decoder(), collector(got)))
        await bus.start()
        codes = [f"9114{i:014d}" for i in range(60)]
        await bus.publish([h.record(fact(i, code)) for i, code in enumerate(codes * 2)])
        await wait_for(lambda: len(got) >= 120)
        default = DefaultPartitioner()
        placed = {(d.item.data.credit_code, d.record.partition) for d in got}
        assert placed == {(c, default(c.encode(), [0, 1, 2], [0, 1, 2])) for c in codes}
        assert len({p for _, p in placed}) == 3  # the keys spread over all three partitions
    finally:
        await h.close()
