"""The consumer's CPU cuts for the pilot replay (issue 6) rate exactly as before: the gap search's
precomputed scorer, the outcome-first re-rating, the decoder that skips the fact families rating
does not read, and the hot-path statements sent to asyncpg directly."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta
from decimal import Decimal, localcontext

import pytest
from sqlalchemy import text

from carbon_common.bus.port import Decoded, Record, envelope_decoder, to_record
from carbon_common.events import ContractError, Envelope, Topics
from carbon_rating.bootstrap import CONSUMED_TOPICS
from carbon_rating.domain.inputs import (
    AccountMonth,
    ConductFact,
    EnterpriseProfile,
    Intensity,
    PeerTotals,
    RatingInputs,
)
from carbon_rating.domain.intensity import PeerRanking
from carbon_rating.domain.periods import window
from carbon_rating.domain.rating import _CTX, _context, _score_only, _Scorer, assess, rate
from carbon_rating.methodology import load
from carbon_rating.service_layer.consumers import IgnoredFact, make_batch_handler, rating_decoder
from carbon_rating.service_layer.consumers import _enterprise as _profile

PERIODS = window("2024-12", 24)


def _inputs(rnd: random.Random, code: str) -> RatingInputs:
    """Random but plausible inputs: peer groups from empty (benchmark fallback) to large, ties,
    a missing or zero year-before window, revenue or output basis, facts that trigger vetoes."""
    stage = rnd.choice(["early", "mid", "mature"])
    ent = EnterpriseProfile(
        code, "x", rnd.choice(["4411", "3110", "9999"]), "140400", "large", stage, rnd.random() < 0.5
    )
    per_revenue = rnd.random() < 0.25
    start = rnd.choice([0, 0, 6, 12])  # a short history: no intensity a year earlier
    months = tuple(
        AccountMonth(
            p,
            Decimal(rnd.randint(0, 150)),
            None if per_revenue else Decimal(rnd.choice(["100", "100.0", "80", "120"])),
            None if per_revenue else "MWh",
            Decimal(rnd.randint(1, 90)) if per_revenue else None,
            Decimal(rnd.randint(1, 5)),
        )
        for p in PERIODS[start:]
    )
    peers = tuple(
        PeerTotals(
            f"p{i}",
            Decimal(rnd.choice([500, 1000, 1000, 1500, 2000])),
            "MWh",
            Decimal(1200),
            Decimal(rnd.choice([0, 600, 1200])),
        )
        for i in range(rnd.choice([0, 2, 4, 5, 12, 40]))
    )
    facts = tuple(
        ConductFact(ind, rnd.choice(PERIODS[12:]), Decimal(val), attrs)
        for ind, val, attrs in rnd.sample(
            [
                ("compliance.env_penalty", "1", {"severity": "serious"}),
                ("compliance.permit_violation", "2", {}),
                ("ets.overdraft", "10", {}),
                ("finance.total_capex", "100", {}),
                ("finance.reduction_capex", "40", {}),
                ("transition.milestones_planned", "4", {}),
                ("transition.milestones_met", "3", {}),
            ],
            rnd.randint(0, 4),
        )
    )
    return RatingInputs(ent, "2024-12", months, facts, peers)


@pytest.mark.parametrize("seed", range(40))
def test_gap_scorer_equals_the_value_only_score_everywhere(seed: int) -> None:
    """``_Scorer`` (weights, peer-group test, benchmark and leader rank taken once) gives exactly
    ``_score_only`` at every candidate intensity the gap search can try, and beyond."""
    rnd = random.Random(seed)
    m = load("v2" if seed % 2 else "v1")
    inputs = _inputs(rnd, "91140400MA0000001X")
    with localcontext(_CTX):
        ctx = _context(inputs, m, PeerRanking(inputs.peers))
        assert ctx.own is not None  # (every seed here has an intensity)
        scorer = _Scorer(ctx, m, ctx.own.basis)
        factors = [Decimal("0.01"), Decimal(1), Decimal(2), Decimal(0)]
        factors += [Decimal(rnd.randint(1, 10_000)) / 10_000 for _ in range(30)]
        factors += [
            Decimal(str(p.total_tco2 / p.output_quantity)) / ctx.own.value
            for p in inputs.peers[:5]
            if ctx.own.value
        ]
        for f in factors:
            value = ctx.own.value * f
            expected = _score_only(ctx, m, Intensity(ctx.own.basis, value))
            got = scorer(value)
            assert str(got) == str(expected), (f, got, expected)


def test_gap_scorer_inputs_cover_every_branch() -> None:
    """The random inputs above reach the peer percentile, the benchmark fallback, no benchmark,
    and no year-before window (so the equality is checked on every path)."""
    seen: set[str] = set()
    for seed in range(40):
        rnd = random.Random(seed)
        m = load("v2" if seed % 2 else "v1")
        inputs = _inputs(rnd, "91140400MA0000001X")
        with localcontext(_CTX):
            ctx = _context(inputs, m, PeerRanking(inputs.peers))
            if ctx.own is None:
                seen.add("no intensity")
                continue
            s = _Scorer(ctx, m, ctx.own.basis)
        seen.add("percentile" if s.n >= 0 else "benchmark" if s.bench is not None else "no benchmark")
        seen.add("year before" if s.year_before is not None else "no year before")
    assert {"percentile", "benchmark", "no benchmark", "year before", "no year before"} <= seen


@pytest.mark.parametrize("seed", range(40))
def test_assessment_is_the_rating(seed: int) -> None:
    """Outcome first, then the rest: the same result as ``rate``, field for field."""
    rnd = random.Random(1000 + seed)
    m = load("v2" if seed % 2 else "v1")
    inputs = _inputs(rnd, "91140400MA0000001X")
    a = assess(inputs, m)
    r = rate(inputs, m)
    assert a.result() == r
    assert (a.score, a.label, a.vetoes, a.stage) == (r.score, r.label, r.vetoes, r.stage)
    assert a.same_outcome(r.score, r.label, r.vetoes, r.methodology_version, r.stage)
    assert not a.same_outcome(r.score + Decimal("0.01"), r.label, r.vetoes, r.methodology_version, r.stage)


# --- the decoder -------------------------------------------------------------------------------


def test_decoder_skips_facts_rating_does_not_read_with_their_id_and_time(ev) -> None:
    """On the credit-facts stream, the finance facts only lending reads are peeked at, not decoded."""
    decode = rating_decoder()
    full = envelope_decoder()
    t = datetime(2025, 3, 1, 12, 30, tzinfo=UTC)
    for other in ("finance.revenue", "finance.total_debt", "finance.total_equity"):
        ignored = ev.record(
            Envelope(data=ev.fact(1, other, "2024-12", "5", unit="10k_cny"), source="/t", time=t)
        )
        assert ignored.topic == Topics.CREDIT_FACTS
        item = decode(ignored)
        assert item == IgnoredFact(full(ignored).id, t)
    for kept in (
        "compliance.env_penalty",
        "ets.overdraft",
        "finance.total_capex",
        "transition.milestones_met",
    ):
        rec = ev.record(ev.envelope(ev.fact(1, kept, "2024-12", "1")))
        assert rec.topic == Topics.CREDIT_FACTS
        got = decode(rec)
        assert isinstance(got, Envelope) and got.data == full(rec).data
    account = to_record(ev.envelope(ev.account(1, "2024-12", "100")))
    assert isinstance(decode(account), Envelope)
    # headers as str rather than bytes: left to the full decoder (which reads them too)
    as_str = Record(
        ignored.topic, ignored.key, ignored.value, tuple((k, v.decode()) for k, v in ignored.headers)
    )
    got = decode(as_str)
    assert isinstance(got, Envelope) and got.id == full(ignored).id


def test_decoder_peeks_only_on_the_credit_facts_stream(ev) -> None:
    """The subscription reads ``ingest.credit-facts.v1`` instead of ``ingest.facts.v1``; a record
    of another topic (here the old facts stream) is the full decoder's."""
    assert Topics.CREDIT_FACTS in CONSUMED_TOPICS and Topics.FACTS not in CONSUMED_TOPICS
    decode = rating_decoder()
    on_facts = to_record(ev.envelope(ev.fact(1, "finance.revenue", "2024-12", "5", unit="10k_cny")))
    assert on_facts.topic == Topics.FACTS
    assert isinstance(decode(on_facts), Envelope)


