"""Pure domain tests: properties of the rating function and the pilot's scenarios (no I/O)."""

from __future__ import annotations

import dataclasses
import random
from decimal import Decimal

import pytest

from carbon_rating.domain.inputs import AccountMonth, ConductFact, EnterpriseProfile, PeerTotals, RatingInputs
from carbon_rating.domain.intensity import totals
from carbon_rating.domain.methodology import LABELS, STAGES
from carbon_rating.domain.periods import shift, window
from carbon_rating.domain.rating import label_for, rate, worse
from carbon_rating.methodology import load

M = load("v1")
ME = "91140400MA00000017"


def months(end: str, n: int, intensity: Decimal, output: Decimal = Decimal(100000), dq: str = "2"):
    return tuple(
        AccountMonth(p, intensity * output, output, "MWh", None, Decimal(dq)) for p in window(end, n)
    )


def profile(stage: str = "mid", industry: str = "4411", ets: bool = False) -> EnterpriseProfile:
    return EnterpriseProfile(ME, "测试电厂", industry, "140400", "large", stage, ets)


def peers(end: str, values: list[str]) -> tuple[PeerTotals, ...]:
    periods = set(window(end, M.window_months))
    return tuple(totals(f"PEER{i:014d}", months(end, 12, Decimal(v)), periods) for i, v in enumerate(values))


def inputs(
    intensity: str,
    *,
    stage: str = "mid",
    prior: str | None = None,
    facts=(),
    peer_values=None,
    industry: str = "4411",
    ets: bool = False,
) -> RatingInputs:
    end = "2024-12"
    accts = months(end, 12, Decimal(intensity))
    if prior is not None:
        accts = months(shift(end, -12), 12, Decimal(prior)) + accts
    return RatingInputs(
        profile(stage, industry, ets), end, accts, tuple(facts), peers(end, peer_values or [])
    )


def test_weights_per_stage_sum_to_one() -> None:
    for stage in STAGES:
        assert sum(M.weights[stage].values()) == Decimal(1)


def test_early_stage_forward_looking_is_forty_percent() -> None:
    assert M.weights["early"]["forward_looking"] == Decimal("0.40")


def test_labels_are_monotone_in_score() -> None:
    ranks = [LABELS.index(label_for(M, Decimal(s) / 4)) for s in range(0, 401)]
    assert ranks == sorted(ranks, reverse=True)
    assert label_for(M, Decimal("79.99")) == "light_green" and label_for(M, Decimal(80)) == "dark_green"


@pytest.mark.parametrize("seed", range(40))
def test_lower_intensity_never_lowers_the_score(seed: int) -> None:
    rnd = random.Random(seed)
    stage = rnd.choice(STAGES)
    peer_values = [f"{rnd.uniform(0.5, 1.2):.4f}" for _ in range(rnd.choice([0, 2, 6, 12]))]
    prior = rnd.choice([None, f"{rnd.uniform(0.5, 1.2):.4f}"])
    a, b = sorted([Decimal(f"{rnd.uniform(0.3, 1.4):.4f}") for _ in range(2)])
    low = rate(inputs(str(a), stage=stage, prior=prior, peer_values=peer_values), M)
    high = rate(inputs(str(b), stage=stage, prior=prior, peer_values=peer_values), M)
    assert low.score >= high.score, (a, b, low.score, high.score)


@pytest.mark.parametrize("seed", range(20))
def test_a_veto_never_raises_a_label(seed: int) -> None:
    rnd = random.Random(1000 + seed)
    intensity = f"{rnd.uniform(0.3, 1.4):.4f}"
    clean = rate(
        inputs(intensity, ets=True, facts=[ConductFact("compliance.env_penalty", "2024-05", Decimal(0))]), M
    )
    vetoed = rate(
        inputs(
            intensity,
            ets=True,
            facts=[
                ConductFact("compliance.env_penalty", "2024-05", Decimal(1), {"severity": "serious"}),
                ConductFact("ets.overdraft", "2024-06", Decimal(rnd.randint(1, 5000)), {}),
            ],
        ),
        M,
    )
    assert LABELS.index(vetoed.label) >= LABELS.index(clean.label)
    assert set(vetoed.vetoes) == {"serious_env_penalty", "ets_overdraft"}
    assert worse("yellow", "red") == "red"


def test_deterministic_bit_for_bit() -> None:
    i = inputs("0.79", prior="0.85", peer_values=["0.7", "0.8", "0.9", "0.95", "0.81"])
    assert rate(i, M) == rate(dataclasses.replace(i, peers=tuple(reversed(i.peers))), M)


