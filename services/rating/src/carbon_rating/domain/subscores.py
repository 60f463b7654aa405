"""The six sub-scores (plus the mature stage's leader gap), each 0–100 with its evidence.

Every function returns a ``SubScore``: ``value`` None means no evidence (the rating substitutes
the methodology's neutral ``missing_score`` and confidence drops by the weight), ``evidence`` is
the share of the weight that counts towards confidence (1 = observed, less for a fallback), and
``applicable`` False means the sub-score does not apply (its weight is redistributed), e.g.
carbon-market conduct for an enterprise outside the ETS. Monotonicity matters: for fixed peers a
lower own intensity never lowers current performance, improvement or leader gap.
"""

from __future__ import annotations

from bisect import bisect_left, bisect_right
from collections.abc import Sequence
from dataclasses import dataclass, field
from decimal import Decimal

from carbon_rating.domain.inputs import ConductFact, Intensity
from carbon_rating.domain.methodology import Methodology

HUNDRED = Decimal(100)


@dataclass(slots=True)  # not frozen, for construction speed: see ``domain/result.py``
class SubScore:
    name: str
    value: Decimal | None
    evidence: Decimal = Decimal(1)
    applicable: bool = True
    note: str = ""
    facts: dict[str, str] = field(default_factory=dict)


_ZERO = Decimal(0)


def clamp(x: Decimal) -> Decimal:
    """``max(Decimal(0), min(HUNDRED, x))``, with the same result object on ties (``min`` and
    ``max`` keep their first argument), without the two calls."""
    if not x < HUNDRED:
        x = HUNDRED
    return x if x > _ZERO else _ZERO


def _benchmark_score(m: Methodology, ratio: Decimal) -> Decimal:
    best, worst = m.p("benchmark_ratio_best"), m.p("benchmark_ratio_worst")
    return clamp(HUNDRED * (worst - ratio) / (worst - best))


def current_performance_value(
    m: Methodology, industry: str, own: Intensity | None, peers: Sequence[Decimal]
) -> Decimal | None:
    """The value of ``current_performance`` alone (the gap search needs only values)."""
    if own is None:
        return None
    if len(peers) + 1 >= m.p("min_peer_group"):
        # peers arrive sorted (``rating._context``), and the gap search calls this ~15 times per
        # rating: count by bisection rather than by scanning every peer
        below, not_above = bisect_left(peers, own.value), bisect_right(peers, own.value)
        worse = len(peers) - not_above
        ties = not_above - below
        return HUNDRED * (Decimal(worse) + Decimal(ties) / 2) / Decimal(len(peers))
    bench = m.benchmark(industry, own.basis.split(":", 1)[1] if ":" in own.basis else None)
    if bench is None:
        return None
    return _benchmark_score(m, own.value / bench.intensity)


def current_performance(
    m: Methodology, industry: str, own: Intensity | None, peers: Sequence[Decimal]
) -> SubScore:
    """Percentile among same-industry peers (share of peers with a higher intensity, ties half).

    ``peers`` must be sorted ascending (as ``rating._context`` builds them)."""
    name = "current_performance"
    if own is None:
        return SubScore(name, None, Decimal(0), note="no intensity: output or revenue missing")
    value = current_performance_value(m, industry, own, peers)
    if len(peers) + 1 >= m.p("min_peer_group"):
        return SubScore(
            name,
            value,
            note=f"percentile among {len(peers) + 1} peers",
            facts={"intensity": str(own.value), "basis": own.basis, "peer_group": str(len(peers) + 1)},
        )
    bench = m.benchmark(industry, own.basis.split(":", 1)[1] if ":" in own.basis else None)
    if bench is None:
        return SubScore(
            name,
            None,
            Decimal(0),
            note=f"peer group of {len(peers) + 1} too small and no benchmark",
            facts={"intensity": str(own.value), "basis": own.basis},
        )
    return SubScore(
        name,
        value,
        m.p("benchmark_confidence"),
        note=f"peer group of {len(peers) + 1} too small: compared with the industry benchmark",
        facts={
            "intensity": str(own.value),
            "basis": own.basis,
            "benchmark": str(bench.intensity),
            "benchmark_source": bench.source,
        },
    )


