"""Prometheus metrics of the rating use cases (no enterprise or bank ids as labels)."""

from __future__ import annotations

from prometheus_client import Counter

RATINGS_ISSUED = Counter(
    "rating_ratings_issued_total",
    "Ratings issued, by reason (inputs changed, re-rating cycle, objection revision, ...) and label",
    ["reason", "label"],
)
