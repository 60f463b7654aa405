"""The event bus port and its two adapters (Kafka, in-process), which share one contract suite."""

from carbon_common.bus.port import (
    BatchHandler,
    Decoded,
    Decoder,
    EventBus,
    PoisonRecord,
    Record,
    Subscription,
    envelope_decoder,
    to_record,
)

__all__ = [
    "BatchHandler",
    "Decoded",
    "Decoder",
    "EventBus",
    "PoisonRecord",
    "Record",
    "Subscription",
    "envelope_decoder",
    "to_record",
]
