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
from carbon_rating.domain.inputs import ConductFact, Intensity, RatingInputs
from carbon_rating.domain.intensity import PeerRanking, intensity_on, window_intensity
from carbon_rating.domain.methodology import LABELS, SUB_SCORES, Methodology
from carbon_rating.domain.periods import shift, window_set
from carbon_rating.domain.result import Driver, Gap, RatingResult, SubScoreView
from carbon_rating.domain.stage import StageDecision, decide

CENT = Decimal("0.01")
_ZERO = Decimal(0)
_FIFTY = Decimal(50)
_HUNDRED = ss.HUNDRED
_CTX = Context(prec=28, rounding=ROUND_HALF_EVEN)


def q(x: Decimal) -> Decimal:
    return x.quantize(CENT, rounding=ROUND_HALF_EVEN)


def label_for(m: Methodology, score: Decimal) -> str:
    """The best label whose threshold the score reaches (thresholds strictly descend)."""
    for b in m.labels:
        if score >= b.min_score:
            return b.label
    raise ValueError(f"methodology {m.version}: no label for score {score}")  # (the last threshold is 0)


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


@dataclass(slots=True)  # not frozen, for construction speed: see ``domain/result.py``
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


@dataclass(frozen=True, slots=True)
class Conduct:
    """What a rating takes from the enterprise's conduct facts in its window: the three fact-based
    sub-scores, the vetoes, the stage, and the weights that stage gives.

    A function of (the facts, the as-of period, the enterprise's ETS flag and declared stage, the
    methodology) only — not of accounts or peers — so a caller that knows none of these changed
    since it last rated the enterprise may pass the same ``Conduct`` to ``assess`` again (the
    consumer does: an enterprise's facts rarely change between its re-ratings). Its sub-scores
    (and their ``facts`` dicts) are then shared by those ratings' results: read them, never change
    them."""

    forward: ss.SubScore
    compliance: ss.SubScore
    market: ss.SubScore
    vetoes: tuple[str, ...]
    stage: StageDecision
    weights: dict[str, Decimal]
    #: weight × value of ``forward``, ``compliance``, ``market``, in that order
    terms: tuple[Decimal, Decimal, Decimal]


def window_facts(inputs: RatingInputs, m: Methodology) -> list[ConductFact]:
    """The facts of ``inputs`` in the rating window, in their order."""
    periods = window_set(inputs.as_of_period, m.window_months)
    return [f for f in inputs.facts if f.period in periods]


def conduct(inputs: RatingInputs, m: Methodology, in_window: list[ConductFact] | None = None) -> Conduct:
    """The conduct part of rating ``inputs`` under ``m`` (see ``Conduct``); ``in_window``:
    ``window_facts(inputs, m)`` when the caller has it."""
    ent = inputs.enterprise
    facts = window_facts(inputs, m) if in_window is None else in_window
    with localcontext(_CTX):
        compliance, serious = ss.compliance(m, facts)
        market, overdraft = ss.market_conduct(m, ent.ets_participant, facts)
        forward = ss.forward_looking(m, facts)
        hits = (("serious_env_penalty", serious), ("ets_overdraft", overdraft))
        vetoes = tuple(code for code, hit in hits if hit and code in m.vetoes)
        stage = decide(ent.transition_stage, m.stage_rules, facts)
        # (data quality is always applicable: it never moves its weight)
        weights = effective_weights(
            m, stage.stage, {s.name for s in (forward, compliance, market) if not s.applicable}
        )
        missing = m.missing_score
        f, c, k = (
            weights[s.name] * (s.value if s.value is not None else missing)
            for s in (forward, compliance, market)
        )
    return Conduct(forward, compliance, market, vetoes, stage, weights, (f, c, k))


