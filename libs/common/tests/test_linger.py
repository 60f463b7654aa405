"""The consumer linger policy both buses share (``carbon_common.bus.port.Linger``), on a fake clock.

A part-filled batch waits ``linger_ms`` from its first poll; during a burst (records arriving at
``burst_rate`` per second or faster on average since the last hand-over) it keeps waiting, window
by window, while that average holds, up to ``burst_linger_ms``; a trickle never waits longer."""

from __future__ import annotations

from typing import Any

import pytest

from carbon_common.bus import Subscription
from carbon_common.bus.port import Linger


def sub(burst_ms: int = 1000, rate: int = 1000) -> Subscription[Any]:
    async def handler(batch: Any) -> None:  # never called
        raise AssertionError

    return Subscription("g", ["t"], lambda r: r, handler, burst_linger_ms=burst_ms, burst_rate=rate)


def test_a_trickle_waits_the_plain_linger_only() -> None:
    # handed over at 0.0, first poll at 0.5 with 10 records: 10 / 0.6 s ≈ 17/s, far below 1,000/s
    p = Linger(sub(), 100, first_poll=0.5, since=0.0)
    assert p.wait(0.5, 10) == pytest.approx(0.1)
    assert p.wait(0.55, 12) == pytest.approx(0.05)
    assert p.wait(0.6, 12) == 0.0


def test_a_burst_keeps_the_batch_open_window_by_window_up_to_the_burst_linger() -> None:
    p = Linger(sub(burst_ms=350), 100, first_poll=1.0, since=0.9)
    assert p.wait(1.0, 100) == pytest.approx(0.1)
    # 300 records in 0.2 s since the hand-over: 1,500/s, a burst: another window of 100 ms
    assert p.wait(1.1, 300) == pytest.approx(0.1)
    # no record in this window (between two clumps upstream), 300 in 0.3 s: still 1,000/s
    assert p.wait(1.2, 300) == pytest.approx(0.1)
    assert p.wait(1.3, 600) == pytest.approx(0.05)  # capped at first poll + 350 ms
    assert p.wait(1.35, 700) == 0.0  # the burst linger is used up, whatever the rate


def test_a_burst_that_stops_hands_the_batch_over() -> None:
    p = Linger(sub(burst_ms=5000), 100, first_poll=1.0, since=0.9)
    assert p.wait(1.1, 300) == pytest.approx(0.1)  # 1,500/s
    assert p.wait(1.2, 320) == pytest.approx(0.1)  # 1,067/s on average
    assert p.wait(1.3, 320) == 0.0  # nothing more: 800/s, below the rate


def test_the_rate_counts_from_the_last_hand_over_not_from_the_first_poll() -> None:
    # 150 records waited while the last batch was handled (0.0 → 1.0): 150/s at 1.1, no burst,
    # although the first poll returned them all at once
    p = Linger(sub(), 100, first_poll=1.0, since=0.0)
    assert p.wait(1.0, 150) == pytest.approx(0.1)
    assert p.wait(1.1, 160) == 0.0


def test_no_burst_linger_or_no_linger_at_all() -> None:
    off = Linger(sub(burst_ms=0), 100, first_poll=1.0, since=0.99)
    assert off.wait(1.1, 10_000) == 0.0
    none = Linger(sub(burst_ms=5000), 0, first_poll=1.0, since=0.99)
    assert none.wait(1.0, 10_000) == 0.0


def test_windows_in_a_row_without_records_end_the_burst() -> None:
    # the average (3,000 in 0.4 s: 7,500/s) would hold for another 2.6 s; the stream stopped
    p = Linger(sub(burst_ms=5000), 100, first_poll=1.0, since=0.9)
    assert p.wait(1.1, 1500) == pytest.approx(0.1)
    assert p.wait(1.2, 3000) == pytest.approx(0.1)
    quiet = Linger.QUIET_WINDOWS
    for k in range(1, quiet):  # mid-burst gaps between upstream's clumps: keep waiting
        assert p.wait(1.2 + 0.1 * k, 3000) == pytest.approx(0.1)
    assert p.wait(1.2 + 0.1 * quiet, 3000) == 0.0