def test_missing_inputs_are_explicit_and_lower_confidence() -> None:
    bare = rate(inputs("0.8"), M)
    subs = bare.sub_scores
    assert not subs["improvement"].observed and subs["improvement"].value == M.missing_score
    assert not subs["forward_looking"].observed
    assert not subs["market_conduct"].applicable and subs["market_conduct"].weight == 0
    richer = rate(
        inputs(
            "0.8",
            prior="0.8",
            facts=[
                ConductFact("finance.total_capex", "2024-03", Decimal(1000)),
                ConductFact("finance.reduction_capex", "2024-03", Decimal(100)),
                ConductFact("compliance.env_penalty", "2024-03", Decimal(0)),
            ],
        ),
        M,
    )
    assert richer.confidence > bare.confidence


def test_small_peer_group_falls_back_to_benchmark_and_coking_has_none() -> None:
    power = rate(inputs("0.81", peer_values=["0.7", "0.9"]), M)
    assert "benchmark" in power.sub_scores["current_performance"].facts
    assert power.sub_scores["current_performance"].value == Decimal("50.00")  # at the benchmark
    coking = rate(inputs("0.81", industry="2521", peer_values=["0.7"]), M)
    assert not coking.sub_scores["current_performance"].observed


def test_pilot_story_coal_power_cuts_intensity_twelve_percent_and_turns_green() -> None:
    """domain-data.md §1: an enterprise upgraded from yellow to green after cutting intensity 12%."""
    peer_values = ["0.80", "0.82", "0.84", "0.86", "0.88", "0.90"]
    clean = [
        ConductFact("compliance.env_penalty", "2024-04", Decimal(0)),
        ConductFact("ets.surrendered", "2024-12", Decimal(800000), {"on_time": True}),
    ]
    before = rate(inputs("0.85", prior="0.85", facts=clean, peer_values=peer_values, ets=True), M)
    # 12% cut and ultra-low-emission retrofit financed as reduction capex (25% of capex)
    retrofit = [
        *clean,
        ConductFact("finance.total_capex", "2024-06", Decimal(40000)),
        ConductFact("finance.reduction_capex", "2024-06", Decimal(10000)),
    ]
    after = rate(
        inputs(
            str(Decimal("0.85") * Decimal("0.88")),
            prior="0.85",
            facts=retrofit,
            peer_values=peer_values,
            ets=True,
        ),
        M,
    )
    assert before.label == "yellow"
    assert after.label in ("light_green", "dark_green")


def test_early_stage_coking_with_strong_transition_is_not_red_on_intensity_alone() -> None:
    peer_values = ["0.40", "0.42", "0.45", "0.47", "0.50", "0.52"]
    invest = [
        ConductFact("finance.total_capex", "2024-03", Decimal(10000)),
        ConductFact("finance.reduction_capex", "2024-03", Decimal(4000)),
        ConductFact("transition.milestones_planned", "2024-06", Decimal(5)),
        ConductFact("transition.milestones_met", "2024-12", Decimal(5)),
    ]
    worst = rate(inputs("0.80", stage="early", industry="2521", facts=invest, peer_values=peer_values), M)
    assert worst.sub_scores["current_performance"].value == Decimal(0)
    assert worst.label != "red"
    idle = rate(inputs("0.80", stage="early", industry="2521", peer_values=peer_values), M)
    assert worst.score > idle.score


def test_serious_violation_caps_the_label_and_says_so() -> None:
    peer_values = ["0.9", "0.95", "1.0", "1.05", "1.1"]
    facts = [ConductFact("compliance.env_penalty", "2024-08", Decimal(1), {"severity": "serious"})]
    r = rate(inputs("0.6", prior="0.75", facts=facts, peer_values=peer_values), M)
    assert r.vetoes == ("serious_env_penalty",)
    assert r.label == "red" and r.uncapped_label != "red"
    assert r.gap.blocked_by == ("serious_env_penalty",)


def test_gap_gives_the_intensity_cut_that_reaches_the_next_label() -> None:
    peer_values = ["0.80", "0.82", "0.84", "0.86", "0.88", "0.90"]
    r = rate(inputs("0.85", prior="0.85", peer_values=peer_values), M)
    assert r.gap.next_label is not None and r.gap.intensity_cut_pct is not None
    cut = r.gap.intensity_cut_pct / 100
    reached = rate(inputs(str(Decimal("0.85") * (1 - cut)), prior="0.85", peer_values=peer_values), M)
    assert LABELS.index(reached.label) < LABELS.index(r.label)
    assert r.gap.points_needed == M.band(r.gap.next_label).min_score - r.score


def test_drivers_are_ordered_contributions() -> None:
    r = rate(inputs("0.7", prior="0.9", peer_values=["0.8", "0.9", "1.0", "1.1", "1.2"]), M)
    ups = [d.contribution for d in r.drivers_up]
    assert ups == sorted(ups, reverse=True) and all(c > 0 for c in ups)
    assert r.drivers_up[0].sub_score in ("current_performance", "improvement")