def _cut_pct(now: Intensity, year_before: Decimal) -> Decimal:
    return (year_before - now.value) / year_before * HUNDRED


def improvement_value(m: Methodology, now: Intensity | None, year_before: Decimal | None) -> Decimal | None:
    """The value of ``improvement`` alone."""
    if now is None or year_before is None or year_before <= 0:
        return None
    return clamp(Decimal(50) + m.p("improvement_points_per_pct") * _cut_pct(now, year_before))


def improvement(m: Methodology, now: Intensity | None, year_before: Decimal | None) -> SubScore:
    """Year-on-year change of the window intensity: 50 + points per percent cut."""
    value = improvement_value(m, now, year_before)
    if now is None or year_before is None or value is None:
        return SubScore(
            "improvement", None, Decimal(0), note="no intensity for the same window a year earlier"
        )
    cut_pct = _cut_pct(now, year_before)
    return SubScore("improvement", value, facts={"yoy_cut_pct": str(cut_pct), "previous": str(year_before)})


def _leader(
    m: Methodology, industry: str, own: Intensity, peers: Sequence[Decimal]
) -> tuple[Decimal, Decimal] | None:
    """(leader intensity, evidence), or None without peers and benchmark."""
    if len(peers) + 1 >= m.p("min_peer_group"):
        # == sorted([*peers, own.value]) for sorted peers (a stable sort puts own after its ties)
        # (indexed without building the list: the gap search calls this ~15 times per rating)
        at = bisect_right(peers, own.value)
        k = int(
            (Decimal(len(peers) + 1) * m.p("leader_percentile") / HUNDRED).to_integral_value(
                rounding="ROUND_CEILING"
            )
        )
        i = max(k, 1) - 1
        return (peers[i] if i < at else own.value if i == at else peers[i - 1]), Decimal(1)
    bench = m.benchmark(industry, own.basis.split(":", 1)[1] if ":" in own.basis else None)
    if bench is None:
        return None
    return bench.intensity * m.p("leader_fallback_ratio"), m.p("benchmark_confidence")


def leader_gap_value(
    m: Methodology, industry: str, own: Intensity | None, peers: Sequence[Decimal]
) -> Decimal | None:
    """The value of ``leader_gap`` alone."""
    if own is None or own.value <= 0:
        return None
    found = _leader(m, industry, own, peers)
    return None if found is None else clamp(HUNDRED * found[0] / own.value)


def leader_gap(m: Methodology, industry: str, own: Intensity | None, peers: Sequence[Decimal]) -> SubScore:
    """Mature stage: how close the enterprise is to the industry's leaders (best decile).

    ``peers`` must be sorted ascending (as ``rating._context`` builds them)."""
    if own is None or own.value <= 0:
        return SubScore("leader_gap", None, Decimal(0), note="no intensity")
    found = _leader(m, industry, own, peers)
    if found is None:
        return SubScore("leader_gap", None, Decimal(0), note="no peers and no benchmark")
    leader, evidence = found
    return SubScore(
        "leader_gap", clamp(HUNDRED * leader / own.value), evidence, facts={"leader_intensity": str(leader)}
    )


def _sum(facts: Sequence[ConductFact], indicator: str) -> Decimal:
    return sum((f.value for f in facts if f.indicator == indicator), Decimal(0))


def _latest(facts: Sequence[ConductFact], indicator: str) -> Decimal | None:
    rows = sorted((f for f in facts if f.indicator == indicator), key=lambda f: f.period)
    return rows[-1].value if rows else None


