"""Smoke test of the real Kafka broker with the client the services use (aiokafka).

It checks the guarantees the services rely on, end to end: idempotent ``acks=all`` producing,
consumer groups with manual commits of explicit offsets (after processing, as in the services'
consume loops), no redelivery of committed records to the next group member, per-key order.

Needs ``KAFKA_BOOTSTRAP`` (``scripts/stack.sh up && eval "$(scripts/stack.sh env)"``); without a
reachable broker it FAILS rather than skips, so a broken stack can never pass CI silently.
"""

from __future__ import annotations

import asyncio
import os
import socket
import uuid
from collections import defaultdict

import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, ConsumerRecord, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient, NewTopic

pytestmark = pytest.mark.integration

KEYS = [f"enterprise-{i}" for i in range(7)]
PARTITIONS = 3


def _bootstrap() -> str:
    value = os.environ.get("KAFKA_BOOTSTRAP", "").strip()
    if not value:
        pytest.fail(
            "KAFKA_BOOTSTRAP is not set. Start the local stack first: "
            'scripts/stack.sh up && eval "$(scripts/stack.sh env)"'
        )
    host, _, port = value.split(",")[0].rpartition(":")
    try:
        socket.create_connection((host, int(port)), timeout=3).close()
    except OSError as exc:
        pytest.fail(
            f"Kafka at KAFKA_BOOTSTRAP={value} is unreachable ({exc}); is `scripts/stack.sh up` running?"
        )
    return value


async def _produce(bootstrap: str, topic: str, start: int, count: int) -> list[tuple[str, int]]:
    """Send ``count`` keyed records; value ``<key>:<seq>`` with a per-key increasing sequence."""
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, acks="all", enable_idempotence=True)
    await producer.start()
    sent: list[tuple[str, int]] = []
    try:
        futures = []
        for n in range(start, start + count):
            key, seq = KEYS[n % len(KEYS)], n
            futures.append(await producer.send(topic, value=f"{key}:{seq}".encode(), key=key.encode()))
            sent.append((key, seq))
        await asyncio.gather(*futures)
    finally:
        await producer.stop()
    return sent


async def _consume(
    bootstrap: str, topic: str, group: str, expected: int
) -> list[ConsumerRecord[bytes, bytes]]:
    """Read ``expected`` records in ``group``, committing explicit offsets after each batch,
    then keep polling briefly to catch anything extra (a redelivery would show up here)."""
    consumer = AIOKafkaConsumer(
        topic,
        bootstrap_servers=bootstrap,
        group_id=group,
        enable_auto_commit=False,
        auto_offset_reset="earliest",
    )
    await consumer.start()
    records: list[ConsumerRecord[bytes, bytes]] = []
    try:
        async with asyncio.timeout(60):
            while len(records) < expected:
                await _poll_once(consumer, records)
        for _ in range(4):  # ~2 s more: nothing else may arrive
            await _poll_once(consumer, records)
    except TimeoutError:
        pytest.fail(f"only {len(records)} of {expected} records arrived within 60 s in group {group}")
    finally:
        await consumer.stop()
    return records


async def _poll_once(consumer: AIOKafkaConsumer, records: list[ConsumerRecord[bytes, bytes]]) -> None:
    batches = await consumer.getmany(timeout_ms=500, max_records=40)
    for tp, batch in batches.items():
        records.extend(batch)  # "processing"
        await consumer.commit({tp: batch[-1].offset + 1})


def _by_key(records: list[ConsumerRecord[bytes, bytes]]) -> dict[str, list[int]]:
    seqs: dict[str, list[int]] = defaultdict(list)
    for r in records:
        assert r.key is not None and r.value is not None
        key, seq = r.value.decode().split(":")
        assert key == r.key.decode()
        seqs[key].append(int(seq))
    return seqs


async def test_idempotent_produce_and_group_commits_survive_a_new_consumer() -> None:
    bootstrap = _bootstrap()
    topic, group = f"smoke.{uuid.uuid4().hex[:12]}", f"smoke-{uuid.uuid4().hex[:12]}"
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    try:
        response = await admin.create_topics([NewTopic(topic, PARTITIONS, 1)])
        assert all(code == 0 for _, code, *_ in response.topic_errors), response
        try:
            first_sent = await _produce(bootstrap, topic, 0, 100)
            first = await _consume(bootstrap, topic, group, 100)
            assert len(first) == 100, f"expected exactly 100 records, got {len(first)}"
            assert len({(r.partition, r.offset) for r in first}) == 100, "a record was delivered twice"
            assert sorted(_by_key(first).items()) == sorted(_grouped(first_sent).items())
            assert {r.partition for r in first} == set(range(PARTITIONS)), (
                "keys should spread over partitions"
            )

            second_sent = await _produce(bootstrap, topic, 100, 10)
            second = await _consume(bootstrap, topic, group, 10)
            got = [(r.key.decode(), int(r.value.decode().split(":")[1])) for r in second if r.key and r.value]
            assert sorted(got) == sorted(second_sent), f"committed records were redelivered or lost: {got}"

            every = _by_key(first + second)
            for key, seqs in every.items():
                assert seqs == sorted(seqs), f"per-key order broken for {key}: {seqs}"
            await _assert_committed(bootstrap, group, topic, end_total=110)
        finally:
            await admin.delete_topics([topic])
    finally:
        await admin.close()


def _grouped(sent: list[tuple[str, int]]) -> dict[str, list[int]]:
    out: dict[str, list[int]] = defaultdict(list)
    for key, seq in sent:
        out[key].append(seq)
    return out


async def _assert_committed(bootstrap: str, group: str, topic: str, end_total: int) -> None:
    """The group's committed offsets sum to everything produced: the commits really landed."""
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    try:
        offsets = await admin.list_consumer_group_offsets(group)
    finally:
        await admin.close()
    committed = {tp: meta.offset for tp, meta in offsets.items() if tp.topic == topic}
    assert set(committed) == {TopicPartition(topic, p) for p in range(PARTITIONS)}
    assert sum(committed.values()) == end_total
