"""The rating function: inputs + methodology → score, label, vetoes, confidence, drivers, gap.

Pure and deterministic: all arithmetic in ``Decimal`` under a fixed local context, results
quantized to 0.01 with banker's rounding, every collection in a stable order. The same inputs
and methodology version give the same rating bit for bit.

The work is split so the gap search is cheap: ``_context`` computes everything that does not
depend on the enterprise's own intensity once (peers, facts-based sub-scores, vetoes); only the
three intensity-driven sub-scores are recomputed for each candidate intensity (``_Scorer``, with
what does not depend on the intensity worked out once per rating).

And so that re-rating is cheap when nothing a reader sees changes: ``assess`` gives the outcome
(score, label, vetoes, stage) and ``Assessment.result`` completes it with the drivers and the
gap, which re-rating computes only for the ratings it issues. ``rate`` is both in one.
"""

from __future__ import annotations

from bisect import bisect_left, bisect_right
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


class _Scorer:
    """``_score_only`` at other values of the own intensity (on ``ctx.own``'s basis), for the gap
    search: the same operations in the same order, with everything that does not depend on the
    intensity (weights, the peer-group test, the benchmark, the leader's rank) taken once.
    Must run under the rating's decimal context (``_CTX``), as ``_score_only`` does."""

    __slots__ = (
        "bench",
        "best",
        "fixed",
        "leader_at",
        "leader_bench",
        "missing",
        "n",
        "peers",
        "ppp",
        "w_cp",
        "w_imp",
        "w_lg",
        "worst",
        "year_before",
    )

    def __init__(self, ctx: _Context, m: Methodology, basis: str) -> None:
        w = ctx.weights
        self.w_cp, self.w_imp, self.w_lg = w["current_performance"], w["improvement"], w["leader_gap"]
        self.missing = m.missing_score
        self.fixed = ctx.fixed_terms
        self.peers = ctx.peers
        self.n = n = len(ctx.peers)
        unit = basis.split(":", 1)[1] if ":" in basis else None
        in_group = n + 1 >= m.p("min_peer_group")
        # current performance: the percentile among peers (``n``), else the benchmark, else None
        bench = None if in_group else m.benchmark(ctx.industry, unit)
        self.bench = bench.intensity if bench is not None else None
        self.best, self.worst = m.p("benchmark_ratio_best"), m.p("benchmark_ratio_worst")
        # improvement
        yb = ctx.year_before
        self.year_before = yb if yb is not None and yb > 0 else None
        self.ppp = m.p("improvement_points_per_pct")
        # leader gap: the leader's index among the peers plus oneself (``_leader``), else the benchmark
        self.leader_at: int | None = None
        self.leader_bench: Decimal | None = None
        if in_group:
            k = int(
                (Decimal(n + 1) * m.p("leader_percentile") / ss.HUNDRED).to_integral_value(
                    rounding="ROUND_CEILING"
                )
            )
            self.leader_at = max(k, 1) - 1
        elif bench is not None:
            self.leader_bench = bench.intensity * m.p("leader_fallback_ratio")
        if not in_group:
            self.n = -1  # marks "no peer group"

    def __call__(self, value: Decimal) -> Decimal:
        hundred, clamp, missing = ss.HUNDRED, ss.clamp, self.missing
        peers, n = self.peers, self.n
        # current_performance_value
        if n >= 0:
            below, not_above = bisect_left(peers, value), bisect_right(peers, value)
            cp: Decimal | None = (
                hundred * (Decimal(n - not_above) + Decimal(not_above - below) / 2) / Decimal(n)
            )
        elif self.bench is not None:
            ratio = value / self.bench
            cp = clamp(hundred * (self.worst - ratio) / (self.worst - self.best))
        else:
            cp = None
        # improvement_value
        yb = self.year_before
        imp = None if yb is None else clamp(Decimal(50) + self.ppp * ((yb - value) / yb * hundred))
        # leader_gap_value
        lg: Decimal | None = None
        if value > 0:
            i = self.leader_at
            if i is not None:
                at = bisect_right(peers, value)
                leader = peers[i] if i < at else value if i == at else peers[i - 1]
                lg = clamp(hundred * leader / value)
            elif self.leader_bench is not None:
                lg = clamp(hundred * self.leader_bench / value)
        total = Decimal(0)
        total += self.w_cp * (cp if cp is not None else missing)
        total += self.w_imp * (imp if imp is not None else missing)
        for term in self.fixed:
            total += term
        total += self.w_lg * (lg if lg is not None else missing)
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
    own, scorer, goal = ctx.own.value, _Scorer(ctx, m, ctx.own.basis), target.min_score

    def reaches(factor: Decimal) -> bool:
        return scorer(own * factor) >= goal

    lo, hi = Decimal("0.01"), Decimal(1)  # share of today's intensity kept
    if not reaches(lo):
        return Gap(target.label, points, None, note="an intensity cut alone cannot reach the next label")
    for _ in range(14):  # to ~0.01% of intensity
        mid = (lo + hi) / 2
        lo, hi = (mid, hi) if reaches(mid) else (lo, mid)
    cut = ((Decimal(1) - lo) * 100).quantize(Decimal("0.1"), rounding="ROUND_CEILING")
    return Gap(target.label, points, cut, note="intensity cut over the rating window, everything else equal")


