"""Prometheus metrics of the ingest use cases (standard ``_total`` counter naming)."""

from __future__ import annotations

from prometheus_client import Counter, Gauge, Histogram

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
GROUP_SUBMISSIONS = Histogram(
    "ingest_group_commit_submissions",
    "HTTP submissions written per group-commit transaction",
    buckets=(1, 2, 4, 8, 16, 32, 64, 128, 256),
)
GROUP_SECONDS = Histogram(
    "ingest_group_commit_seconds",
    "Time to write one group-commit transaction (phase 1 of the group, chain append, COMMIT)",
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5),
)
