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
    name: str = field(default="")

    def __post_init__(self) -> None:
        if not self.name:
            self.name = f"{self.group}:{','.join(self.topics)}"


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
