"""Prometheus metrics shared by the infrastructure (names follow Prometheus conventions).

Every service exposes them on ``/metrics`` (``carbon_common.http``). Labels are low-cardinality
by design: service, consumer group, topic, partition, route template, method, status, a reason
class; never an enterprise, bank or record id. ``docs/observability.md`` lists them with alerts.
"""

from __future__ import annotations

from prometheus_client import Counter, Gauge, Histogram

# --- HTTP (names as the OpenTelemetry semantic conventions map to Prometheus) ---------------------
HTTP_DURATION = Histogram(
    "http_server_request_duration_seconds",
    "Duration of HTTP server requests, by route template, method and status",
    ["service", "http_request_method", "http_route", "http_response_status_code"],
    buckets=(0.005, 0.01, 0.025, 0.05, 0.075, 0.1, 0.25, 0.5, 0.75, 1.0, 2.5, 5.0, 7.5, 10.0),
)
HTTP_ACTIVE = Gauge("http_server_active_requests", "HTTP requests in flight", ["service"])
READY = Gauge(
    "service_readiness_check", "Outcome of each readiness check at the last /readyz (1 ok, 0 failing)",
    ["service", "check"],
)  # fmt: skip

# --- event bus ------------------------------------------------------------------------------------
BUS_PROCESSED = Counter(
    "bus_records_processed_total", "Records consumed and applied or dead-lettered", ["group", "topic"]
)
#: reason: undecodable (contract/JSON), poison (the handler named it), handler_error (failed repeatedly)
BUS_DLQ = Counter(
    "bus_records_dead_lettered_total", "Records sent to a dead-letter topic, by reason class",
    ["group", "topic", "reason"],
)  # fmt: skip
BUS_RETRIES = Counter("bus_batch_retries_total", "Batch retries by kind (transient/error)", ["group", "kind"])
BUS_PUBLISHED = Counter("bus_records_published_total", "Records published", ["topic"])
BUS_BATCH_SECONDS = Histogram("bus_batch_duration_seconds", "Time to apply one consumed batch", ["group"])
CONSUMER_LAG = Gauge(
    "bus_consumer_lag_records", "Records behind the log end", ["group", "topic", "partition"]
)

# --- outbox ---------------------------------------------------------------------------------------
OUTBOX_PENDING = Gauge("outbox_pending_records", "Outbox records not yet published", ["service"])
OUTBOX_AGE = Gauge(
    "outbox_oldest_pending_age_seconds", "Age of the oldest outbox row not yet published (0 when none)",
    ["service"],
)  # fmt: skip
OUTBOX_RELAYED = Counter(
    "outbox_relayed_total",
    "Records published by the outbox relay (a copy to a row's copy topic counts too)",
    ["service"],
)


def dlq_reason_class(reason: str) -> str:
    """The low-cardinality label for a dead-letter reason text (the text itself goes in the header)."""
    if reason.startswith("undecodable"):
        return "undecodable"
    if reason.startswith("handler error"):
        return "handler_error"
    return "poison"