def test_decoder_sends_what_it_cannot_read_to_the_full_decoder(ev) -> None:
    """Malformed payloads and headers are still the full decoder's (ContractError → dead letter)."""
    decode = rating_decoder()
    good = ev.record(ev.envelope(ev.fact(1, "finance.revenue", "2024-12", "5", unit="10k_cny")))
    assert good.topic == Topics.CREDIT_FACTS
    broken = [
        Record(good.topic, good.key, b"{not json", good.headers),
        Record(good.topic, good.key, b"[1, 2]", good.headers),
        Record(good.topic, good.key, b'{"indicator": 7}', good.headers),
        Record(good.topic, good.key, good.value, tuple(h for h in good.headers if h[0] != "ce_id")),
        Record(
            good.topic,
            good.key,
            good.value,
            tuple((k, b"2.0" if k == "ce_specversion" else v) for k, v in good.headers),
        ),
        Record(
            good.topic,
            good.key,
            good.value,
            tuple((k, b"yesterday" if k == "ce_time" else v) for k, v in good.headers),
        ),
    ]
    for rec in broken:
        with pytest.raises(ContractError):
            decode(rec)


async def test_facts_are_read_from_the_credit_facts_stream_only(harness, ev) -> None:
    """A conduct fact on ``ingest.facts.v1`` (accounting's stream) is not rating's to read any
    more; its copy on ``ingest.credit-facts.v1`` is stored and re-rates the enterprise."""
    await harness.publish(ev.enterprise(1), ev.account(1, "2024-12", "100"))
    await harness.settle()
    env = ev.envelope(ev.fact(1, "compliance.env_penalty", "2024-12", "1", severity="serious"))
    await harness.bus.publish([to_record(env)])
    await harness.settle()

    async def stored() -> int:
        async with harness.container.uow() as uow:
            return int((await uow.session.execute(text("SELECT count(*) FROM conduct_facts"))).scalar_one())

    assert await stored() == 0
    n = len(harness.issued())
    await harness.publish(env)  # ingest's copy on the credit stream
    await harness.settle()
    assert await stored() == 1
    assert harness.issued()[n:] and harness.issued()[-1].vetoes == ["serious_env_penalty"]


