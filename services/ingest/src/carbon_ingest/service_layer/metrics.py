"""Prometheus metrics of the ingest use cases (standard ``_total`` counter naming)."""

from __future__ import annotations

from prometheus_client import Counter

RECORDS = Counter(
    "ingest_records_total",
    "Submitted records by outcome (accepted, duplicate, correction, rejected) and channel",
    ["outcome", "channel"],
)
FLAGS = Counter("ingest_quality_flags_raised_total", "Cross-validation flags raised", ["indicator"])
