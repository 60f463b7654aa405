"""The rating function: inputs + methodology → score, label, vetoes, confidence, drivers, gap.

Pure and deterministic: all arithmetic in ``Decimal`` under a fixed local context, results
quantized to 0.01 with banker's rounding, every collection in a stable order. The same inputs
and methodology version give the same rating bit for bit.

The work is split so the gap search is cheap: ``_context`` computes everything that does not
depend on the enterprise's own intensity once (peers, facts-based sub-scores, vetoes); only the
three intensity-driven sub-scores are recomputed for each candidate intensity.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import ROUND_HALF_EVEN, Context, Decimal, localcontext

from carbon_rating.domain import subscores as ss
from carbon_rating.domain.inputs import Intensity, RatingInputs
from carbon_rating.domain.intensity import PeerRanking, intensity_on, own_intensity
from carbon_rating.domain.methodology import LABELS, SUB_SCORES, Methodology
from carbon_rating.domain.periods import shift, window_set
from carbon_rating.domain.result import Driver, Gap, RatingResult, SubScoreView
from carbon_rating.domain.stage import StageDecision, decide

CENT = Decimal("0.01")
_CTX = Context(prec=28, rounding=ROUND_HALF_EVEN)


def q(x: Decimal) -> Decimal:
    return x.quantize(CENT, rounding=ROUND_HALF_EVEN)


def label_for(m: Methodology, score: Decimal) -> str:
    """The best label whose threshold the score reaches (thresholds strictly descend)."""
    return next(b.label for b in m.labels if score >= b.min_score)


def worse(a: str, b: str) -> str:
    return a if LABELS.index(a) >= LABELS.index(b) else b


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


@dataclass(frozen=True, slots=True)
class _Context:
    """What does not change when only the enterprise's own window intensity changes."""

    industry: str
    own: Intensity | None
    year_before: Decimal | None
    peers: list[Decimal]
    fixed: list[ss.SubScore]
    #: weight × value of each ``fixed`` sub-score, in order (the gap search adds them as they are)
    fixed_terms: list[Decimal]
    vetoes: list[str]
    weights: dict[str, Decimal]
    stage: StageDecision


def _context(inputs: RatingInputs, m: Methodology, ranking: PeerRanking) -> _Context:
    periods = window_set(inputs.as_of_period, m.window_months)
    ent = inputs.enterprise
    own = own_intensity(inputs.accounts, periods)
    peers: list[Decimal] = []
    year_before = None
    if own is not None:
        peers = ranking.excluding(ent.credit_code, own.basis)  # sorted, without the enterprise itself
        earlier = window_set(shift(inputs.as_of_period, -12), m.window_months)
        year_before = intensity_on(inputs.accounts, earlier, own.basis)
    facts = [f for f in inputs.facts if f.period in periods]
    in_window = [a for a in inputs.accounts if a.period in periods]
    mean_dq = (
        sum((a.data_quality_score for a in in_window), Decimal(0)) / len(in_window) if in_window else None
    )
    compliance, serious = ss.compliance(m, facts)
    market, overdraft = ss.market_conduct(m, ent.ets_participant, facts)
    fixed = [ss.forward_looking(m, facts), compliance, market, ss.data_quality(mean_dq)]
    hits = (("serious_env_penalty", serious), ("ets_overdraft", overdraft))
    vetoes = [code for code, hit in hits if hit and code in m.vetoes]
    stage = decide(ent.transition_stage, m.stage_rules, facts)
    weights = effective_weights(m, stage.stage, {s.name for s in fixed if not s.applicable})
    terms = [weights[s.name] * (s.value if s.value is not None else m.missing_score) for s in fixed]
    return _Context(ent.industry_code, own, year_before, peers, fixed, terms, vetoes, weights, stage)


def _subscores(ctx: _Context, m: Methodology, own: Intensity | None) -> list[ss.SubScore]:
    return [
        ss.current_performance(m, ctx.industry, own, ctx.peers),
        ss.improvement(m, own, ctx.year_before),
        *ctx.fixed,
        ss.leader_gap(m, ctx.industry, own, ctx.peers),
    ]


def _score_only(ctx: _Context, m: Methodology, own: Intensity | None) -> Decimal:
    """The score alone, for another own intensity: the same terms added in the same order as
    ``_subscores`` lists them (Decimal addition is rounded, so the order is kept), without building
    the sub-scores' notes and evidence (the gap search calls this ~15 times per rating)."""
    w, missing = ctx.weights, m.missing_score
    cp = ss.current_performance_value(m, ctx.industry, own, ctx.peers)
    imp = ss.improvement_value(m, own, ctx.year_before)
    lg = ss.leader_gap_value(m, ctx.industry, own, ctx.peers)
    total = Decimal(0)
    total += w["current_performance"] * (cp if cp is not None else missing)
    total += w["improvement"] * (imp if imp is not None else missing)
    for term in ctx.fixed_terms:
        total += term
    total += w["leader_gap"] * (lg if lg is not None else missing)
    return q(total)