async def test_a_batch_of_ignored_facts_touches_nothing_and_times_still_count(harness, ev) -> None:
    """Ignored facts are neither claimed nor stored; a batch of nothing else opens no transaction;
    their time still counts for ``issued_at`` (the batch's newest input), as when they were decoded."""
    c = harness.container
    handle = make_batch_handler(c.uow, lambda: c.methodology)
    decode = rating_decoder()
    t0 = datetime(2025, 1, 1, tzinfo=UTC)

    def rec(event, dt: timedelta) -> Decoded:
        r = ev.record(Envelope(data=event, source="/t", time=t0 + dt))
        return Decoded(r, decode(r))

    first = rec(ev.fact(1, "finance.revenue", "2024-12", "5", unit="10k_cny"), timedelta(0))
    assert isinstance(first.item, IgnoredFact)
    await handle([first])
    async with c.uow() as uow:
        assert (await uow.session.execute(text("SELECT count(*) FROM inbox"))).scalar() == 0
    newest = timedelta(hours=5)
    await handle(
        [
            rec(ev.enterprise(1), timedelta(hours=1)),
            rec(ev.account(1, "2024-12", "100"), timedelta(hours=2)),
            rec(ev.fact(1, "finance.total_debt", "2024-12", "5", unit="10k_cny"), newest),
        ]
    )
    async with c.uow() as uow:
        claimed = (await uow.session.execute(text("SELECT count(*) FROM inbox"))).scalar()
        current = (await uow.repo.current_ratings([ev.code(1)]))[ev.code(1)]
    assert claimed == 0  # the natural keys deduplicate (next section): no inbox rows at all
    assert current.issued_at == t0 + newest