def forward_looking(m: Methodology, facts: Sequence[ConductFact]) -> SubScore:
    """Mean of reduction-capex share and transition milestones met (whichever are reported)."""
    # one pass: the capex sums in fact order (as ``_sum``), the latest milestones by period with
    # the later fact winning a tie (as ``_latest``'s stable sort)
    total_capex = reduction = _ZERO
    planned_f: ConductFact | None = None
    met_f: ConductFact | None = None
    for f in facts:
        ind = f.indicator
        if ind == "finance.total_capex":
            total_capex += f.value
        elif ind == "finance.reduction_capex":
            reduction += f.value
        elif ind == "transition.milestones_planned":
            if planned_f is None or f.period >= planned_f.period:
                planned_f = f
        elif ind == "transition.milestones_met" and (met_f is None or f.period >= met_f.period):
            met_f = f
    parts: list[Decimal] = []
    info: dict[str, str] = {}
    if total_capex > 0:
        share = reduction / total_capex
        parts.append(clamp(HUNDRED * share / m.p("capex_share_full_marks")))
        info["reduction_capex_share"] = str(share)
    planned = None if planned_f is None else planned_f.value
    met = None if met_f is None else met_f.value
    if planned is not None and planned > 0:
        parts.append(clamp(HUNDRED * (met or Decimal(0)) / planned))
        info["milestones"] = f"{met or 0}/{planned}"
    if not parts:
        return SubScore("forward_looking", None, Decimal(0), note="no capex or transition-plan facts")
    return SubScore("forward_looking", sum(parts, Decimal(0)) / len(parts), facts=info)


def compliance(m: Methodology, facts: Sequence[ConductFact]) -> tuple[SubScore, bool]:
    """100 minus penalty points; also says whether a serious penalty occurred (a veto)."""
    rows = [f for f in facts if f.indicator.startswith("compliance.")]
    if not rows:
        return SubScore("compliance", None, Decimal(0), note="no compliance facts received"), False
    points = Decimal(0)
    serious = False
    counts: dict[str, Decimal] = {}
    for f in rows:
        if f.indicator == "compliance.env_penalty":
            severity = str(f.attributes.get("severity", "major"))
            key = (
                f"env_penalty_{severity}"
                if f"env_penalty_{severity}" in m.penalty_points
                else "env_penalty_major"
            )
            points += m.penalty_points[key] * f.value
            counts[key] = counts.get(key, Decimal(0)) + f.value
            serious = serious or (severity == "serious" and f.value > 0)
        elif f.indicator == "compliance.permit_violation":
            points += m.penalty_points["permit_violation"] * f.value
            counts["permit_violation"] = counts.get("permit_violation", Decimal(0)) + f.value
    facts_out = {k: str(v) for k, v in sorted(counts.items())}
    return SubScore("compliance", clamp(HUNDRED - points), facts=facts_out), serious


def market_conduct(
    m: Methodology, ets_participant: bool, facts: Sequence[ConductFact]
) -> tuple[SubScore, bool]:
    """ETS behaviour: late surrender, borrowing and overdraft deduct points; overdraft is a veto."""
    rows = [f for f in facts if f.indicator.startswith("ets.")]
    if not ets_participant and not rows:
        return SubScore(
            "market_conduct", None, Decimal(0), applicable=False, note="not an ETS participant"
        ), False
    if not rows:
        return SubScore("market_conduct", None, Decimal(0), note="no ETS facts received"), False
    late = any(
        f.indicator == "ets.surrendered"
        and str(f.attributes.get("on_time", True)).lower() in ("false", "0", "no")
        for f in rows
    )
    borrowed, overdraft = _sum(rows, "ets.borrowed"), _sum(rows, "ets.overdraft")
    pp = m.penalty_points
    points = (pp["ets_late_surrender"] if late else 0) + (pp["ets_borrowed"] if borrowed > 0 else 0)
    points += pp["ets_overdraft"] if overdraft > 0 else 0
    info = {"late_surrender": str(late).lower(), "borrowed_t": str(borrowed), "overdraft_t": str(overdraft)}
    return SubScore("market_conduct", clamp(HUNDRED - Decimal(points)), facts=info), overdraft > 0


def data_quality(mean_dq: Decimal | None) -> SubScore:
    """PCAF-like 1 (verified reported) … 5 (sector average) mapped linearly to 100 … 0."""
    if mean_dq is None:
        return SubScore("data_quality", None, Decimal(0), note="no accounts")
    return SubScore(
        "data_quality", clamp((Decimal(5) - mean_dq) / 4 * HUNDRED), facts={"pcaf_score": str(mean_dq)}
    )
