"""The transition stage from the directory, or derived from evidence by methodology stage rules
(methodology v2): which source applied, the weights that follow, validation of the rules, and the
monotonicity property under derived stages. Pure domain, no I/O."""

from __future__ import annotations

import random
from decimal import Decimal
from importlib import resources

import pytest
import yaml

from carbon_rating.domain.inputs import AccountMonth, ConductFact, EnterpriseProfile, PeerTotals, RatingInputs
from carbon_rating.domain.intensity import totals
from carbon_rating.domain.methodology import STAGES, MethodologyError, parse_methodology
from carbon_rating.domain.periods import window
from carbon_rating.domain.rating import rate
from carbon_rating.domain.stage import StageRule, decide, evidence
from carbon_rating.methodology import load

V1, V2 = load("v1"), load("v2")
END = "2024-12"


def plan(met: int, planned: int = 5, capex: tuple[int, int] | None = None) -> list[ConductFact]:
    facts = [
        ConductFact("transition.milestones_planned", "2024-03", Decimal(planned)),
        ConductFact("transition.milestones_met", "2024-11", Decimal(met)),
    ]
    if capex is not None:
        reduction, total = capex
        facts += [
            ConductFact("finance.total_capex", "2024-06", Decimal(total)),
            ConductFact("finance.reduction_capex", "2024-06", Decimal(reduction)),
        ]
    return facts


def inputs(stage: str, facts: list[ConductFact], intensity: str = "0.8", peers: int = 6) -> RatingInputs:
    def months(code_intensity: Decimal) -> tuple[AccountMonth, ...]:
        out = Decimal(100000)
        return tuple(
            AccountMonth(p, code_intensity * out, out, "MWh", None, Decimal(2)) for p in window(END, 24)
        )

    periods = set(window(END, 12))
    peer_totals: tuple[PeerTotals, ...] = tuple(
        totals(f"PEER{i:014d}", months(Decimal("0.6") + Decimal(i) / 20), periods) for i in range(peers)
    )
    ent = EnterpriseProfile("91140400MA00000017", "测试焦化", "4411", "140400", "large", stage, False)
    return RatingInputs(ent, END, months(Decimal(intensity)), tuple(facts), peer_totals)


def test_v1_has_no_stage_rules_so_the_directory_stage_is_used() -> None:
    r = rate(inputs("early", plan(5)), V1)
    assert (r.stage, r.stage_source, r.declared_stage) == ("early", "directory", "early")


def test_declared_early_with_most_milestones_met_is_rated_mid_from_evidence() -> None:
    r = rate(inputs("early", plan(4)), V2)
    assert (r.stage, r.stage_source, r.declared_stage) == ("mid", "evidence", "early")
    assert "60%" in r.stage_reason and r.stage_evidence == {"milestones_met_share": "0.8"}
    # the weights are mid's, not early's 40% forward-looking
    assert r.sub_scores["forward_looking"].weight == V2.weights["mid"]["forward_looking"]
    assert r == rate(inputs("early", plan(4)), V2)  # deterministic, stage included


def test_declared_mid_without_progress_or_investment_is_rated_early() -> None:
    r = rate(inputs("mid", plan(0, capex=(2, 100))), V2)
    assert (r.stage, r.stage_source, r.declared_stage) == ("early", "evidence", "mid")
    assert r.sub_scores["forward_looking"].weight == Decimal("0.40")


@pytest.mark.parametrize(
    ("declared", "facts", "why"),
    [
        ("mid", [], "no transition facts: nothing to derive from"),
        ("early", plan(2), "early with 40% of milestones met stays early"),
        ("mature", plan(0, capex=(30, 100)), "a 30% reduction-capex share: one condition fails"),
        ("mature", plan(0), "capex not reported: a rule needing it cannot hold"),
        ("early", plan(0, capex=(0, 100)), "the demotion rule does not apply to a declared early stage"),
    ],
)
def test_the_declared_stage_stays_when_no_rule_holds(
    declared: str, facts: list[ConductFact], why: str
) -> None:
    r = rate(inputs(declared, facts), V2)
    assert (r.stage, r.stage_source) == (declared, "directory"), why


def test_evidence_measures_and_first_matching_rule_wins() -> None:
    facts = plan(3, capex=(10, 40))
    assert evidence(facts) == {
        "reduction_capex_share": Decimal("0.25"),
        "milestones_met_share": Decimal("0.6"),
    }
    assert evidence([]) == {"reduction_capex_share": None, "milestones_met_share": None}
    rules = (
        StageRule("mature", {"milestones_met_share": Decimal("0.5")}, reason="first"),
        StageRule("mid", {"milestones_met_share": Decimal("0.1")}, reason="second"),
    )
    d = decide("early", rules, facts)
    assert (d.stage, d.source, d.rule, d.reason) == ("mature", "evidence", 0, "first")
    assert decide("early", (), facts).source == "directory"


@pytest.mark.parametrize("seed", range(30))
def test_lower_intensity_never_lowers_the_score_with_derived_stages(seed: int) -> None:
    rnd = random.Random(500 + seed)
    declared = rnd.choice(STAGES)
    facts = plan(rnd.randint(0, 5), capex=rnd.choice([None, (rnd.randint(0, 50), 100)]))
    a, b = sorted(f"{rnd.uniform(0.3, 1.4):.4f}" for _ in range(2))
    low, high = rate(inputs(declared, facts, a), V2), rate(inputs(declared, facts, b), V2)
    assert low.stage == high.stage  # the stage never depends on the intensity
    assert low.score >= high.score, (a, b, low.score, high.score)


def _v2() -> dict:
    return yaml.safe_load(resources.files("carbon_rating.methodology").joinpath("v2.yaml").read_text("utf-8"))


@pytest.mark.parametrize(
    ("rule", "field"),
    [
        ({"stage": "late", "at_least": {"milestones_met_share": "0.5"}}, "stage_rules[0].stage"),
        ({"stage": "mid", "at_least": {"intensity": "0.5"}}, "stage_rules[0].at_least.intensity"),
        ({"stage": "mid"}, "stage_rules[0]"),
        (
            {"stage": "mid", "at_least": {"milestones_met_share": "1.5"}},
            "stage_rules[0].at_least.milestones_met_share",
        ),
        (
            {
                "stage": "mid",
                "at_least": {"milestones_met_share": "0.6"},
                "below": {"milestones_met_share": "0.4"},
            },
            "stage_rules[0].below.milestones_met_share",
        ),
        (
            {"stage": "mid", "declared": ["late"], "below": {"milestones_met_share": "0.4"}},
            "stage_rules[0].declared",
        ),
    ],
)
def test_a_bad_stage_rule_is_refused_naming_the_field(rule: dict, field: str) -> None:
    data = _v2()
    data["stage_rules"] = [rule]
    with pytest.raises(MethodologyError) as err:
        parse_methodology(data)
    assert err.value.field == field