# --- duplicates change nothing without an inbox (DESIGN §5) --------------------------------------


async def test_redelivered_and_superseded_inputs_re_rate_nothing(harness, ev) -> None:
    """Enterprise 1 is rated among peers; then a peer's restatement moves enterprise 1's
    percentile. A redelivery of enterprise 1's own events (same envelopes), an account of an older
    version and a fact of an older revision change no stored row, so enterprise 1 is not re-rated
    and nothing is issued for it, although a re-rating now would give another score. A new input
    of enterprise 1 then re-rates it against the moved peers."""
    months = PERIODS[-12:]
    own = await harness.publish(
        ev.enterprise(1),
        *[ev.account(1, p, "600", "1000", version=2) for p in months],
        ev.fact(1, "compliance.permit_violation", "2024-11", "1", revision=2),
    )
    for i in range(2, 9):  # seven peers: a peer group (min_peer_group 5), not the benchmark
        await harness.publish(
            ev.enterprise(i), *[ev.account(i, p, str(400 + 50 * i), "1000") for p in months]
        )
    await harness.settle()
    first = [r for r in harness.issued() if r.credit_code == ev.code(1)]
    assert first, "enterprise 1 was rated"
    # a peer becomes much cleaner: enterprise 1's percentile (and score) would change if re-rated
    await harness.publish(*[ev.account(8, p, "10", "1000", version=2) for p in months])
    await harness.settle()
    n = len(harness.issued())
    await harness.publish(*own)  # at-least-once: the same envelopes again
    await harness.publish(ev.account(1, "2024-12", "9000", "1000", version=1))  # superseded
    await harness.publish(ev.fact(1, "compliance.permit_violation", "2024-11", "7", revision=1))
    await harness.settle()
    assert len(harness.issued()) == n  # nothing re-rated, nothing issued
    async with harness.container.uow() as uow:
        stored = (await uow.session.execute(text("SELECT count(*) FROM inbox"))).scalar()
    assert stored == 0
    await harness.publish(ev.account(1, "2024-12", "600", "1000", version=3))  # same figures, newer
    await harness.settle()
    again = [r for r in harness.issued()[n:] if r.credit_code == ev.code(1)]
    assert len(again) == 1 and again[0].score != first[-1].score  # rated against the moved peer


async def test_an_enterprise_event_of_the_same_revision_and_fields_changes_nothing(harness, ev) -> None:
    """Same revision, same fields: no row changes. Same revision, another stage (a correction
    of the directory without a new revision): stored, re-rated."""
    await harness.publish(ev.enterprise(1), ev.account(1, "2024-12", "600", "1000"))
    await harness.settle()
    async with harness.container.uow() as uow:
        assert await uow.repo.upsert_enterprises([_profile(ev.enterprise(1))]) == set()
        assert await uow.repo.upsert_enterprises([_profile(ev.enterprise(1, stage="early"))]) == {ev.code(1)}
        assert await uow.repo.upsert_enterprises([_profile(ev.enterprise(1, revision=0))]) == set()
        await uow.rollback()


async def test_a_directory_load_larger_than_one_statement_reports_every_change(harness, ev) -> None:
    """5,000 directory entries in one batch (8 parameters each: more than one statement takes)."""
    many = [_profile(ev.enterprise(i)) for i in range(1, 5001)]
    async with harness.container.uow() as uow:
        assert await uow.repo.upsert_enterprises(many) == {p.credit_code for p, _ in many}
        assert await uow.repo.upsert_enterprises(many) == set()
        await uow.rollback()


# --- the batch's own account rows are not read back ---------------------------------------------