def _context(
    inputs: RatingInputs, m: Methodology, ranking: PeerRanking, known: Conduct | None = None
) -> _Context:
    periods = window_set(inputs.as_of_period, m.window_months)
    ent = inputs.enterprise
    in_window = [a for a in inputs.accounts if a.period in periods]
    own = window_intensity(in_window)
    peers: list[Decimal] = []
    year_before = None
    if own is not None:
        peers = ranking.excluding(ent.credit_code, own.basis)  # sorted, without the enterprise itself
        earlier = window_set(shift(inputs.as_of_period, -12), m.window_months)
        year_before = intensity_on(inputs.accounts, earlier, own.basis)
    mean_dq = None
    if in_window:
        dq_sum = _ZERO
        for a in in_window:
            dq_sum += a.data_quality_score
        mean_dq = dq_sum / len(in_window)
    cd = known if known is not None else conduct(inputs, m)
    dq = ss.data_quality(mean_dq)
    weights = cd.weights
    fixed = [cd.forward, cd.compliance, cd.market, dq]
    terms = [*cd.terms, weights[dq.name] * (dq.value if dq.value is not None else m.missing_score)]
    return _Context(
        ent.industry_code, own, year_before, peers, fixed, terms, list(cd.vetoes), weights, cd.stage
    )


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
        "dn",
        "fast",
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
        self.dn = Decimal(n)
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
        self.fast = _FastScorer.of(self)

    def __call__(self, value: Decimal) -> Decimal:
        # ``ss.clamp`` inlined (``_clamp``'s comparisons: the same object on ties) and the
        # constants taken once: the same Decimal operations on the same operands
        hundred, zero, missing = _HUNDRED, _ZERO, self.missing
        peers, n = self.peers, self.n
        # current_performance_value
        if n >= 0:
            below, not_above = bisect_left(peers, value), bisect_right(peers, value)
            cp: Decimal | None = hundred * (Decimal(n - not_above) + Decimal(not_above - below) / 2) / self.dn
        elif self.bench is not None:
            ratio = value / self.bench
            cp = hundred * (self.worst - ratio) / (self.worst - self.best)
            if not cp < hundred:
                cp = hundred
            if not cp > zero:
                cp = zero
        else:
            cp = None
        # improvement_value
        yb = self.year_before
        imp: Decimal | None = None
        if yb is not None:
            imp = _FIFTY + self.ppp * ((yb - value) / yb * hundred)
            if not imp < hundred:
                imp = hundred
            if not imp > zero:
                imp = zero
        # leader_gap_value
        lg: Decimal | None = None
        if value > 0:
            i = self.leader_at
            if i is not None:
                at = bisect_right(peers, value)
                leader = peers[i] if i < at else value if i == at else peers[i - 1]
                lg = hundred * leader / value
            elif self.leader_bench is not None:
                lg = hundred * self.leader_bench / value
            if lg is not None:
                if not lg < hundred:
                    lg = hundred
                if not lg > zero:
                    lg = zero
        total = zero
        total += self.w_cp * (cp if cp is not None else missing)
        total += self.w_imp * (imp if imp is not None else missing)
        for term in self.fixed:
            total += term
        total += self.w_lg * (lg if lg is not None else missing)
        return total.quantize(CENT, rounding=ROUND_HALF_EVEN)


#: how far (in points) the binary floating-point total must be from the rounding boundary for
#: ``_FastScorer`` to decide; its error is below 1e-12 points (see there)
_MARGIN = 1e-6
_SAFE_MIN, _SAFE_MAX = 1e-100, 1e100


def _safe(x: Decimal) -> float | None:
    """``float(x)`` when it is 0 or within 1e±100 (no overflow or underflow can follow), else None."""
    f = float(x)
    return f if f == 0.0 or _SAFE_MIN <= abs(f) <= _SAFE_MAX else None


