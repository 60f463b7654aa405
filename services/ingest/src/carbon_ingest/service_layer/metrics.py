"""Prometheus metrics of the ingest use cases (standard ``_total`` counter naming)."""

from __future__ import annotations

from prometheus_client import Counter, Gauge

RECORDS = Counter(
    "ingest_records_total",
    "Submitted records by outcome (accepted, duplicate, correction, rejected) and channel",
    ["outcome", "channel"],
)
FLAGS = Counter("ingest_quality_flags_raised_total", "Cross-validation flags raised", ["indicator"])
EVIDENCE_CHAIN_LENGTH = Gauge(
    "ingest_evidence_chain_length", "Entries in the hash-chained evidence log (as of the last append)"
)
PLAUSIBILITY_FLAGS = Counter(
    "ingest_plausibility_flags_raised_total",
    "Plausibility flags raised (a month far from the enterprise's own median)",
    ["indicator"],
)
