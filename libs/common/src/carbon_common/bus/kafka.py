"""Kafka adapter of the event bus (aiokafka).

Producer: idempotent, ``acks="all"``, key = credit code. Consumers: one task per subscription,
``getmany`` batches, manual commit of explicit per-partition offsets only after the handler
(and so the database transaction) has returned, a rebalance listener that lets the in-flight
batch finish and commit before partitions are given up, dead-letter topics for records that
cannot be decoded or applied.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence
from typing import Any

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, ConsumerRebalanceListener, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.errors import CommitFailedError, IllegalStateError, TopicAlreadyExistsError
from aiokafka.helpers import create_ssl_context
from aiokafka.partitioner import murmur2
from aiokafka.structs import ConsumerRecord

from carbon_common.bus.port import Linger, Record, Subscription
from carbon_common.bus.processing import process_batch
from carbon_common.events.topics import Topics
from carbon_common.metrics import BUS_BATCH_SECONDS, BUS_PUBLISHED, CONSUMER_LAG
from carbon_common.settings import KafkaSettings

log = logging.getLogger("carbon_common.bus.kafka")


def client_options(settings: KafkaSettings) -> dict[str, Any]:
    """Connection and security options shared by producer, consumers and admin client."""
    opts: dict[str, Any] = {
        "bootstrap_servers": settings.bootstrap_servers,
        "client_id": settings.client_id,
        "security_protocol": settings.security_protocol,
    }
    if settings.security_protocol in ("SSL", "SASL_SSL"):
        opts["ssl_context"] = create_ssl_context(
            cafile=settings.ssl_cafile, certfile=settings.ssl_certfile, keyfile=settings.ssl_keyfile
        )
    if settings.security_protocol.startswith("SASL"):
        opts["sasl_mechanism"] = settings.sasl_mechanism or "SCRAM-SHA-512"
        opts["sasl_plain_username"] = settings.sasl_username
        opts["sasl_plain_password"] = (
            settings.sasl_password.get_secret_value() if settings.sasl_password else None
        )
    return opts


async def ensure_topics(
    settings: KafkaSettings, topics: Sequence[str], partitions: int | None = None
) -> None:
    """Create the topics that do not exist yet (idempotent)."""
    admin = AIOKafkaAdminClient(**client_options(settings))
    await admin.start()
    try:
        existing = set(await admin.list_topics())
        missing = [t for t in topics if t not in existing]
        if missing:
            n = partitions or settings.topic_partitions
            try:
                await admin.create_topics(
                    [NewTopic(t, num_partitions=n, replication_factor=1) for t in missing]
                )
            except TopicAlreadyExistsError:
                pass
    finally:
        await admin.close()


class _Listener(ConsumerRebalanceListener):  # type: ignore[misc]
    def __init__(self, lock: asyncio.Lock, group: str) -> None:
        self._lock = lock
        self._group = group

    async def on_partitions_revoked(self, revoked: Any) -> None:
        # Wait for the in-flight batch to be applied and committed before the partitions go.
        async with self._lock:
            log.info(
                "partitions revoked", extra={"group": self._group, "partitions": [str(tp) for tp in revoked]}
            )

    async def on_partitions_assigned(self, assigned: Any) -> None:
        log.info(
            "partitions assigned", extra={"group": self._group, "partitions": [str(tp) for tp in assigned]}
        )


class KafkaBus:
    def __init__(self, settings: KafkaSettings) -> None:
        self.settings = settings
        self._producer: AIOKafkaProducer | None = None
        self._subs: list[Subscription[Any]] = []
        self._consumers: list[AIOKafkaConsumer] = []
        self._tasks: list[asyncio.Task[None]] = []
        self._stopping = False
        #: topic -> (partition count, key -> partition): see ``_partition``
        self._partitions: dict[str, tuple[int, dict[bytes, int]]] = {}

    def _ns(self, topic: str) -> str:
        return self.settings.namespace + topic

    def _plain(self, topic: str) -> str:
        ns = self.settings.namespace
        return topic[len(ns) :] if ns and topic.startswith(ns) else topic

    async def start(self) -> None:
        self._stopping = False
        if self.settings.create_topics and self._subs:
            wanted = {self._ns(t) for sub in self._subs for t in sub.topics}
            wanted |= {self._ns(Topics.dlq(t)) for sub in self._subs for t in sub.topics}
            await ensure_topics(self.settings, sorted(wanted))
        self._producer = AIOKafkaProducer(
            **client_options(self.settings),
            acks="all",
            enable_idempotence=True,
            linger_ms=5,
            max_batch_size=256 * 1024,
            request_timeout_ms=30000,
        )
        await self._producer.start()
        for sub in self._subs:
            consumer = AIOKafkaConsumer(
                **client_options(self.settings),
                group_id=self._ns(sub.group),
                enable_auto_commit=False,
                auto_offset_reset="earliest",
                max_poll_interval_ms=300000,
                fetch_max_wait_ms=self.settings.poll_timeout_ms,
            )
            lock = asyncio.Lock()
            consumer.subscribe([self._ns(t) for t in sub.topics], listener=_Listener(lock, sub.group))
            await consumer.start()
            self._consumers.append(consumer)
            self._tasks.append(asyncio.create_task(self._run(sub, consumer, lock), name=sub.name))

    async def stop(self) -> None:
        """Stop polling, let the current batch finish and commit, flush the producer, close."""
        self._stopping = True
        if self._tasks:
            _done, pending = await asyncio.wait(self._tasks, timeout=15)
            for t in pending:
                t.cancel()
            await asyncio.gather(*self._tasks, return_exceptions=True)
        for c in self._consumers:
            await c.stop()
        if self._producer is not None:
            await self._producer.flush()
            await self._producer.stop()
        self._tasks.clear()
        self._consumers.clear()
        self._producer = None

    async def publish(self, records: Sequence[Record]) -> None:
        """Send ``records`` and return once the broker acknowledged all of them (``acks=all``).

        Records are grouped by (topic, partition), keeping their order within each group, and each
        group goes to the producer as whole record batches (``create_batch``/``send_batch``): one
        future per batch instead of one per record. Per-record ``send`` spent most of the outbox
        relay's time in per-record futures, metadata checks and accumulator bookkeeping. Keyless
        records go through ``send`` (aiokafka picks their partition)."""
        producer = self._producer
        assert producer is not None, "KafkaBus.publish before start()"
        for topic in {self._ns(r.topic) for r in records}:
            if not producer.client.cluster.partitions_for_topic(topic):
                await producer.partitions_for(topic)  # waits for the topic's metadata
        groups: dict[tuple[str, int | None], list[Record]] = {}
        counts: dict[str, int] = {}
        for r in records:
            topic = self._ns(r.topic)
            groups.setdefault((topic, self._partition(topic, r.key)), []).append(r)
            counts[r.topic] = counts.get(r.topic, 0) + 1
        futures: list[asyncio.Future[Any]] = []
        for (topic, partition), group in groups.items():
            if partition is None:
                for r in group:
                    futures.append(
                        await producer.send(topic, value=r.value, key=r.key, headers=list(r.headers))
                    )
                continue
            batch = producer.create_batch()
            for r in group:
                if batch.append(timestamp=None, key=r.key, value=r.value, headers=list(r.headers)) is None:
                    # full: send it and start the next one (a batch always takes its first record)
                    batch.close()
                    futures.append(await producer.send_batch(batch, topic, partition=partition))
                    batch = producer.create_batch()
                    batch.append(timestamp=None, key=r.key, value=r.value, headers=list(r.headers))
            batch.close()
            futures.append(await producer.send_batch(batch, topic, partition=partition))
        if futures:
            await asyncio.gather(*futures)
        for topic, n in counts.items():
            BUS_PUBLISHED.labels(topic).inc(n)

    def _partition(self, topic: str, key: bytes | None) -> int | None:
        """The partition aiokafka's default partitioner picks for ``key`` (murmur2 of the key modulo
        the partition count, as the Java client does), remembered per key: keys are credit codes, a
        few thousand, and the pure-Python murmur2 was 3 % of ingest's CPU in the pilot replay.
        None (aiokafka decides) for a keyless record or a topic whose metadata is not known yet."""
        if key is None:
            return None
        assert self._producer is not None
        parts = self._producer.client.cluster.partitions_for_topic(topic)
        if not parts:
            return None
        memo = self._partitions.get(topic)
        if memo is None or memo[0] != len(parts) or len(memo[1]) > 100_000:
            memo = self._partitions[topic] = (len(parts), {})
        p = memo[1].get(key)
        if p is None:
            p = memo[1][key] = sorted(parts)[(murmur2(key) & 0x7FFFFFFF) % len(parts)]
        return p

    def subscribe(self, subscription: Subscription[Any]) -> None:
        self._subs.append(subscription)

    async def healthy(self) -> bool:
        if self._producer is None or any(t.done() for t in self._tasks):
            return False
        try:
            await asyncio.wait_for(self._producer.client.fetch_all_metadata(), timeout=3)
        except Exception:
            return False
        return True

    async def _run(self, sub: Subscription[Any], consumer: AIOKafkaConsumer, lock: asyncio.Lock) -> None:
        loop = asyncio.get_running_loop()
        handed_over = loop.time()  # when the last batch went to the handler (for the burst rate)
        while not self._stopping:
            try:
                batches = await consumer.getmany(
                    timeout_ms=self.settings.poll_timeout_ms, max_records=sub.max_batch
                )
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("poll failed", extra={"group": sub.group})
                await asyncio.sleep(1)
                continue
            if not batches:
                continue
            batches = await self._linger(consumer, sub, batches, handed_over)
            handed_over = loop.time()
            async with lock:
                # A rebalance during the linger may have taken partitions from this member (their
                # records are the new owner's now, from the last committed offset): handling them
                # here would end in a commit aiokafka refuses (IllegalStateError), which stopped the
                # consumer. The revocation waits for this lock, so the assignment holds from here.
                assigned = consumer.assignment()
                batches = {tp: msgs for tp, msgs in batches.items() if tp in assigned}
                # One handler call (one transaction) per topic for everything this poll returned,
                # across partitions: per-partition order is kept inside the batch, and offsets are
                # committed only after the handler returned. Per-partition calls made a 6-partition
                # topic cost 6 transactions (and 6 re-rating passes) per poll.
                # Topics are handled in the subscription's order (reference data first, as the
                # in-process bus does), whatever order the fetches came back in: a fact polled
                # together with its enterprise's registration is applied after it.
                by_topic: dict[str, list[TopicPartition]] = {self._ns(t): [] for t in sub.topics}
                for tp in batches:
                    by_topic.setdefault(tp.topic, []).append(tp)
                for topic, tps in by_topic.items():
                    if not tps:
                        continue
                    plain = self._plain(topic)
                    records: list[Record] = []
                    for tp in tps:
                        self._report_lag(sub, consumer, tp, batches[tp][0].offset)  # visible while stuck
                        records.extend(
                            Record(plain, m.key, m.value, tuple(m.headers or ()), m.partition, m.offset)
                            for m in batches[tp]
                        )
                    with BUS_BATCH_SECONDS.labels(sub.group).time():
                        await process_batch(sub, records, self.publish, stopping=lambda: self._stopping)
                    # Commit only after the handler's transaction committed: at-least-once.
                    try:
                        await consumer.commit({tp: batches[tp][-1].offset + 1 for tp in tps})
                    except (CommitFailedError, IllegalStateError):
                        # the group rebalanced while the batch was applied: the partitions' new
                        # owner reads these records again, and their effects are idempotent
                        log.warning(
                            "offset commit refused after a rebalance; the records will be read again",
                            extra={"group": sub.group, "partitions": [str(tp) for tp in tps]},
                        )
                        continue
                    for tp in tps:
                        self._report_lag(sub, consumer, tp, batches[tp][-1].offset + 1)

    async def _linger(
        self,
        consumer: AIOKafkaConsumer,
        sub: Subscription[Any],
        batches: dict[TopicPartition, list[ConsumerRecord[bytes, bytes]]],
        since: float,
    ) -> dict[TopicPartition, list[ConsumerRecord[bytes, bytes]]]:
        """Let a part-filled batch fill for up to the linger time (``consumer_linger_ms``), and
        longer during a burst (``Subscription.burst_linger_ms``; the policy is ``Linger``).

        A consumer that keeps up gets whatever arrived since its last poll: a few records per
        transaction, each transaction publishing its own intermediate results (an account per
        fact, a rating per account). Waiting briefly for more turns a steady trickle into batches
        of hundreds, at the price of at most the linger time of added latency. A full batch or a
        stopping bus does not wait."""
        linger_ms = self.settings.consumer_linger_ms if sub.linger_ms is None else sub.linger_ms
        n = sum(len(v) for v in batches.values())
        if linger_ms <= 0 or n >= sub.max_batch:
            return batches
        loop = asyncio.get_running_loop()
        policy = Linger(sub, linger_ms, loop.time(), since)
        while n < sub.max_batch and not self._stopping:
            left_ms = int(policy.wait(loop.time(), n) * 1000)
            if left_ms <= 0:
                break
            more = await consumer.getmany(timeout_ms=left_ms, max_records=sub.max_batch - n)
            for tp, msgs in more.items():
                batches.setdefault(tp, []).extend(msgs)
                n += len(msgs)
        return batches

    @staticmethod
    def _report_lag(sub: Subscription[Any], consumer: AIOKafkaConsumer, tp: TopicPartition, pos: int) -> None:
        try:
            end = consumer.highwater(tp)
        except Exception:
            return
        if end is not None:
            CONSUMER_LAG.labels(sub.group, tp.topic, str(tp.partition)).set(max(0, end - pos))
