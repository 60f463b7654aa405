"""Objections (异议复核): the state machine and the answer deadline.

States: ``open`` → ``in_review`` → one of ``upheld`` (the rating is confirmed), ``revised`` (a new
rating is issued, marked as a revision), ``rejected`` (the objection is not admissible or not
founded); ``open``/``in_review`` → ``withdrawn`` by the enterprise. Decided states are final;
every other transition is refused with ``IllegalTransition``.

The deadline is counted in working days (Monday–Friday) from filing; the default of 20 follows the
answer period for objections in the PBOC credit-reporting regulation 征信业管理条例. Public holidays
are not modelled yet (a holiday calendar would be configuration, not code).
"""

from __future__ import annotations

from datetime import datetime, timedelta

OPEN, IN_REVIEW = "open", "in_review"
OUTCOMES = ("upheld", "revised", "rejected")
FINAL = (*OUTCOMES, "withdrawn")

_ALLOWED: dict[str, tuple[str, ...]] = {
    OPEN: (IN_REVIEW, *OUTCOMES, "withdrawn"),
    IN_REVIEW: (*OUTCOMES, "withdrawn"),
}


class IllegalTransition(Exception):
    def __init__(self, current: str, wanted: str) -> None:
        super().__init__(f"an objection in state {current!r} cannot become {wanted!r}")
        self.current = current
        self.wanted = wanted


def is_open(status: str) -> bool:
    """Awaiting a decision (what lending's approval track acts on)."""
    return status in (OPEN, IN_REVIEW)


def sequence(status: str) -> int:
    """Grows along every allowed path (1 filed, 2 in review, 3 final): the order key of the
    objection's published changes, so a consumer never lets a stale change win."""
    return {OPEN: 1, IN_REVIEW: 2}.get(status, 3)


def transition(current: str, wanted: str) -> str:
    """Return ``wanted`` if allowed from ``current``, else raise ``IllegalTransition``."""
    if wanted not in _ALLOWED.get(current, ()):
        raise IllegalTransition(current, wanted)
    return wanted


def due_date(filed_at: datetime, working_days: int) -> datetime:
    """``filed_at`` plus ``working_days`` Monday–Friday days (same time of day)."""
    day = filed_at
    left = working_days
    while left > 0:
        day += timedelta(days=1)
        if day.weekday() < 5:
            left -= 1
    return day


def is_overdue(status: str, due_at: datetime, now: datetime) -> bool:
    return status not in FINAL and now > due_at
