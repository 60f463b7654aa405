"""The broker's ceiling on this machine: raw aiokafka produce → consume of N messages of the
pipeline's message size, on a throw-away topic with the services' partition count, with the
same producer settings as the Kafka replay (idempotent, ``acks=all``).

``passthrough_isolated`` runs it in a process of its own (``python -m
carbon_bureau.bench.passthrough``), on uvloop like the services. In the bench's own process, which
holds the generated dataset and every phase's samples, the cyclic collector's passes over that
heap cut the measured rate by a third or more (measured: 105k msg/s alone, 67k msg/s with the
dataset in memory, 38-40k in the bench process after the other phases) — a ceiling measured that
low made the pipeline ÷ raw ratio look 2.5x better than it is (docs/performance-notes.md, eighth
pass)."""

from __future__ import annotations

import argparse
import asyncio
import resource
import sys
import time
import uuid
from typing import Any

import orjson
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


async def passthrough_isolated(bootstrap: str, messages: int, size: int) -> dict[str, Any]:
    """``passthrough`` in a fresh process; its result with the process's CPU seconds."""
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "carbon_bureau.bench.passthrough",
        "--bootstrap", bootstrap, "--messages", str(messages), "--size", str(size),
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
    )  # fmt: skip
    out, err = await proc.communicate()
    if proc.returncode != 0:
        raise RuntimeError(
            f"raw pass-through failed ({proc.returncode}): {err.decode(errors='replace')[-2000:]}"
        )
    result: dict[str, Any] = orjson.loads(out.splitlines()[-1])
    return result


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        description="raw aiokafka produce → consume pass-through (JSON on stdout)"
    )
    parser.add_argument("--bootstrap", required=True)
    parser.add_argument("--messages", type=int, required=True)
    parser.add_argument("--size", type=int, required=True)
    args = parser.parse_args(argv)
    if args.messages < 1 or args.size < 1:
        parser.error("--messages and --size must be positive")
    import uvloop

    before = resource.getrusage(resource.RUSAGE_SELF)
    result = uvloop.run(passthrough(args.bootstrap, args.messages, args.size))
    after = resource.getrusage(resource.RUSAGE_SELF)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    result["client_cpu_s"] = rounded(cpu, 2)
    result["process"] = "separate"
    sys.stdout.write(orjson.dumps(result).decode() + "\n")


if __name__ == "__main__":
    main()