class _FastScorer:
    """``_Scorer(value) >= goal`` decided in binary floating point when the answer is certain.

    The gap search only asks whether a candidate's score reaches the next label's threshold:
    ``q(total) >= goal``. With ``goal`` a whole number of cents, that holds exactly when the
    unrounded total is above ``goal − 0.005`` (and is decided by the rounding only at that point).
    This computes the same total from the same terms in floats: the peer counts and the leader are
    found by comparing Decimals (exact, as ``_Scorer`` does); only the arithmetic is binary. Every
    term is a value clamped to 0..100 times a weight ≤ 1, made of a few operations on quantities
    within 1e±100 (checked: nothing overflows), so the float total is within ~1e-12 points of the
    Decimal one (a clamp never widens a difference; far outside 0..100 both clamp to the same
    bound). Only a total closer than ``_MARGIN`` (1e-6 points) to the boundary is left to the
    Decimal scorer (``decide`` returns None). So the answers — and the gap — are the same, bit for
    bit; about 15 Decimal evaluations per issued rating become float ones."""

    __slots__ = (
        "bench",
        "best",
        "fixed",
        "leader_bench",
        "missing",
        "peer_at",
        "peer_before",
        "ppp",
        "s",
        "w_cp",
        "w_imp",
        "w_lg",
        "worst",
        "year_before",
    )

    def __init__(
        self,
        s: _Scorer,
        weights: tuple[float, float, float, float],
        methodology: tuple[float, float, float],
        fixed: float,
        optional: tuple[float | None, float | None, float | None],
        leader: tuple[float, float],
    ) -> None:
        self.s = s
        self.w_cp, self.w_imp, self.w_lg, self.missing = weights
        self.best, self.worst, self.ppp = methodology
        self.fixed = fixed
        self.bench, self.year_before, self.leader_bench = optional
        self.peer_at, self.peer_before = leader

    @classmethod
    def of(cls, s: _Scorer) -> _FastScorer | None:
        """The float scorer for ``s``, or None when a quantity is out of the safe range (or the
        peer count is 0, a divisor only ``_Scorer`` may meet)."""
        w = (_safe(s.w_cp), _safe(s.w_imp), _safe(s.w_lg), _safe(s.missing))
        mp = (_safe(s.best), _safe(s.worst), _safe(s.ppp))
        fixed = [_safe(t) for t in s.fixed]
        if s.n == 0 or None in w or None in mp or None in fixed:
            return None
        optional = tuple(None if d is None else _safe(d) for d in (s.bench, s.year_before, s.leader_bench))
        if any(
            f is None and d is not None
            for f, d in zip(optional, (s.bench, s.year_before, s.leader_bench), strict=True)
        ):
            return None  # out of range
        if optional[0] == 0.0 or optional[1] == 0.0:
            return None  # a zero divisor: ``_Scorer``'s to meet
        leader = (0.0, 0.0)
        i = s.leader_at
        if i is not None:
            at = _safe(s.peers[i]) if i < len(s.peers) else 0.0
            before = _safe(s.peers[i - 1]) if 0 < i <= len(s.peers) else 0.0
            if at is None or before is None:
                return None
            leader = (at, before)
        return cls(
            s,
            w,  # type: ignore[arg-type]  # (no None: checked above)
            mp,  # type: ignore[arg-type]
            sum(fixed),  # type: ignore[arg-type]
            optional,  # type: ignore[arg-type]
            leader,
        )

    def decide(self, value: Decimal, boundary: float) -> bool | None:
        """``q(total at value) >= goal`` where ``boundary`` = goal − 0.005, or None if too close."""
        v = float(value)
        if not _SAFE_MIN <= v <= _SAFE_MAX:
            return None
        s = self.s
        peers, n = s.peers, s.n
        if n >= 0:
            below, not_above = bisect_left(peers, value), bisect_right(peers, value)
            cp = 100.0 * ((n - not_above) + (not_above - below) / 2) / n
        elif self.bench is not None:
            cp = 100.0 * (self.worst - v / self.bench) / (self.worst - self.best)
            cp = 100.0 if not cp < 100.0 else cp if cp > 0.0 else 0.0
        else:
            cp = self.missing
        yb = self.year_before
        if yb is not None:
            imp = 50.0 + self.ppp * ((yb - v) / yb * 100.0)
            imp = 100.0 if not imp < 100.0 else imp if imp > 0.0 else 0.0
        else:
            imp = self.missing
        i = s.leader_at
        if i is not None:
            at = bisect_right(peers, value)
            leader = self.peer_at if i < at else v if i == at else self.peer_before
            lg = 100.0 * leader / v  # type: ignore[operator]
            lg = 100.0 if not lg < 100.0 else lg if lg > 0.0 else 0.0
        elif self.leader_bench is not None:
            lg = 100.0 * self.leader_bench / v
            lg = 100.0 if not lg < 100.0 else lg if lg > 0.0 else 0.0
        else:
            lg = self.missing
        total = self.w_cp * cp + self.w_imp * imp + self.fixed + self.w_lg * lg
        if total >= boundary + _MARGIN:
            return True
        if total <= boundary - _MARGIN:
            return False
        return None


def _score(ctx: _Context, m: Methodology) -> tuple[Decimal, list[ss.SubScore]]:
    """The score and the sub-scores it was added from (in ``SUB_SCORES`` order)."""
    subs = _subscores(ctx, m, ctx.own)  # already in ``SUB_SCORES`` order
    score = _ZERO
    weights, missing = ctx.weights, m.missing_score
    for s in subs:
        score += weights[s.name] * (s.value if s.value is not None else missing)
    return q(score), subs


