"""Small, exact statistics for the report (nearest-rank percentiles, rates)."""

from __future__ import annotations

import math
from collections.abc import Sequence


def percentile(values: Sequence[float], q: float) -> float | None:
    """Nearest-rank percentile (``q`` in 0..100); None for no values."""
    if not values:
        return None
    ordered = sorted(values)
    rank = max(1, math.ceil(q / 100 * len(ordered)))
    return ordered[min(rank, len(ordered)) - 1]


def rate(count: int, seconds: float | None) -> float | None:
    return count / seconds if seconds and seconds > 0 else None


def rounded(x: float | None, digits: int = 3) -> float | None:
    return None if x is None else round(x, digits)