async def test_rows_the_batch_wrote_are_not_read_back(harness, ev) -> None:
    """A restatement through the consumer: the new month is the row the batch wrote (no read), and
    the rating uses it."""
    c = ev.code(1)
    await harness.publish(ev.enterprise(1), *[ev.account(1, p, "500", "1000") for p in PERIODS])
    await harness.settle()
    cache = harness.container.inputs
    misses = cache.misses
    await harness.publish(ev.account(1, "2024-06", "6500", "1000", version=2))
    await harness.settle()
    assert cache.misses == misses  # nothing read in full: 23 cached months + the one it wrote
    async with harness.container.uow() as uow:
        details = (await uow.repo.current_ratings([c]))[c].details
    assert Decimal(details["intensity"]) == Decimal(1)  # (11 × 500 + 6500) / 12,000
    assert cache._months[c]["2024-06"].month.calculation_version == 2


async def test_a_higher_version_stored_elsewhere_beats_the_row_the_batch_wrote(harness, ev) -> None:
    """Another writer stored version 3 of a month; a batch then applies version 2 of it (late)
    together with a new version of another month (so the enterprise is re-rated): the stored row
    stays version 3 and the rating reads and uses it, not the row the batch sent."""
    from carbon_rating.service_layer.ports import AccountRow

    c = ev.code(1)
    await harness.publish(ev.enterprise(1), *[ev.account(1, p, "500", "1000") for p in PERIODS])
    await harness.settle()
    v3 = AccountMonth("2024-06", Decimal(18500), Decimal(1000), "MWh", None, Decimal(2), 3)
    async with harness.container.uow() as uow:
        await uow.repo.upsert_accounts([AccountRow(c, "4411", "cn-default@1", v3)])
        await uow.commit()
    cache = harness.container.inputs
    misses = cache.misses
    await harness.publish(
        ev.account(1, "2024-06", "6500", "1000", version=2),
        ev.account(1, "2024-05", "500", "1000", version=2),
    )
    await harness.settle()
    assert cache.misses == misses + 1  # version 3 read from the database (2024-05: the row it wrote)
    async with harness.container.uow() as uow:
        details = (await uow.repo.current_ratings([c]))[c].details
    assert Decimal(details["intensity"]) == Decimal(2)  # (11 × 500 + 18500) / 12,000
    assert cache._months[c]["2024-06"].month.total_tco2 == Decimal(18500)


# --- the fourth CPU pass: float-decided gap candidates, conduct reused, one-pass sums ------------


def _crossings(scorer: _Scorer, own: Decimal, goal: Decimal) -> list[Decimal]:
    """Values of the own intensity right at the point where the exact score reaches ``goal``."""
    lo, hi = own * Decimal("0.0001"), own * 4
    if not (scorer(lo) >= goal) or scorer(hi) >= goal:
        return []
    for _ in range(90):  # to ~1e-27 of the intensity: both sides of the rounding boundary
        mid = (lo + hi) / 2
        lo, hi = (mid, hi) if scorer(mid) >= goal else (lo, mid)
    return [lo, hi, (lo + hi) / 2, lo * Decimal("1.000000001"), hi * Decimal("0.999999999")]


@pytest.mark.parametrize("seed", range(40))
def test_fast_gap_scorer_agrees_with_the_exact_one_or_abstains(seed: int) -> None:
    """``_FastScorer.decide`` (binary floats) answers ``scorer(value) >= goal`` exactly as the
    Decimal scorer does, or abstains (None) — also right at the values where the exact answer
    flips, for every label threshold; and it abstains only there."""
    rnd = random.Random(seed)
    m = load("v2" if seed % 2 else "v1")
    inputs = _inputs(rnd, "91140400MA0000001X")
    decided = abstained = 0
    with localcontext(_CTX):
        ctx = _context(inputs, m, PeerRanking(inputs.peers))
        assert ctx.own is not None
        scorer = _Scorer(ctx, m, ctx.own.basis)
        fast = scorer.fast
        if ctx.own.value == 0:
            return
        assert fast is not None
        for band in m.labels:
            goal = band.min_score
            boundary = float(goal) - 0.005
            values = [ctx.own.value * Decimal(rnd.randint(1, 40_000)) / 10_000 for _ in range(60)]
            near = _crossings(scorer, ctx.own.value, goal)
            for v in values + near:
                got = fast.decide(v, boundary)
                exact = scorer(v) >= goal
                assert got is None or got == exact, (v, goal, got, exact)
                if got is None:
                    abstained += 1
                    assert v in near  # only next to the flip
                else:
                    decided += 1
    assert decided > abstained