def _views(ctx: _Context, m: Methodology, subs: list[ss.SubScore]) -> tuple[dict[str, SubScoreView], Decimal]:
    """The sub-scores as shown (value or the neutral substitute, effective weight) and the
    confidence: only for a rating that is completed (``Assessment.result``)."""
    views: dict[str, SubScoreView] = {}
    coverage = _ZERO
    weights, missing = ctx.weights, m.missing_score
    for s in subs:
        w = weights[s.name]
        value = s.value if s.value is not None else missing
        views[s.name] = SubScoreView(
            q(value), s.value is not None, w, s.evidence, s.applicable, s.note, s.facts
        )
        coverage += w * s.evidence
    dq = views["data_quality"].facts.get("pcaf_score")
    penalty = m.p("dq_confidence_penalty_per_point")
    dq_factor = Decimal(1) - penalty * (Decimal(dq) - 1) if dq else Decimal("0.5")
    confidence = max(Decimal(0), min(Decimal(1), coverage * dq_factor))
    return views, q(confidence)


_ORDER = {name: i for i, name in enumerate(SUB_SCORES)}


def _drivers(m: Methodology, views: dict[str, SubScoreView]) -> tuple[tuple[Driver, ...], tuple[Driver, ...]]:
    neutral, top = m.p("neutral_score"), int(m.p("top_drivers"))
    # (name, contribution) pairs; ``Driver``s only for the ones kept
    contrib = [(n, q(v.weight * (v.value - neutral))) for n, v in sorted(views.items()) if v.weight > 0]
    up = sorted((d for d in contrib if d[1] > 0), key=lambda d: (-d[1], d[0]))
    down = sorted((d for d in contrib if d[1] < 0), key=lambda d: (d[1], d[0]))
    return tuple(Driver(n, c) for n, c in up[:top]), tuple(Driver(n, c) for n, c in down[:top])


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
    fast = scorer.fast if goal == q(goal) else None  # (a threshold in whole cents: ``_FastScorer``)
    boundary = float(goal) - 0.005

    def reaches(factor: Decimal) -> bool:
        value = own * factor
        if fast is not None:
            decided = fast.decide(value, boundary)
            if decided is not None:
                return decided
        return scorer(value) >= goal

    lo, hi = Decimal("0.01"), Decimal(1)  # share of today's intensity kept
    if not reaches(lo):
        return Gap(target.label, points, None, note="an intensity cut alone cannot reach the next label")
    for _ in range(14):  # to ~0.01% of intensity
        mid = (lo + hi) / 2
        lo, hi = (mid, hi) if reaches(mid) else (lo, mid)
    cut = ((Decimal(1) - lo) * 100).quantize(Decimal("0.1"), rounding="ROUND_CEILING")
    return Gap(target.label, points, cut, note="intensity cut over the rating window, everything else equal")


@dataclass(slots=True)  # not frozen, for construction speed: see ``domain/result.py``
class Assessment:
    """A rating's outcome — what a reader sees change: score, label, vetoes, stage, methodology —
    before the parts that only explain it (drivers, the gap to the next label). ``result()``
    completes it; it is the same as ``rate`` with the same inputs."""

    inputs: RatingInputs
    m: Methodology
    ctx: _Context
    score: Decimal
    #: the sub-scores the score was added from; shown as ``SubScoreView``s by ``result()`` only
    subs: list[ss.SubScore]
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
            views, confidence = _views(ctx, m, self.subs)
            up, down = _drivers(m, views)
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
                confidence=confidence,
                methodology_version=m.version,
                sub_scores=views,
                vetoes=tuple(ctx.vetoes),
                drivers_up=up,
                drivers_down=down,
                gap=gap,
                intensity=None if own is None else own.value.quantize(Decimal("0.000001")),
                intensity_basis=None if own is None else own.basis,
            )


def assess(
    inputs: RatingInputs,
    m: Methodology,
    ranking: PeerRanking | None = None,
    known: Conduct | None = None,
) -> Assessment:
    """The outcome of rating ``inputs`` under ``m`` (see ``rate``); ``.result()`` completes it.

    ``known``: ``conduct(inputs, m)`` when the caller has it already (see ``Conduct``)."""
    if ranking is None or ranking.peers is not inputs.peers:
        ranking = PeerRanking(inputs.peers)
    with localcontext(_CTX):
        ctx = _context(inputs, m, ranking, known)
        score, subs = _score(ctx, m)
        uncapped = label_for(m, score)
        label = uncapped
        for v in ctx.vetoes:
            label = worse(label, m.vetoes[v].cap)
    return Assessment(inputs, m, ctx, score, subs, uncapped, label)


def rate(inputs: RatingInputs, m: Methodology, ranking: PeerRanking | None = None) -> RatingResult:
    """Rate one enterprise as of ``inputs.as_of_period`` under methodology ``m``.

    ``ranking``: the peers' sorted intensities, shared by the members of one peer group (it must
    rank ``inputs.peers``); built here when not given."""
    return assess(inputs, m, ranking).result()
