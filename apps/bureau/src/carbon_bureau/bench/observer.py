"""Watches ``accounting.accounts.v1``, ``rating.ratings.v1`` and ``lending.loans.v1`` from their current end.

No consumer group (partitions assigned, nothing committed), so it never disturbs the services.
Each event of the dataset's enterprises is kept as (credit code, period, Kafka timestamp in
seconds): the timestamp is when the service's outbox relay produced it.

What it reads is those producer timestamps, not when it reads them, so it can be *held* through
the timed replay (``start(follow=False)``) and read everything afterwards (``catch_up``): on the
bench's 2 cores, following the ~110k events live cost the bench client ~1.7 CPU-s taken from the
services it measures (docs/performance-notes.md, eighth pass). The later phases follow live.
"""

from __future__ import annotations

import asyncio
from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any

import orjson
from aiokafka import AIOKafkaConsumer, TopicPartition

from carbon_common.events.topics import Topics

TOPICS = (Topics.ACCOUNTS, Topics.RATINGS, Topics.LOANS)
_KIND = {Topics.ACCOUNTS: "accounts", Topics.RATINGS: "ratings", Topics.LOANS: "loans"}


@dataclass(slots=True)
class Seen:
    code: str
    period: str
    ts: float
    #: the CloudEvents type (``ce_type`` header), e.g. ``bureau.lending.loan-repriced.v1``
    type: str = ""


@dataclass
class TopicObserver:
    bootstrap: str
    codes: set[str]
    events: dict[str, list[Seen]] = field(default_factory=lambda: defaultdict(list))
    _consumer: AIOKafkaConsumer | None = None
    _task: asyncio.Task[None] | None = None
    _parts: list[TopicPartition] = field(default_factory=list)

    async def start(self, *, follow: bool = True) -> None:
        """Position at the topics' current ends; with ``follow``, start reading as they grow."""
        consumer = AIOKafkaConsumer(bootstrap_servers=self.bootstrap, enable_auto_commit=False, group_id=None)
        await consumer.start()
        parts = []
        for topic in TOPICS:
            for p in sorted(consumer.partitions_for_topic(topic) or await self._partitions(consumer, topic)):
                parts.append(TopicPartition(topic, p))
        consumer.assign(parts)
        await consumer.seek_to_end(*parts)
        for tp in parts:  # resolve the end offsets now, before the replay starts
            await consumer.position(tp)
        self._consumer = consumer
        self._parts = parts
        if follow:
            self.follow()

    def follow(self) -> None:
        """Read the topics as they grow (from where the observer is)."""
        if self._task is None:
            self._task = asyncio.create_task(self._loop())

    async def catch_up(self) -> None:
        """A held observer reads everything produced until now (then ``follow`` for later phases)."""
        assert self._consumer is not None and self._task is None, "catch_up is for a held observer"
        consumer = self._consumer
        ends = await consumer.end_offsets(self._parts)
        behind = set(ends)
        while behind:
            self._take(await consumer.getmany(*behind, timeout_ms=200, max_records=5000))
            behind = {tp for tp in behind if await consumer.position(tp) < ends[tp]}

    @staticmethod
    async def _partitions(consumer: AIOKafkaConsumer, topic: str) -> set[int]:
        for _ in range(50):
            parts = consumer.partitions_for_topic(topic)
            if parts:
                return set(parts)
            await consumer._client.force_metadata_update()  # metadata, assigned-only consumer
            await asyncio.sleep(0.1)
        raise RuntimeError(f"topic {topic} not found: is the stack up (bureau stack up creates the topics)?")

    async def _loop(self) -> None:
        assert self._consumer is not None
        while True:
            self._take(await self._consumer.getmany(timeout_ms=200, max_records=5000))

    def _take(self, batches: dict[TopicPartition, list[Any]]) -> None:
        for tp, records in batches.items():
            out = self.events[_KIND[tp.topic]]
            for r in records:
                if r.value is None:
                    continue
                body = orjson.loads(r.value)
                code = body.get("credit_code")
                if code in self.codes:
                    period = body.get("period") or body.get("as_of_period") or ""
                    ce_type = dict(r.headers or ()).get("ce_type", b"").decode()
                    if tp.topic == Topics.RATINGS and not ce_type.endswith(".rating.issued.v1"):
                        continue  # e.g. ObjectionChanged shares the topic
                    out.append(Seen(code, period, r.timestamp / 1000, ce_type))

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)
        if self._consumer is not None:
            await self._consumer.stop()

    def mark(self) -> dict[str, int]:
        """Current event counts (to slice the streams per phase)."""
        return {k: len(self.events[k]) for k in _KIND.values()}

    def since(self, kind: str, mark: dict[str, int]) -> list[Seen]:
        return self.events[kind][mark[kind] :]
