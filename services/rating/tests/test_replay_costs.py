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
from carbon_common.events import ContractError, Envelope
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
    decode = rating_decoder()
    full = envelope_decoder()
    t = datetime(2025, 3, 1, 12, 30, tzinfo=UTC)
    ignored = to_record(
        Envelope(data=ev.fact(1, "energy.raw_coal", "2024-12", "5", unit="t"), source="/t", time=t)
    )
    item = decode(ignored)
    assert item == IgnoredFact(full(ignored).id, t)
    for kept in (
        "compliance.env_penalty",
        "ets.overdraft",
        "finance.total_capex",
        "transition.milestones_met",
    ):
        rec = to_record(ev.envelope(ev.fact(1, kept, "2024-12", "1")))
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


def test_decoder_sends_what_it_cannot_read_to_the_full_decoder(ev) -> None:
    """Malformed payloads and headers are still the full decoder's (ContractError → dead letter)."""
    decode = rating_decoder()
    good = to_record(ev.envelope(ev.fact(1, "energy.raw_coal", "2024-12", "5", unit="t")))
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


async def test_a_batch_of_ignored_facts_touches_nothing_and_times_still_count(harness, ev) -> None:
    """Ignored facts are neither claimed nor stored; a batch of nothing else opens no transaction;
    their time still counts for ``issued_at`` (the batch's newest input), as when they were decoded."""
    c = harness.container
    handle = make_batch_handler(c.uow, lambda: c.methodology)
    decode = rating_decoder()
    t0 = datetime(2025, 1, 1, tzinfo=UTC)

    def rec(event, dt: timedelta) -> Decoded:
        r = to_record(Envelope(data=event, source="/t", time=t0 + dt))
        return Decoded(r, decode(r))

    await handle([rec(ev.fact(1, "energy.raw_coal", "2024-12", "5", unit="t"), timedelta(0))])
    async with c.uow() as uow:
        assert (await uow.session.execute(text("SELECT count(*) FROM inbox"))).scalar() == 0
    newest = timedelta(hours=5)
    await handle(
        [
            rec(ev.enterprise(1), timedelta(hours=1)),
            rec(ev.account(1, "2024-12", "100"), timedelta(hours=2)),
            rec(ev.fact(1, "electricity.purchased", "2024-12", "5", unit="MWh"), newest),
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
