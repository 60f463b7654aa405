"""Fact and submission ids: UUID version 7 text, unique, ordered by their millisecond."""

from __future__ import annotations

import time
import uuid

from carbon_common.db import time_ordered_id
from carbon_ingest.service_layer.submissions import Clock


def test_ids_are_uuid7_unique_and_time_ordered() -> None:
    first = [time_ordered_id() for _ in range(300)]  # more than one urandom buffer (128 ids)
    time.sleep(0.002)
    later = time_ordered_id()
    parsed = uuid.UUID(later)
    assert parsed.version == 7 and parsed.variant == uuid.RFC_4122 and str(parsed) == later
    assert len(set(first)) == len(first)
    assert all(
        i < later for i in first
    )  # a later millisecond sorts after (text, as PostgreSQL's C collation)
    ms = int(later.replace("-", "")[:12], 16)
    assert abs(ms - time.time_ns() // 1_000_000) < 60_000


def test_the_service_clock_draws_time_ordered_ids() -> None:
    assert uuid.UUID(Clock().new_id()).version == 7
