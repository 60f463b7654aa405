"""(a) The uninterrupted baseline is right; (d) replaying the same submissions changes nothing."""

from __future__ import annotations

from decimal import Decimal

import pytest

from carbon_bureau.pilot.dataset import PilotDataset
from carbon_common.events import Topics
from tests.fault import scenario
from tests.fault import state as st
from tests.fault.conftest import Baseline

pytestmark = pytest.mark.integration
#: tCO2; both sides round each fact to 6 decimals (as the demo's check, ``summary.py``)
TOLERANCE = Decimal("0.01")
EMITTED = (Topics.FACTS, Topics.CREDIT_FACTS, Topics.ACCOUNTS, Topics.RATINGS)


async def test_baseline_accounts_match_the_generator(baseline: Baseline, pilot: PilotDataset) -> None:
    expected: dict[str, dict[str, list[str]]] = pilot.expectations["emissions"]["by_enterprise"]
    snap = baseline.snapshot
    # accounts row: credit_code, period, method, s1 combustion, s1 process, s2 location, …, total (8)
    got = {(r[0], r[1]): (r[3], r[4], r[5], r[8]) for r in snap["accounting"]}
    want = {(code, period): tuple(row) for code, months in expected.items() for period, row in months.items()}
    assert set(got) == set(want), sorted(set(got) ^ set(want))[:5]
    off = [
        (key, got[key], want[key])
        for key in want
        if any(abs(Decimal(g) - Decimal(w)) > TOLERANCE for g, w in zip(got[key], want[key], strict=True))
    ]
    assert not off, off[:3]
    counts = pilot.expectations["counts"]
    assert len(snap["rating"]) == len(snap["lending"]) == counts["enterprises"]
    assert [r[0] for r in snap["rating"]] == [r[0] for r in snap["lending"]]
    # lending's read model holds exactly rating's current score and label
    assert [(r[0], r[3], r[4]) for r in snap["rating"]] == [(r[0], r[1], r[2]) for r in snap["lending"]]
    assert {(r[0], r[1], r[3]) for r in snap["rating_accounts"]} == {
        (r[0], r[1], r[8]) for r in snap["accounting"]
    }, "rating's read model of the accounts differs from accounting's accounts"


async def test_replaying_the_same_submissions_changes_nothing(
    baseline: Baseline, pilot: PilotDataset
) -> None:
    dep = baseline.deployment
    before_state = await st.state(dep)
    assert before_state == baseline.snapshot
    before = await st.topic_counts(dep, *EMITTED)

    again = await scenario.replay(dep, pilot)
    after_state = await scenario.settle(dep)
    after = await st.topic_counts(dep, *EMITTED)

    changed = st.differences(baseline.snapshot, after_state)
    assert not changed and after == before and again.accepted == 0, (
        f"the second replay of the same submissions was not a no-op: ingest accepted {again.accepted} "
        f"records again; events {before} -> {after}; state changes: {changed}"
    )
