"""KafkaBus's poll loop across a rebalance, with a scripted consumer (no broker needed: the
rebalance has to land at an exact point of the loop, which a real group cannot be made to do).

A batch can linger for seconds during a burst (``Subscription.burst_linger_ms``); a rebalance that
completes meanwhile takes partitions whose records this member already holds. Committing their
offsets then raises ``IllegalStateError`` in aiokafka, which used to end the consumer's task."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from typing import Any

from aiokafka import TopicPartition
from aiokafka.errors import CommitFailedError, IllegalStateError
from aiokafka.structs import ConsumerRecord

from carbon_common.bus import Decoded, Record, Subscription
from carbon_common.bus.kafka import KafkaBus
from carbon_common.settings import KafkaSettings

TOPIC = "t"
TP0, TP1 = TopicPartition(TOPIC, 0), TopicPartition(TOPIC, 1)


def rec(tp: TopicPartition, offset: int) -> ConsumerRecord[bytes, bytes]:
    return ConsumerRecord(tp.topic, tp.partition, offset, 0, 0, b"k", b"v", None, 1, 1, ())


class ScriptedConsumer:
    """Returns ``polls`` one by one (then nothing); ``revoke_on_poll``: that poll (1-based) takes
    TP0 from this member first, as a rebalance completing during the linger would."""

    def __init__(
        self, polls: list[dict[TopicPartition, list[Any]]], revoke_on_poll: int | None = None
    ) -> None:
        self.polls = polls
        self.revoke_on_poll = revoke_on_poll
        self.assigned = {TP0, TP1}
        self.calls = 0
        self.commits: list[dict[TopicPartition, int]] = []
        self.refuse_commits: type[Exception] | None = None

    async def getmany(
        self, timeout_ms: int = 0, max_records: int | None = None
    ) -> dict[TopicPartition, list[Any]]:
        self.calls += 1
        if self.calls == self.revoke_on_poll:
            self.assigned = {TP1}
        if self.polls:
            return self.polls.pop(0)
        await asyncio.sleep(min(timeout_ms, 20) / 1000)
        return {}

    def assignment(self) -> set[TopicPartition]:
        return set(self.assigned)

    async def commit(self, offsets: dict[TopicPartition, int]) -> None:
        for tp in offsets:  # as aiokafka does
            if tp not in self.assigned:
                raise IllegalStateError(f"Partition {tp} is not assigned")
        if self.refuse_commits is not None:
            raise self.refuse_commits("rebalanced")
        self.commits.append(dict(offsets))

    def highwater(self, tp: TopicPartition) -> int | None:
        return None


async def run_until(bus: KafkaBus, sub: Subscription[Any], consumer: ScriptedConsumer, done: Any) -> None:
    task = asyncio.create_task(bus._run(sub, consumer, asyncio.Lock()))  # type: ignore[arg-type]
    for _ in range(200):
        await asyncio.sleep(0.01)
        if done() or task.done():
            break
    bus._stopping = True
    await asyncio.wait_for(task, timeout=5)  # raises if the loop died


def subscription(handled: list[Record]) -> Subscription[Any]:
    async def handler(batch: Sequence[Decoded[Any]]) -> None:
        handled.extend(d.record for d in batch)

    return Subscription("g", [TOPIC], lambda r: r, handler, max_batch=100, linger_ms=50)


async def test_records_of_partitions_revoked_during_the_linger_are_left_to_their_new_owner() -> None:
    handled: list[Record] = []
    # the first poll returns both partitions' records; the linger's poll finds TP0 revoked
    consumer = ScriptedConsumer([{TP0: [rec(TP0, 7)], TP1: [rec(TP1, 3)]}], revoke_on_poll=2)
    bus = KafkaBus(KafkaSettings(bootstrap_servers="unused:9092"))
    await run_until(bus, subscription(handled), consumer, lambda: consumer.commits)
    assert [(r.partition, r.offset) for r in handled] == [(1, 3)]
    assert consumer.commits == [{TP1: 4}]


async def test_a_refused_commit_does_not_stop_the_consumer() -> None:
    handled: list[Record] = []
    consumer = ScriptedConsumer([{TP1: [rec(TP1, 3)]}, {TP1: [rec(TP1, 4)]}])
    consumer.refuse_commits = CommitFailedError
    bus = KafkaBus(KafkaSettings(bootstrap_servers="unused:9092"))
    await run_until(bus, subscription(handled), consumer, lambda: len(handled) >= 2)
    # the loop went on polling after the first refusal (the records are read again elsewhere)
    assert [(r.partition, r.offset) for r in handled] == [(1, 3), (1, 4)]