@pytest.mark.parametrize("seed", range(60))
def test_rating_is_the_same_without_the_fast_scorer_and_the_conduct_shortcut(seed: int, monkeypatch) -> None:
    """The whole result (gap included) with the float-decided candidates and a reused ``Conduct``
    equals the result with neither."""
    from carbon_rating.domain import rating as dr

    rnd = random.Random(2000 + seed)
    m = load("v2" if seed % 2 else "v1")
    inputs = _inputs(rnd, "91140400MA0000001X")
    fast = rate(inputs, m)
    again = assess(inputs, m, None, dr.conduct(inputs, m)).result()
    monkeypatch.setattr(dr._FastScorer, "of", classmethod(lambda cls, s: None))
    exact = rate(inputs, m)
    assert fast == exact and again == exact
    assert repr(fast) == repr(exact)  # Decimal exponents too


def test_window_intensity_is_own_intensity() -> None:
    """One pass over the window's months gives ``own_intensity``'s basis and value, exponent and
    all (sums from ``Decimal(0)``, a zero output or revenue written as 0, 0.00 or missing)."""
    from carbon_rating.domain.intensity import own_intensity, window_intensity
    from carbon_rating.domain.periods import window_set

    rnd = random.Random(7)
    periods = window_set("2024-12", 12)
    for _ in range(400):
        units = rnd.choice([["MWh"], ["MWh", "t"], ["MWh", None]])
        rows = [
            AccountMonth(
                p,
                Decimal(rnd.choice(["0", "1.5", "120", "7E+2", "33.333"])),
                rnd.choice(
                    [None, Decimal("0"), Decimal("0.00"), Decimal("100"), Decimal("1E+2"), Decimal("-1")]
                ),
                rnd.choice(units),
                rnd.choice([None, Decimal("0.00"), Decimal("90"), Decimal("12.5")]),
                Decimal(2),
            )
            for p in window("2024-12", rnd.randint(1, 14))
        ]
        in_window = [a for a in rows if a.period in periods]
        assert repr(window_intensity(in_window)) == repr(own_intensity(rows, periods))


def test_forward_looking_and_clamp_are_unchanged() -> None:
    """The one-pass ``forward_looking`` equals the two ``_sum``s and two ``_latest``s it replaced
    (the later fact of the latest period wins), and ``clamp`` returns what ``max(0, min(100, x))``
    returned, the same object on ties."""
    from carbon_rating.domain import subscores as ss

    def reference(m, facts):  # the implementation before this pass
        def _sum(ind):
            return sum((f.value for f in facts if f.indicator == ind), Decimal(0))

        def _latest(ind):
            rows = sorted((f for f in facts if f.indicator == ind), key=lambda f: f.period)
            return rows[-1].value if rows else None

        parts, info = [], {}
        total = _sum("finance.total_capex")
        if total > 0:
            share = _sum("finance.reduction_capex") / total
            parts.append(max(Decimal(0), min(ss.HUNDRED, ss.HUNDRED * share / m.p("capex_share_full_marks"))))
            info["reduction_capex_share"] = str(share)
        planned, met = _latest("transition.milestones_planned"), _latest("transition.milestones_met")
        if planned is not None and planned > 0:
            parts.append(max(Decimal(0), min(ss.HUNDRED, ss.HUNDRED * (met or Decimal(0)) / planned)))
            info["milestones"] = f"{met or 0}/{planned}"
        if not parts:
            return ss.SubScore("forward_looking", None, Decimal(0), note="no capex or transition-plan facts")
        return ss.SubScore("forward_looking", sum(parts, Decimal(0)) / len(parts), facts=info)

    rnd = random.Random(11)
    m = load("v1")
    kinds = [
        "finance.total_capex",
        "finance.reduction_capex",
        "transition.milestones_planned",
        "transition.milestones_met",
        "compliance.permit_violation",
    ]
    for _ in range(500):
        facts = [
            ConductFact(
                rnd.choice(kinds),
                rnd.choice(PERIODS[-4:]),
                Decimal(rnd.choice(["0", "3", "4.0", "250", "1E+1"])),
            )
            for _ in range(rnd.randint(0, 9))
        ]
        with localcontext(_CTX):
            assert repr(ss.forward_looking(m, facts)) == repr(reference(m, facts))
    for x in ("-1", "0", "0.00", "-0", "50.5", "100", "100.00", "1E+2", "250"):
        d = Decimal(x)
        want = max(Decimal(0), min(ss.HUNDRED, d))
        assert repr(ss.clamp(d)) == repr(want)