def _score(ctx: _Context, m: Methodology) -> tuple[Decimal, dict[str, SubScoreView], Decimal]:
    views: dict[str, SubScoreView] = {}
    score = coverage = Decimal(0)
    for s in sorted(_subscores(ctx, m, ctx.own), key=lambda s: _ORDER[s.name]):
        w = ctx.weights[s.name]
        value = s.value if s.value is not None else m.missing_score
        views[s.name] = SubScoreView(
            q(value), s.value is not None, w, s.evidence, s.applicable, s.note, s.facts
        )
        score += w * value
        coverage += w * s.evidence
    dq = views["data_quality"].facts.get("pcaf_score")
    penalty = m.p("dq_confidence_penalty_per_point")
    dq_factor = Decimal(1) - penalty * (Decimal(dq) - 1) if dq else Decimal("0.5")
    confidence = max(Decimal(0), min(Decimal(1), coverage * dq_factor))
    return q(score), views, q(confidence)


_ORDER = {name: i for i, name in enumerate(SUB_SCORES)}


def _drivers(m: Methodology, views: dict[str, SubScoreView]) -> tuple[tuple[Driver, ...], tuple[Driver, ...]]:
    neutral, top = m.p("neutral_score"), int(m.p("top_drivers"))
    contrib = [Driver(n, q(v.weight * (v.value - neutral))) for n, v in sorted(views.items()) if v.weight > 0]
    up = sorted((d for d in contrib if d.contribution > 0), key=lambda d: (-d.contribution, d.sub_score))
    down = sorted((d for d in contrib if d.contribution < 0), key=lambda d: (d.contribution, d.sub_score))
    return tuple(up[:top]), tuple(down[:top])


def _gap(ctx: _Context, m: Methodology, score: Decimal, label: str) -> Gap:
    """The next label up, the points missing, and the window-intensity cut that alone would reach it
    (bisection on the intensity: every intensity-driven sub-score is monotone in it)."""
    idx = LABELS.index(label)
    if idx == 0:
        return Gap(None, None, None, note="already at the best label")
    target = m.labels[idx - 1]
    blocked = tuple(v for v in ctx.vetoes if LABELS.index(m.vetoes[v].cap) >= idx)
    if blocked:
        return Gap(target.label, None, None, blocked, note="a veto caps the label: it must be lifted first")
    points = q(target.min_score - score)
    if ctx.own is None:
        return Gap(target.label, points, None, note="no intensity: report output or revenue first")
    own = ctx.own

    def reaches(factor: Decimal) -> bool:
        return _score_only(ctx, m, Intensity(own.basis, own.value * factor)) >= target.min_score

    lo, hi = Decimal("0.01"), Decimal(1)  # share of today's intensity kept
    if not reaches(lo):
        return Gap(target.label, points, None, note="an intensity cut alone cannot reach the next label")
    for _ in range(14):  # to ~0.01% of intensity
        mid = (lo + hi) / 2
        lo, hi = (mid, hi) if reaches(mid) else (lo, mid)
    cut = ((Decimal(1) - lo) * 100).quantize(Decimal("0.1"), rounding="ROUND_CEILING")
    return Gap(target.label, points, cut, note="intensity cut over the rating window, everything else equal")


def rate(inputs: RatingInputs, m: Methodology, ranking: PeerRanking | None = None) -> RatingResult:
    """Rate one enterprise as of ``inputs.as_of_period`` under methodology ``m``.

    ``ranking``: the peers' sorted intensities, shared by the members of one peer group (it must
    rank ``inputs.peers``); built here when not given."""
    if ranking is None or ranking.peers is not inputs.peers:
        ranking = PeerRanking(inputs.peers)
    with localcontext(_CTX):
        ctx = _context(inputs, m, ranking)
        score, views, confidence = _score(ctx, m)
        uncapped = label_for(m, score)
        label = uncapped
        for v in ctx.vetoes:
            label = worse(label, m.vetoes[v].cap)
        up, down = _drivers(m, views)
        own = ctx.own
        return RatingResult(
            credit_code=inputs.enterprise.credit_code,
            as_of_period=inputs.as_of_period,
            industry_code=inputs.enterprise.industry_code,
            stage=ctx.stage.stage,
            stage_source=ctx.stage.source,
            declared_stage=ctx.stage.declared,
            stage_reason=ctx.stage.reason,
            stage_evidence=ctx.stage.evidence,
            score=score,
            label=label,
            uncapped_label=uncapped,
            confidence=confidence,
            methodology_version=m.version,
            sub_scores=views,
            vetoes=tuple(ctx.vetoes),
            drivers_up=up,
            drivers_down=down,
            gap=_gap(ctx, m, score, label),
            intensity=None if own is None else own.value.quantize(Decimal("0.000001")),
            intensity_basis=None if own is None else own.basis,
        )
