"""Period arithmetic on ``YYYY-MM`` strings (the accounting month of every event)."""

from __future__ import annotations


def shift(period: str, months: int) -> str:
    """``shift("2024-03", -12) == "2023-03"``."""
    year, month = int(period[:4]), int(period[5:7])
    index = year * 12 + (month - 1) + months
    return f"{index // 12:04d}-{index % 12 + 1:02d}"


def window(end: str, months: int) -> list[str]:
    """The ``months`` periods ending at (and including) ``end``, oldest first."""
    return [shift(end, -k) for k in range(months - 1, -1, -1)]
