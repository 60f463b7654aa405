"""In-process event bus for the embedded mode and fast unit tests.

It keeps Kafka's semantics that the services rely on: records are partitioned by key (so
per-key order holds), each consumer group has its own committed offsets and sees every record
once, members of one group split the partitions, offsets advance only after the handler returns,
and undecodable records go to ``<topic>.dlq``. It is not durable across processes.
"""

from __future__ import annotations

import asyncio
import logging
import zlib
from collections import defaultdict
from collections.abc import Sequence
from typing import Any

from carbon_common.bus.port import Linger, Record, Subscription
from carbon_common.bus.processing import process_batch
from carbon_common.metrics import BUS_BATCH_SECONDS, BUS_PUBLISHED, CONSUMER_LAG

log = logging.getLogger("carbon_common.bus.memory")


def partition_for(key: bytes | None, partitions: int) -> int:
    return 0 if key is None else zlib.crc32(key) % partitions


class InMemoryBus:
    def __init__(self, partitions: int = 4, linger_ms: int = 0) -> None:
        self.partitions = partitions
        #: like ``KafkaSettings.consumer_linger_ms``: after waking up idle, a consumer waits this
        #: long for a batch to fill (0: handle what is there at once, the unit tests' default)
        self.linger_ms = linger_ms
        self.log: dict[str, list[list[Record]]] = defaultdict(lambda: [[] for _ in range(self.partitions)])
        self.committed: dict[tuple[str, str, int], int] = defaultdict(int)
        self._subs: list[Subscription[Any]] = []
        self._tasks: list[asyncio.Task[None]] = []
        self._wakes: list[asyncio.Event] = []
        self._stopping = False
        self._busy = 0

    # --- EventBus -----------------------------------------------------------------------------
    async def start(self) -> None:
        self._stopping = False
        groups: dict[str, list[Subscription[Any]]] = defaultdict(list)
        for sub in self._subs:
            groups[sub.group].append(sub)
        for members in groups.values():
            for index, sub in enumerate(members):
                self._tasks.append(asyncio.create_task(self._run(sub, index, len(members)), name=sub.name))

    async def stop(self) -> None:
        self._stopping = True
        for w in self._wakes:
            w.set()
        for t in self._tasks:
            t.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        self._tasks.clear()

    async def publish(self, records: Sequence[Record]) -> None:
        for r in records:
            p = partition_for(r.key, self.partitions)
            part = self.log[r.topic][p]
            part.append(Record(r.topic, r.key, r.value, r.headers, p, len(part)))
            BUS_PUBLISHED.labels(r.topic).inc()
        for w in self._wakes:
            w.set()

    def subscribe(self, subscription: Subscription[Any]) -> None:
        self._subs.append(subscription)

    async def healthy(self) -> bool:
        return all(not t.done() for t in self._tasks)

    # --- helpers for tests and the embedded runner --------------------------------------------
    def records(self, topic: str) -> list[Record]:
        """All records of a topic, partition by partition (for tests and inspection)."""
        return [r for part in self.log[topic] for r in part] if topic in self.log else []

    def lag(self) -> int:
        """Records published but not yet committed by some subscribed group."""
        total = 0
        for sub in self._subs:
            for topic in sub.topics:
                for p, part in enumerate(self.log[topic]) if topic in self.log else []:
                    total += len(part) - self.committed[(sub.group, topic, p)]
        return total

    async def drain(self, timeout: float = 60.0) -> None:
        """Wait until every subscribed group has consumed everything (cascades included)."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while self.lag() > 0 or self._busy:
            if loop.time() > deadline:
                raise TimeoutError(f"bus not drained after {timeout}s: lag={self.lag()}")
            await asyncio.sleep(0.01)

    # --- internals ----------------------------------------------------------------------------
    async def _run(self, sub: Subscription[Any], member: int, members: int) -> None:
        wake = asyncio.Event()
        self._wakes.append(wake)
        rounds = 0
        loop = asyncio.get_running_loop()
        handed_over = loop.time()  # when the last batch went to the handler (for the burst rate)
        while not self._stopping:
            rounds += 1
            wake.clear()  # cleared before the scan, so a publish during it is not missed
            progressed = False
            for turn, topic in enumerate(sub.topics):
                # Like the Kafka adapter: one handler call per topic for what is pending in the
                # member's partitions, filled partition by partition up to ``max_batch``, starting
                # one partition further each time (a backlogged partition cannot starve the others).
                mine = [p for p in range(self.partitions) if p % members == member]
                if not mine:  # more members than partitions: this one idles, as with Kafka
                    continue
                first = (rounds + turn) % len(mine)
                mine = mine[first:] + mine[:first]
                parts = self.log[topic]
                taken: list[tuple[int, int, list[Record]]] = []
                room = sub.max_batch
                for p in mine:
                    pos = self.committed[(sub.group, topic, p)]
                    if room > 0 and pos < len(parts[p]):
                        chunk = parts[p][pos : pos + room]
                        taken.append((p, pos, chunk))
                        room -= len(chunk)
                if not taken:
                    continue
                batch = [r for _, _, chunk in taken for r in chunk]
                handed_over = loop.time()
                self._busy += 1
                try:
                    with BUS_BATCH_SECONDS.labels(sub.group).time():
                        await process_batch(sub, batch, self.publish, stopping=lambda: self._stopping)
                    for p, pos, chunk in taken:
                        self.committed[(sub.group, topic, p)] = pos + len(chunk)
                        CONSUMER_LAG.labels(sub.group, topic, str(p)).set(len(parts[p]) - pos - len(chunk))
                finally:
                    self._busy -= 1
                progressed = True
            if not progressed:
                try:
                    await asyncio.wait_for(wake.wait(), timeout=0.5)
                except TimeoutError:
                    continue
                await self._linger(sub, member, members, wake, handed_over)

    async def _linger(
        self, sub: Subscription[Any], member: int, members: int, wake: asyncio.Event, since: float
    ) -> None:
        """Like the Kafka adapter: let a part-filled batch fill for up to the linger time, and
        longer during a burst (``Linger``)."""
        linger = self.linger_ms if sub.linger_ms is None else sub.linger_ms
        if linger <= 0:
            return
        loop = asyncio.get_running_loop()
        policy = Linger(sub, linger, loop.time(), since)
        while not self._stopping:
            n = self._pending(sub, member, members)
            if n >= sub.max_batch:
                return
            left = policy.wait(loop.time(), n)
            if left <= 0:
                return
            wake.clear()
            try:
                await asyncio.wait_for(wake.wait(), timeout=left)
            except TimeoutError:
                continue

    def _pending(self, sub: Subscription[Any], member: int, members: int) -> int:
        """Records this member could take now (max over the topics: one handler call per topic)."""
        most = 0
        for topic in sub.topics:
            parts = self.log.get(topic, [])
            most = max(
                most,
                sum(
                    len(parts[p]) - self.committed[(sub.group, topic, p)]
                    for p in range(len(parts))
                    if p % members == member
                ),
            )
        return most
