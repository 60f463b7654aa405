"""The event bus port: what services publish and how they consume.

A subscription is a consumer group reading some topics in batches. Each raw record is decoded
by the subscription's decoder; a record that cannot be decoded goes to ``<topic>.dlq`` with the
reason and its original bytes. The batch handler applies the decoded batch in one database
transaction and returns; only then are offsets committed (at-least-once delivery, made
effectively-once by the inbox). A handler that finds one bad record raises ``PoisonRecord`` for
it: that record is dead-lettered and the rest of the batch is retried without it.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, Generic, Protocol, TypeVar

from carbon_common.events.contracts import EVENT_TYPES
from carbon_common.events.envelope import Envelope, Event, decode, encode

T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class Record:
    """A raw bus record, as published or as delivered (with its partition and offset)."""

    topic: str
    key: bytes | None
    value: bytes | None
    headers: tuple[tuple[str, bytes], ...] = ()
    partition: int = -1
    offset: int = -1


@dataclass(frozen=True, slots=True)
class Decoded(Generic[T]):
    record: Record
    item: T


Decoder = Callable[[Record], T]
BatchHandler = Callable[[Sequence[Decoded[T]]], Awaitable[None]]


class PoisonRecord(Exception):
    """Raised by a handler: this one record can never be applied; dead-letter it with ``reason``."""

    def __init__(self, record: Record, reason: str) -> None:
        super().__init__(reason)
        self.record = record
        self.reason = reason


@dataclass
class Subscription(Generic[T]):
    group: str
    #: in the order a poll's records are handled (one handler call per topic): reference data
    #: (the enterprise directory) first, then what refers to it
    topics: Sequence[str]
    decoder: Decoder[T]
    handler: BatchHandler[T]
    max_batch: int = 500
    #: non-transient handler failures of one isolated record before it is dead-lettered
    max_attempts: int = 3
    #: how long a part-filled batch may wait to fill (ms); None: the bus's default
    #: (``KafkaSettings.consumer_linger_ms``, or the in-process bus's ``linger_ms``)
    linger_ms: int | None = None
    #: burst linger (ms, 0 = off): while records keep arriving at ``burst_rate`` per second or
    #: faster, a part-filled batch keeps filling past ``linger_ms``, for up to this long in all.
    #: A consumer that keeps up with a fast stream (a replay, a month-end burst) then takes
    #: batches of seconds rather than of ``linger_ms``: each batch publishes one result per key
    #: it touched, so fewer intermediate results go downstream. A trickle below the rate (the
    #: steady state) waits ``linger_ms`` only, so its latency does not change. See ``Linger``.
    burst_linger_ms: int = 0
    #: records per second (into this consumer) that count as a burst
    burst_rate: int = 3000
    name: str = field(default="")

    def __post_init__(self) -> None:
        if not self.name:
            self.name = f"{self.group}:{','.join(self.topics)}"


class Linger:
    """When a part-filled batch stops waiting for more records; one policy for both buses.

    ``since`` is when this consumer handed its previous batch over (or started): the records of
    a consumer that keeps up arrived after it, so ``records / (now - since)`` is their average
    arrival rate. The batch waits ``base`` seconds from its first poll (the plain linger). If by
    then the records arrived at ``rate`` per second or faster, it waits another ``base``, and so
    on while that average holds, up to ``burst`` seconds after the first poll. The average, not
    each window's count, because upstream publishes in clumps (one per relay round): a window
    between two clumps can be empty in the middle of a burst. The batch is handed over when the
    average falls below the rate, after ``QUIET_WINDOWS`` windows in a row without a record (the
    stream stopped), or at the cap. A full batch never waits (the caller stops at
    ``max_batch``)."""

    #: this many windows in a row without a record end a burst: the stream stopped (the end of
    #: a replay) and the batch goes now, not when the average has decayed or at the burst cap.
    #: One empty window is not enough: mid-burst, upstream's relay rounds leave gaps of 100 ms
    #: and more (measured: ending on one empty window restated 122k accounts instead of 91k)
    QUIET_WINDOWS = 3

    __slots__ = ("_burst_end", "_empty", "_end", "_n", "_rate", "_since", "_step")

    def __init__(self, sub: Subscription[Any], base_ms: int, first_poll: float, since: float) -> None:
        self._step = max(0, base_ms) / 1000
        self._end = first_poll + self._step
        burst = sub.burst_linger_ms / 1000 if self._step > 0 else 0.0
        self._burst_end = first_poll + max(self._step, burst)
        self._rate = max(1, sub.burst_rate)
        self._since = since
        self._n = 0  # records when the last window started
        self._empty = 0  # windows in a row that brought no record

    def wait(self, now: float, n: int) -> float:
        """Seconds still to wait for more records with ``n`` in the batch at ``now`` (0: hand it
        over now)."""
        left = self._end - now
        if left >= 0.001:  # the Kafka adapter polls in whole milliseconds
            return left
        self._empty = self._empty + 1 if n == self._n else 0
        self._n = n
        elapsed = now - self._since
        if (
            now < self._burst_end
            and elapsed > 0
            and n / elapsed >= self._rate
            and self._empty < self.QUIET_WINDOWS
        ):
            self._end = min(now + self._step, self._burst_end)
            return self._end - now
        return 0.0


class EventBus(Protocol):
    """Both adapters implement exactly this; ``tests/contract`` runs one suite against both."""

    async def start(self) -> None: ...

    async def stop(self) -> None: ...

    async def publish(self, records: Sequence[Record]) -> None:
        """Return only when every record is durably stored (Kafka: acks=all)."""
        ...

    def subscribe(self, subscription: Subscription[Any]) -> None:
        """Register a consumer before ``start``."""
        ...

    async def healthy(self) -> bool: ...


def to_record(envelope: Envelope[Any]) -> Record:
    key, value, headers = encode(envelope)
    return Record(topic=envelope.topic, key=key, value=value, headers=tuple(headers))


def envelope_decoder(registry: dict[str, type[Event]] | None = None) -> Decoder[Envelope[Event]]:
    """A decoder for CloudEvents-enveloped contract events (raises ContractError → DLQ)."""
    reg = registry if registry is not None else EVENT_TYPES

    def _decode(record: Record) -> Envelope[Event]:
        return decode(record.value, record.headers, reg)

    return _decode