@dataclass(frozen=True, slots=True)
class Assessment:
    """A rating's outcome — what a reader sees change: score, label, vetoes, stage, methodology —
    before the parts that only explain it (drivers, the gap to the next label). ``result()``
    completes it; it is the same as ``rate`` with the same inputs."""

    inputs: RatingInputs
    m: Methodology
    ctx: _Context
    score: Decimal
    views: dict[str, SubScoreView]
    confidence: Decimal
    uncapped: str
    label: str

    @property
    def stage(self) -> str:
        return self.ctx.stage.stage

    @property
    def vetoes(self) -> tuple[str, ...]:
        return tuple(self.ctx.vetoes)

    def same_outcome(
        self, score: Decimal, label: str, vetoes: tuple[str, ...], version: str, stage: str
    ) -> bool:
        """As ``RatingResult.same_outcome``: identical inputs must not issue a new rating."""
        return (self.score, self.label, self.vetoes, self.m.version, self.stage) == (
            score,
            label,
            tuple(vetoes),
            version,
            stage,
        )

    def result(self) -> RatingResult:
        ctx, m, inputs = self.ctx, self.m, self.inputs
        with localcontext(_CTX):
            up, down = _drivers(m, self.views)
            gap = _gap(ctx, m, self.score, self.label)
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
                score=self.score,
                label=self.label,
                uncapped_label=self.uncapped,
                confidence=self.confidence,
                methodology_version=m.version,
                sub_scores=self.views,
                vetoes=tuple(ctx.vetoes),
                drivers_up=up,
                drivers_down=down,
                gap=gap,
                intensity=None if own is None else own.value.quantize(Decimal("0.000001")),
                intensity_basis=None if own is None else own.basis,
            )


def assess(inputs: RatingInputs, m: Methodology, ranking: PeerRanking | None = None) -> Assessment:
    """The outcome of rating ``inputs`` under ``m`` (see ``rate``); ``.result()`` completes it."""
    if ranking is None or ranking.peers is not inputs.peers:
        ranking = PeerRanking(inputs.peers)
    with localcontext(_CTX):
        ctx = _context(inputs, m, ranking)
        score, views, confidence = _score(ctx, m)
        uncapped = label_for(m, score)
        label = uncapped
        for v in ctx.vetoes:
            label = worse(label, m.vetoes[v].cap)
    return Assessment(inputs, m, ctx, score, views, confidence, uncapped, label)


def rate(inputs: RatingInputs, m: Methodology, ranking: PeerRanking | None = None) -> RatingResult:
    """Rate one enterprise as of ``inputs.as_of_period`` under methodology ``m``.

    ``ranking``: the peers' sorted intensities, shared by the members of one peer group (it must
    rank ``inputs.peers``); built here when not given."""
    return assess(inputs, m, ranking).result()
