"""The rating function: inputs + methodology → score, label, vetoes, confidence, drivers, gap.

Pure and deterministic: all arithmetic in ``Decimal`` under a fixed local context, results
quantized to 0.01 with banker's rounding, every collection in a stable order. The same inputs
and methodology version give the same rating bit for bit.
"""

from __future__ import annotations

import dataclasses
from decimal import ROUND_HALF_EVEN, Context, Decimal, localcontext

from carbon_rating.domain import subscores as ss
from carbon_rating.domain.inputs import RatingInputs
from carbon_rating.domain.intensity import intensity_on, own_intensity
from carbon_rating.domain.methodology import LABELS, Methodology
from carbon_rating.domain.periods import shift, window
from carbon_rating.domain.result import Driver, Gap, RatingResult, SubScoreView

CENT = Decimal("0.01")
_CTX = Context(prec=28, rounding=ROUND_HALF_EVEN)


def q(x: Decimal) -> Decimal:
    return x.quantize(CENT, rounding=ROUND_HALF_EVEN)


def label_for(m: Methodology, score: Decimal) -> str:
    """The best label whose threshold the score reaches (thresholds strictly descend)."""
    return next(b.label for b in m.labels if score >= b.min_score)


def worse(a: str, b: str) -> str:
    return a if LABELS.index(a) >= LABELS.index(b) else b


def _subscores(inputs: RatingInputs, m: Methodology) -> tuple[list[ss.SubScore], list[str], ss.SubScore]:
    periods = set(window(inputs.as_of_period, m.window_months))
    earlier = set(window(shift(inputs.as_of_period, -12), m.window_months))
    ent = inputs.enterprise
    own = own_intensity(inputs.accounts, periods)
    peers: list[Decimal] = []
    year_before = None
    if own is not None:
        for code in sorted(inputs.peer_accounts):
            if code == ent.credit_code:
                continue
            v = intensity_on(inputs.peer_accounts[code], periods, own.basis)
            if v is not None:
                peers.append(v)
        year_before = intensity_on(inputs.accounts, earlier, own.basis)
    facts = [f for f in inputs.facts if f.period in periods]
    window_accounts = [a for a in inputs.accounts if a.period in periods]
    mean_dq = (
        sum((a.data_quality_score for a in window_accounts), Decimal(0)) / len(window_accounts)
        if window_accounts
        else None
    )
    compliance, serious = ss.compliance(m, facts)
    market, overdraft = ss.market_conduct(m, ent.ets_participant, facts)
    current = ss.current_performance(m, ent.industry_code, own, peers)
    subs = [
        current,
        ss.improvement(m, own, year_before),
        ss.forward_looking(m, facts),
        compliance,
        market,
        ss.data_quality(mean_dq),
        ss.leader_gap(m, ent.industry_code, own, peers),
    ]
    vetoes = [code for code, hit in (("serious_env_penalty", serious), ("ets_overdraft", overdraft)) if hit]
    return subs, [v for v in vetoes if v in m.vetoes], current


def effective_weights(m: Methodology, stage: str, not_applicable: set[str]) -> dict[str, Decimal]:
    """Stage weights, with each non-applicable sub-score's weight moved where the methodology says
    (exact decimals: the result still sums to exactly 1)."""
    weights = dict(m.weights[stage])
    for name in sorted(not_applicable):
        target = m.reassign.get(name)
        if target is None or target in not_applicable:
            raise ValueError(f"methodology {m.version}: no applicable target for {name}'s weight")
        weights[target] += weights[name]
        weights[name] = Decimal(0)
    return weights


