"""Prometheus metrics shared by the infrastructure (names follow Prometheus conventions)."""

from __future__ import annotations

from prometheus_client import Counter, Gauge, Histogram

BUS_PROCESSED = Counter(
    "bus_records_processed_total", "Records consumed and applied or dead-lettered", ["group"]
)
BUS_DLQ = Counter("bus_records_dead_lettered_total", "Records sent to a dead-letter topic", ["group"])
BUS_RETRIES = Counter("bus_batch_retries_total", "Batch retries by kind (transient/error)", ["group", "kind"])
BUS_PUBLISHED = Counter("bus_records_published_total", "Records published", ["topic"])
BUS_BATCH_SECONDS = Histogram("bus_batch_duration_seconds", "Time to apply one consumed batch", ["group"])
CONSUMER_LAG = Gauge(
    "bus_consumer_lag_records", "Records behind the log end", ["group", "topic", "partition"]
)
OUTBOX_PENDING = Gauge("outbox_pending_records", "Outbox rows not yet published", ["service"])
OUTBOX_RELAYED = Counter("outbox_relayed_total", "Outbox rows published by the relay", ["service"])
