"""The transition stage a rating uses: the directory's declared stage, or one derived from evidence.

The directory (名录库) declares a stage for every enterprise; a methodology may carry
``stage_rules`` that derive the stage from transition evidence instead. Rules are tried in order
and the first whose conditions all hold gives the stage (source ``evidence``); when none holds —
including when the evidence a rule needs is missing — the declared stage stays (source
``directory``). A condition is ``at_least`` (>=) or ``below`` (<) on an evidence measure; a rule
may also apply only to some declared stages (``declared``).

Only evidence that does not depend on the enterprise's own emission intensity is allowed
(reduction-capex share, transition-plan milestones): a stage derived from intensity would change
the weights when the intensity changes, and a lower intensity could then lower the score.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from decimal import Decimal

from carbon_rating.domain.inputs import ConductFact

#: evidence measures a stage rule may test, each a share in 0..1
MEASURES = ("reduction_capex_share", "milestones_met_share")
SOURCES = ("directory", "evidence")


@dataclass(frozen=True, slots=True)
class StageRule:
    stage: str
    at_least: Mapping[str, Decimal] = field(default_factory=dict)
    below: Mapping[str, Decimal] = field(default_factory=dict)
    reason: str = ""
    #: the declared stages the rule applies to (empty: any)
    declared: tuple[str, ...] = ()

    def holds(self, declared: str, evidence: Mapping[str, Decimal | None]) -> bool:
        if self.declared and declared not in self.declared:
            return False
        for name, bound in self.at_least.items():
            value = evidence.get(name)
            if value is None or value < bound:
                return False
        for name, bound in self.below.items():
            value = evidence.get(name)
            if value is None or value >= bound:
                return False
        return True


@dataclass(frozen=True, slots=True)
class StageDecision:
    stage: str
    source: str  # "directory" | "evidence"
    declared: str
    rule: int | None = None  # index of the rule that applied
    reason: str = ""
    evidence: dict[str, str] = field(default_factory=dict)


def _sum(facts: Sequence[ConductFact], indicator: str) -> Decimal:
    return sum((f.value for f in facts if f.indicator == indicator), Decimal(0))


def _latest(facts: Sequence[ConductFact], indicator: str) -> Decimal | None:
    rows = sorted((f for f in facts if f.indicator == indicator), key=lambda f: f.period)
    return rows[-1].value if rows else None


def evidence(facts: Sequence[ConductFact]) -> dict[str, Decimal | None]:
    """The stage evidence in the rating window's facts (None where not reported)."""
    total_capex = _sum(facts, "finance.total_capex")
    planned = _latest(facts, "transition.milestones_planned")
    met = _latest(facts, "transition.milestones_met")
    return {
        "reduction_capex_share": _sum(facts, "finance.reduction_capex") / total_capex
        if total_capex > 0
        else None,
        "milestones_met_share": (met or Decimal(0)) / planned
        if planned is not None and planned > 0
        else None,
    }


def decide(declared: str, rules: Sequence[StageRule], facts: Sequence[ConductFact]) -> StageDecision:
    """The stage to rate under, and where it came from."""
    if not rules:
        return StageDecision(declared, "directory", declared, reason="declared in the directory")
    ev = evidence(facts)
    shown = {k: str(v) for k, v in ev.items() if v is not None}
    for i, rule in enumerate(rules):
        if rule.holds(declared, ev):
            return StageDecision(rule.stage, "evidence", declared, i, rule.reason, shown)
    return StageDecision(
        declared,
        "directory",
        declared,
        reason="no stage rule matched the evidence: declared stage",
        evidence=shown,
    )