def _score(
    inputs: RatingInputs, m: Methodology
) -> tuple[Decimal, dict[str, SubScoreView], list[str], Decimal]:
    subs, vetoes, _ = _subscores(inputs, m)
    weights = effective_weights(
        m, inputs.enterprise.transition_stage, {s.name for s in subs if not s.applicable}
    )
    views: dict[str, SubScoreView] = {}
    score = Decimal(0)
    coverage = Decimal(0)
    for s in subs:
        w = weights[s.name]
        value = s.value if s.value is not None else m.missing_score
        views[s.name] = SubScoreView(
            value=q(value),
            observed=s.value is not None,
            weight=w,
            evidence=s.evidence,
            applicable=s.applicable,
            note=s.note,
            facts=s.facts,
        )
        score += w * value
        coverage += w * s.evidence
    dq = views["data_quality"].facts.get("pcaf_score")
    dq_factor = (
        Decimal(1) - m.p("dq_confidence_penalty_per_point") * (Decimal(dq) - 1) if dq else Decimal("0.5")
    )
    confidence = max(Decimal(0), min(Decimal(1), coverage * dq_factor))
    return q(score), views, vetoes, q(confidence)


def _drivers(m: Methodology, views: dict[str, SubScoreView]) -> tuple[tuple[Driver, ...], tuple[Driver, ...]]:
    neutral, top = m.p("neutral_score"), int(m.p("top_drivers"))
    contrib = [Driver(n, q(v.weight * (v.value - neutral))) for n, v in sorted(views.items()) if v.weight > 0]
    up = sorted((d for d in contrib if d.contribution > 0), key=lambda d: (-d.contribution, d.sub_score))
    down = sorted((d for d in contrib if d.contribution < 0), key=lambda d: (d.contribution, d.sub_score))
    return tuple(up[:top]), tuple(down[:top])


def _scaled(inputs: RatingInputs, m: Methodology, factor: Decimal) -> RatingInputs:
    periods = set(window(inputs.as_of_period, m.window_months))
    accounts = tuple(
        dataclasses.replace(a, total_tco2=a.total_tco2 * factor) if a.period in periods else a
        for a in inputs.accounts
    )
    return dataclasses.replace(inputs, accounts=accounts)


def _gap(
    inputs: RatingInputs, m: Methodology, score: Decimal, label: str, uncapped: str, vetoes: list[str]
) -> Gap:
    idx = LABELS.index(label)
    if idx == 0:
        return Gap(None, None, None, note="already at the best label")
    target = m.labels[idx - 1]
    blocked = tuple(v for v in vetoes if LABELS.index(m.vetoes[v].cap) >= idx)
    if blocked:
        return Gap(target.label, None, None, blocked, note="a veto caps the label: it must be lifted first")
    points = q(target.min_score - score)
    lo, hi = Decimal("0.01"), Decimal(1)  # emission factor: 1 = as is
    if _score(_scaled(inputs, m, lo), m)[0] < target.min_score:
        return Gap(target.label, points, None, note="an intensity cut alone cannot reach the next label")
    for _ in range(24):  # bisection: the score is monotone in intensity
        mid = (lo + hi) / 2
        if _score(_scaled(inputs, m, mid), m)[0] >= target.min_score:
            lo = mid
        else:
            hi = mid
    cut = ((Decimal(1) - lo) * 100).quantize(Decimal("0.1"), rounding="ROUND_CEILING")
    return Gap(target.label, points, cut, note="intensity cut over the rating window, everything else equal")


def rate(inputs: RatingInputs, m: Methodology) -> RatingResult:
    """Rate one enterprise as of ``inputs.as_of_period`` under methodology ``m``."""
    with localcontext(_CTX):
        score, views, vetoes, confidence = _score(inputs, m)
        uncapped = label_for(m, score)
        label = uncapped
        for v in vetoes:
            label = worse(label, m.vetoes[v].cap)
        up, down = _drivers(m, views)
        gap = _gap(inputs, m, score, label, uncapped, vetoes)
        own = own_intensity(inputs.accounts, set(window(inputs.as_of_period, m.window_months)))
        return RatingResult(
            credit_code=inputs.enterprise.credit_code,
            as_of_period=inputs.as_of_period,
            industry_code=inputs.enterprise.industry_code,
            stage=inputs.enterprise.transition_stage,
            score=score,
            label=label,
            uncapped_label=uncapped,
            confidence=confidence,
            methodology_version=m.version,
            sub_scores=views,
            vetoes=tuple(vetoes),
            drivers_up=up,
            drivers_down=down,
            gap=gap,
            intensity=None if own is None else own.value.quantize(Decimal("0.000001")),
            intensity_basis=None if own is None else own.basis,
        )
