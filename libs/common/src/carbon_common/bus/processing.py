"""Batch processing shared by both bus adapters: decode, dead-letter, retry, isolate.

Transient errors (database or broker unreachable) are retried with capped exponential backoff
for as long as the consumer runs: stalling is safe, losing is not. Any other handler error is
isolated by bisecting the batch; a single record that still fails after ``max_attempts`` is
dead-lettered with the exception as the reason, so one bad record never stalls a partition.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Sequence
from datetime import UTC, datetime
from typing import Any

from carbon_common import faults
from carbon_common.bus.port import Decoded, PoisonRecord, Record, Subscription
from carbon_common.events.envelope import ContractError
from carbon_common.events.topics import Topics
from carbon_common.metrics import BUS_DLQ, BUS_PROCESSED, BUS_RETRIES, dlq_reason_class
from carbon_common.telemetry import header_traceparent, process_span

log = logging.getLogger("carbon_common.bus")

TRANSIENT_NAMES = {
    "OperationalError",
    "InterfaceError",
    "ConnectionDoesNotExistError",
    "CannotConnectNowError",
    "ConnectionRefusedError",
    "KafkaConnectionError",
    "KafkaTimeoutError",
    "NodeNotReadyError",
    "RequestTimedOutError",
    "TimeoutError",
    "DeadlockDetectedError",
    "SerializationError",
}


#: errors whose class name is in ``TRANSIENT_NAMES`` but that no retry can cure: asyncpg raises
#: ``InterfaceError`` for a statement with more than 32,767 parameters (a batch too large for a
#: multi-row insert), which retried forever would stall the partition instead of bisecting it
PERMANENT_MESSAGES = ("number of query arguments cannot exceed",)


def is_transient(exc: BaseException) -> bool:
    """True for errors that a retry can cure (connectivity, deadlocks), by exception class name."""
    seen: set[int] = set()
    cur: BaseException | None = exc
    while cur is not None and id(cur) not in seen:
        seen.add(id(cur))
        if any(m in str(cur) for m in PERMANENT_MESSAGES):
            return False
        if type(cur).__name__ in TRANSIENT_NAMES or isinstance(cur, ConnectionError | OSError):
            return True
        cur = cur.__cause__ or cur.__context__
    return False


def dlq_record(record: Record, reason: str, group: str) -> Record:
    """The dead-letter copy: same key, original bytes, original headers plus the reason."""
    extra = (
        ("dlq_reason", reason.encode()[:4000]),
        ("dlq_source_topic", record.topic.encode()),
        ("dlq_source_partition", str(record.partition).encode()),
        ("dlq_source_offset", str(record.offset).encode()),
        ("dlq_consumer_group", group.encode()),
        ("dlq_time", datetime.now(UTC).isoformat().encode()),
    )
    return Record(
        topic=Topics.dlq(record.topic), key=record.key, value=record.value, headers=record.headers + extra
    )


Publish = Callable[[Sequence[Record]], Awaitable[None]]


async def process_batch(
    sub: Subscription[Any],
    records: Sequence[Record],
    publish: Publish,
    *,
    stopping: Callable[[], bool] = lambda: False,
    backoff_cap: float = 5.0,
) -> None:
    """Apply ``records`` through ``sub``; returns when every record is applied or dead-lettered.

    It runs in one CONSUMER span (``telemetry.process_span``) continuing the producers' trace.
    """
    if not records:
        return
    faults.scope.set(records[0].topic)
    with process_span(
        sub.group, records[0].topic, (header_traceparent(r.headers) for r in records), len(records)
    ):
        await _process(sub, records, publish, stopping, backoff_cap)
    BUS_PROCESSED.labels(sub.group, records[0].topic).inc(len(records))


async def _process(
    sub: Subscription[Any],
    records: Sequence[Record],
    publish: Publish,
    stopping: Callable[[], bool],
    backoff_cap: float,
) -> None:
    dead: list[Record] = []
    decoded: list[Decoded[Any]] = []
    for rec in records:
        try:
            decoded.append(Decoded(rec, sub.decoder(rec)))
        except ContractError as exc:
            dead.append(dlq_record(rec, f"undecodable: {exc.reason}", sub.group))
        except Exception as exc:  # a decoder bug must not stall the partition either
            dead.append(dlq_record(rec, f"undecodable: {type(exc).__name__}: {exc}", sub.group))
    if dead:
        await _publish_dlq(publish, dead, sub)
    if decoded:
        await _apply(sub, decoded, publish, stopping, backoff_cap)


async def _publish_dlq(publish: Publish, dead: Sequence[Record], sub: Subscription[Any]) -> None:
    labels = []
    for d in dead:
        h = dict(d.headers)
        reason = h.get("dlq_reason", b"").decode()
        log.warning("dead-lettered record", extra={"topic": d.topic, "group": sub.group, "reason": reason})
        labels.append((h.get("dlq_source_topic", b"").decode(), dlq_reason_class(reason)))
    await publish(dead)
    for source, reason_class in labels:
        BUS_DLQ.labels(sub.group, source, reason_class).inc()


async def _apply(
    sub: Subscription[Any],
    batch: list[Decoded[Any]],
    publish: Publish,
    stopping: Callable[[], bool],
    backoff_cap: float,
) -> None:
    failures = 0
    delay = 0.05
    while batch:
        try:
            await sub.handler(batch)
            return
        except PoisonRecord as poison:
            await _publish_dlq(publish, [dlq_record(poison.record, poison.reason, sub.group)], sub)
            batch = [d for d in batch if d.record is not poison.record]
            continue
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            if is_transient(exc):
                if stopping():
                    raise
                BUS_RETRIES.labels(sub.group, "transient").inc()
                log.warning("transient error, retrying batch", extra={"group": sub.group, "error": repr(exc)})
                await asyncio.sleep(delay)
                delay = min(delay * 2, backoff_cap)
                continue
            failures += 1
            BUS_RETRIES.labels(sub.group, "error").inc()
            if len(batch) > 1:
                mid = len(batch) // 2
                log.warning("handler error, bisecting batch", extra={"group": sub.group, "error": repr(exc)})
                await _apply(sub, batch[:mid], publish, stopping, backoff_cap)
                await _apply(sub, batch[mid:], publish, stopping, backoff_cap)
                return
            if failures >= sub.max_attempts:
                log.exception("record failed repeatedly; dead-lettering", extra={"group": sub.group})
                reason = f"handler error after {failures} attempts: {type(exc).__name__}: {exc}"
                await _publish_dlq(publish, [dlq_record(batch[0].record, reason, sub.group)], sub)
                return
            await asyncio.sleep(delay)
