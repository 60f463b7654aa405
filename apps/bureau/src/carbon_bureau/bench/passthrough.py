"""The broker's ceiling on this machine: raw aiokafka produce → consume of N messages of the
pipeline's message size, on a throw-away topic with the services' partition count, with the
same producer settings as the Kafka replay (idempotent, ``acks=all``)."""

from __future__ import annotations

import asyncio
import time
import uuid
from typing import Any

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from aiokafka.admin import AIOKafkaAdminClient, NewTopic

from .stats import rate, rounded

PARTITIONS = 6
_WINDOW = 10_000


async def passthrough(bootstrap: str, messages: int, size: int) -> dict[str, Any]:
    topic = f"bench.passthrough.{uuid.uuid4().hex[:8]}"
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    try:
        await admin.create_topics([NewTopic(topic, PARTITIONS, 1)])
        try:
            return await _run(bootstrap, topic, messages, size)
        finally:
            await admin.delete_topics([topic])
    finally:
        await admin.close()


async def _run(bootstrap: str, topic: str, messages: int, size: int) -> dict[str, Any]:
    payload = (b"x" * size)[:size]
    producer = AIOKafkaProducer(
        bootstrap_servers=bootstrap, acks="all", enable_idempotence=True, linger_ms=5, max_batch_size=262_144
    )
    consumer = AIOKafkaConsumer(
        topic, bootstrap_servers=bootstrap, group_id=f"{topic}-g", auto_offset_reset="earliest",
        enable_auto_commit=False, max_partition_fetch_bytes=4 * 2**20,
    )  # fmt: skip
    await consumer.start()
    while not consumer.assignment():  # joined the group: nothing produced can be missed
        await consumer.getmany(timeout_ms=100)
    await producer.start()
    received = 0
    done = asyncio.Event()

    async def consume() -> None:
        nonlocal received
        while received < messages:
            batch = await consumer.getmany(timeout_ms=200, max_records=10_000)
            received += sum(len(v) for v in batch.values())
        done.set()

    t0 = time.perf_counter()
    reader = asyncio.create_task(consume())
    try:
        pending: list[asyncio.Future[Any]] = []
        for i in range(messages):
            pending.append(await producer.send(topic, payload, key=str(i % 1122).encode()))
            if len(pending) >= _WINDOW:
                await asyncio.gather(*pending)
                pending.clear()
        await asyncio.gather(*pending)
        produced_s = time.perf_counter() - t0
        await asyncio.wait_for(done.wait(), timeout=600)
        elapsed = time.perf_counter() - t0
    finally:
        reader.cancel()
        await asyncio.gather(reader, return_exceptions=True)
        await producer.stop()
        await consumer.stop()
    return {
        "messages": messages,
        "message_bytes": size,
        "partitions": PARTITIONS,
        "produce_s": rounded(produced_s, 2),
        "seconds": rounded(elapsed, 2),
        "messages_per_s": rounded(rate(messages, elapsed), 1),
    }
