"""Period arithmetic on ``YYYY-MM`` strings (the accounting month of every event)."""

from __future__ import annotations

from functools import lru_cache


@lru_cache(maxsize=4096)
def shift(period: str, months: int) -> str:
    """``shift("2024-03", -12) == "2023-03"``."""
    year, month = int(period[:4]), int(period[5:7])
    index = year * 12 + (month - 1) + months
    return f"{index // 12:04d}-{index % 12 + 1:02d}"


@lru_cache(maxsize=4096)
def window(end: str, months: int) -> tuple[str, ...]:
    """The ``months`` periods ending at (and including) ``end``, oldest first.

    Memoised (a consumer batch asks for the same few windows for every enterprise it rates), so
    the result is an immutable tuple."""
    return tuple(shift(end, -k) for k in range(months - 1, -1, -1))


@lru_cache(maxsize=4096)
def window_set(end: str, months: int) -> frozenset[str]:
    """``frozenset(window(end, months))``, memoised: membership tests of the rating window."""
    return frozenset(window(end, months))