def test_conduct_is_reused_only_for_the_same_window_facts_flags_and_methodology() -> None:
    from dataclasses import replace

    from carbon_rating.domain.rating import conduct
    from carbon_rating.service_layer.input_cache import InputCache

    rnd = random.Random(3)
    m, m2 = load("v1"), load("v2")
    inputs = _inputs(rnd, "91140400MA0000001X")
    while not inputs.facts:
        inputs = _inputs(rnd, "91140400MA0000001X")
    cache = InputCache(max_enterprises=2)
    first = cache.conduct(inputs, m)
    assert cache.conduct(inputs, m) is first  # the same fact objects, flags and methodology
    assert cache.conduct(replace(inputs, facts=tuple(inputs.facts)), m) is first
    # equal facts but other objects (read anew after a change): computed again, same value
    copies = tuple(replace(f) for f in inputs.facts)
    again = cache.conduct(replace(inputs, facts=copies), m)
    assert again is not first and again == first
    ent = inputs.enterprise
    stage = "early" if ent.transition_stage != "early" else "mature"
    f0 = inputs.facts[0]
    moved = replace(f0, value=f0.value + 1)
    for changed, ms in (
        (replace(inputs, facts=(moved, *inputs.facts[1:])), m),  # a fact changed
        (replace(inputs, facts=inputs.facts[1:]), m),  # one fewer
        (replace(inputs, as_of_period="2026-12"), m),  # the window moved past the facts
        (replace(inputs, enterprise=replace(ent, ets_participant=not ent.ets_participant)), m),
        (replace(inputs, enterprise=replace(ent, transition_stage=stage)), m),
        (inputs, m2),
    ):
        before = cache.conduct(inputs, m)
        got = cache.conduct(changed, ms)
        assert got is not before
        assert got == conduct(changed, ms)
    # the window moved by a month with no fact entering or leaving it: reused
    late = replace(inputs, facts=tuple(replace(f, period="2024-12") for f in inputs.facts))
    base = cache.conduct(late, m)
    assert cache.conduct(replace(late, as_of_period="2025-01"), m) is base
    # no facts in the window, with different (or no) fact lists: reused
    empty = replace(inputs, facts=())
    e1 = cache.conduct(empty, m)
    assert cache.conduct(replace(inputs, facts=(), as_of_period="2024-06"), m) is e1
    # bounded
    for i in range(5):
        cache.conduct(replace(inputs, enterprise=replace(ent, credit_code=f"c{i}")), m)
    assert len(cache._conduct) == 2


def test_rating_id_is_uuid5_of_code_and_sequence() -> None:
    import uuid

    from carbon_rating.service_layer.issuing import _NS, rating_id

    for code in ("91140400MA0000001X", "长治", "", "a/b"):
        for seq in (0, 1, 2, 9, 10, 99, 12345, 2**40):
            assert rating_id(code, seq) == str(uuid.uuid5(_NS, f"{code}/{seq}"))


def test_non_issued_re_rating_builds_no_views() -> None:
    """The outcome (score, label) comes from the sub-scores' values alone; the views and the
    confidence are built by ``result()``, and equal those of ``rate``."""
    rnd = random.Random(99)
    m = load("v1")
    for _ in range(30):
        inputs = _inputs(rnd, "91140400MA0000001X")
        a = assess(inputs, m)
        assert not hasattr(a, "views")
        r = rate(inputs, m)
        assert a.score == r.score and list(r.sub_scores) == list(a.subs[i].name for i in range(len(a.subs)))
        assert a.result() == r
