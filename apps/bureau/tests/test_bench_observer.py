"""The bench's topic observer against the real broker: held through a phase, it reads nothing; caught
up, it has every event with the producer's timestamp; then it follows live."""

from __future__ import annotations

import asyncio
import time
import uuid

import orjson
import pytest
from aiokafka import AIOKafkaProducer

from carbon_bureau.bench.observer import TopicObserver
from carbon_common.events.topics import Topics
from carbon_common.testing import kafka_bootstrap

pytestmark = pytest.mark.integration


async def test_a_held_observer_catches_up_with_producer_timestamps_then_follows() -> None:
    bootstrap = kafka_bootstrap()
    code = "TEST" + uuid.uuid4().hex[:14].upper()  # no service emits it: only this test's events count
    observer = TopicObserver(bootstrap, {code})
    await observer.start(follow=False)
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap)
    await producer.start()
    try:
        mark = observer.mark()
        stamps = [int(time.time() * 1000) - 60_000 + i for i in range(3)]  # a minute ago: not read time
        for i, ts in enumerate(stamps):
            body = orjson.dumps({"credit_code": code, "period": f"2024-0{i + 1}"})
            await producer.send_and_wait(Topics.ACCOUNTS, body, key=code.encode(), timestamp_ms=ts)
        await asyncio.sleep(0.5)
        assert observer.since("accounts", mark) == []  # held: nothing read
        await observer.catch_up()
        seen = observer.since("accounts", mark)
        assert [(s.code, s.period) for s in seen] == [(code, "2024-01"), (code, "2024-02"), (code, "2024-03")]
        assert [s.ts for s in seen] == [ts / 1000 for ts in stamps]

        observer.follow()
        await producer.send_and_wait(
            Topics.ACCOUNTS, orjson.dumps({"credit_code": code, "period": "2024-04"}), key=code.encode()
        )
        for _ in range(100):
            if len(observer.since("accounts", mark)) == 4:
                break
            await asyncio.sleep(0.1)
        assert observer.since("accounts", mark)[-1].period == "2024-04"
    finally:
        await producer.stop()
        await observer.stop()
