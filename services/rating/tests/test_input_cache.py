"""The consumer's input cache (service_layer/input_cache.py) never serves a stale account month or
stale facts, and the
throughput changes of the rating function (ranked peers, value-only gap search) rate exactly as
before."""

from __future__ import annotations

import random
from decimal import Decimal

import pytest

from carbon_rating.domain.inputs import AccountMonth, PeerTotals
from carbon_rating.domain.intensity import PeerRanking, peer_intensity
from carbon_rating.domain.periods import window
from carbon_rating.domain.rating import _CTX, _context, _score, _score_only
from carbon_rating.methodology import load
from carbon_rating.service_layer.consumers import _fact
from carbon_rating.service_layer.input_cache import InputCache
from carbon_rating.service_layer.ports import AccountRow

PERIODS = window("2024-12", 24)


async def _latest(harness, credit_code: str) -> dict:
    async with harness.container.uow() as uow:
        return (await uow.repo.current_ratings([credit_code]))[credit_code].details


async def test_restatement_written_elsewhere_is_read_not_the_cached_month(harness, ev) -> None:
    """Another replica (here: the repository directly) restates a month this process has cached;
    the next batch that touches the enterprise — only through a fact, no account event — rates
    on the restated month."""
    c = ev.code(1)
    await harness.publish(
        ev.enterprise(1),
        *[ev.enterprise(i) for i in range(2, 8)],
        *[ev.account(i, p, "1000", "1000") for i in range(1, 8) for p in PERIODS],
    )
    await harness.settle()
    cache = harness.container.inputs
    assert c in cache._months and cache._months[c]["2024-12"].month.total_tco2 == Decimal(1000)
    before = await _latest(harness, c)
    assert Decimal(before["intensity"]) == Decimal(1)

    restated = AccountMonth("2024-12", Decimal(13000), Decimal(1000), "MWh", None, Decimal(2), 2)
    async with harness.container.uow() as uow:
        await uow.repo.upsert_accounts([AccountRow(c, "4411", "cn-default@1", restated)])
        await uow.commit()

    hits = cache.hits
    await harness.publish(ev.fact(1, "compliance.permit_violation", "2024-12", "0"))
    await harness.settle()
    after = await _latest(harness, c)
    # (11 × 1000 + 13000) / (12 × 1000): the restated month, not the cached one
    assert Decimal(after["intensity"]) == Decimal(2)
    assert cache.hits > hits  # the other 23 months still came from the cache
    assert cache._months[c]["2024-12"].month.calculation_version == 2


async def test_account_versions_known_from_the_stamp_and_read_when_it_differs(harness, ev) -> None:
    """A new month through the consumer: the enterprise's stored versions are the cached ones plus
    the row the batch wrote, which the (count, sum of versions) stamp confirms — nothing is read.
    A month restated behind the cache's back plus a new month through the consumer in one batch:
    the stamp differs from the prediction, so the versions are read and the restated month used."""
    c = ev.code(1)
    first = PERIODS[:12]
    await harness.publish(ev.enterprise(1), *[ev.account(1, p, "500", "1000") for p in first])
    await harness.settle()
    cache = harness.container.inputs
    stamp_hits, misses = cache.stamp_hits, cache.misses
    await harness.publish(ev.account(1, PERIODS[12], "6500", "1000"))  # a new latest month
    await harness.settle()
    assert cache.stamp_hits == stamp_hits + 1 and cache.misses == misses  # nothing read in full
    assert Decimal((await _latest(harness, c))["intensity"]) == Decimal(1)  # (11 × 500 + 6500) / 12,000
    assert list(cache._versions[c]) == list(PERIODS[:13])  # every stored period, oldest first

    restated = AccountMonth(PERIODS[5], Decimal(12500), Decimal(1000), "MWh", None, Decimal(2), 2)
    async with harness.container.uow() as uow:  # another replica
        await uow.repo.upsert_accounts([AccountRow(c, "4411", "cn-default@1", restated)])
        await uow.commit()
    stamp_hits = cache.stamp_hits
    await harness.publish(ev.account(1, PERIODS[13], "500", "1000"))
    await harness.settle()
    assert cache.stamp_hits == stamp_hits  # the prediction did not match the stored stamp
    # window PERIODS[2..13]: 10 × 500 + 6500 + 12500 (the restated month) = 24,000 / 12,000
    assert Decimal((await _latest(harness, c))["intensity"]) == Decimal(2)
    assert cache._versions[c][PERIODS[5]] == 2


async def test_restatement_through_the_consumer_replaces_the_cached_month(harness, ev) -> None:
    c = ev.code(1)
    await harness.publish(ev.enterprise(1), *[ev.account(1, p, "500", "1000") for p in PERIODS])
    await harness.settle()
    await harness.publish(ev.account(1, "2024-06", "6500", "1000", version=2))
    await harness.settle()
    assert Decimal((await _latest(harness, c))["intensity"]) == Decimal(1)  # (11 × 500 + 6500) / 12,000
    # a redelivered older version changes nothing (the stored month keeps version 2)
    await harness.publish(ev.account(1, "2024-06", "500", "1000", version=1))
    await harness.settle()
    assert Decimal((await _latest(harness, c))["intensity"]) == Decimal(1)
    assert harness.container.inputs._months[c]["2024-06"].month.total_tco2 == Decimal(6500)


async def test_rolled_back_reads_never_enter_the_cache(harness, ev) -> None:
    await harness.publish(ev.enterprise(1))
    await harness.settle()
    cache = InputCache()
    reads = cache.begin()
    with pytest.raises(RuntimeError):
        async with harness.container.uow() as uow:
            await uow.repo.upsert_accounts(
                [
                    AccountRow(
                        ev.code(1),
                        "4411",
                        "f@1",
                        AccountMonth(p, Decimal(9), Decimal(1), "MWh", None, Decimal(2)),
                    )
                    for p in PERIODS
                ]
            )
            latest, rows = await reads.load(uow.repo, [ev.code(1)], 24)
            assert latest == {ev.code(1): "2024-12"} and len(rows[ev.code(1)]) == 24  # it saw its own writes
            raise RuntimeError("the batch fails before its commit")
    assert len(cache) == 0  # never published
    async with harness.container.uow() as uow:
        latest, rows = await cache.begin().load(uow.repo, [ev.code(1)], 24)
    assert latest == {} and rows == {}  # and the rolled-back months are not served from anywhere


async def test_cached_reads_equal_the_uncached_queries(harness, ev) -> None:
    """After random restatements (some written behind the cache's back), late months and
    enterprises with gaps, the cache gives exactly the rows the plain queries give."""
    rnd = random.Random(11)
    codes = [ev.code(i) for i in range(1, 9)]
    cache = InputCache()
    version: dict[tuple[str, str], int] = {}
    all_periods = window("2024-12", 36)
    for round_ in range(6):
        rows = []
        for c in codes:
            for p in rnd.sample(all_periods[: 12 + 4 * round_], 5):
                version[(c, p)] = version.get((c, p), 0) + rnd.choice([1, 1, 2])
                m = AccountMonth(
                    p,
                    Decimal(rnd.randint(1, 10**6)) / 100,
                    Decimal(rnd.randint(1, 999)),
                    "t",
                    None,
                    Decimal(3),
                    version[(c, p)],
                )
                rows.append(AccountRow(c, "3120", "f@1", m))
        async with harness.container.uow() as uow:
            await uow.repo.upsert_accounts(rows)
            await uow.commit()
        subset = rnd.sample(codes, 5)
        reads = cache.begin()
        async with harness.container.uow() as uow:
            latest, cached_rows = await reads.load(uow.repo, subset, 24)
            plain_latest = await uow.repo.latest_account_periods(subset)
            periods = sorted({p for c in subset for p in window(plain_latest[c], 24)})
            plain = await uow.repo.accounts_for(subset, periods)
            await uow.commit()
        reads.publish()
        assert latest == plain_latest
        for c in subset:
            own = set(window(plain_latest[c], 24))
            assert cached_rows[c] == [r for r in plain[c] if r.month.period in own]
    assert cache.hits > 0 and cache.misses > 0


async def test_corrected_fact_written_elsewhere_is_read_not_the_cached_one(harness, ev) -> None:
    """A fact correction stored behind the cache's back (another replica) is seen by the next
    batch that touches the enterprise only through an account event."""
    c = ev.code(1)
    await harness.publish(
        ev.enterprise(1),
        *[ev.account(1, p, "1000", "1000") for p in PERIODS],
        ev.fact(1, "compliance.env_penalty", "2024-11", "0", severity="major"),
    )
    await harness.settle()
    cache = harness.container.inputs
    assert cache._facts[c][1][0].value == Decimal(0)
    assert (await _latest(harness, c))["sub_scores"]["compliance"]["value"] == "100.00"

    corrected = ev.fact(1, "compliance.env_penalty", "2024-11", "2", revision=2, severity="major")
    async with harness.container.uow() as uow:
        await uow.repo.upsert_facts([_fact(corrected)])
        await uow.commit()
    await harness.publish(ev.account(1, "2024-12", "1000", "1000", version=2))
    await harness.settle()
    assert (await _latest(harness, c))["sub_scores"]["compliance"]["value"] != "100.00"
    assert cache._facts[c][0] == (1, 2) and cache._facts[c][1][0].value == Decimal(2)


async def test_cached_facts_equal_the_uncached_query(harness, ev) -> None:
    """Random new facts and corrections across periods: the cached facts are exactly the query's
    (same rows, same order), before and after each change."""
    rnd = random.Random(5)
    codes = [ev.code(i) for i in range(1, 6)]
    cache = InputCache()
    revision: dict[str, int] = {}
    for _ in range(8):
        rows = []
        for c in rnd.sample(codes, 3):
            for _ in range(rnd.randint(1, 4)):
                key = f"ecology/{c}/{rnd.randrange(6)}"
                revision[key] = revision.get(key, 0) + 1
                rows.append(
                    _fact(
                        ev.fact(
                            int(c[10:17]),
                            rnd.choice(["compliance.env_penalty", "ets.borrowed", "finance.total_capex"]),
                            rnd.choice(PERIODS),
                            str(rnd.randint(0, 9)),
                            key=key,
                            revision=revision[key],
                        )
                    )
                )
        async with harness.container.uow() as uow:
            await uow.repo.upsert_facts(rows)
            await uow.commit()
        subset = rnd.sample(codes, 4)
        reads = cache.begin()
        async with harness.container.uow() as uow:
            got = await reads.load_facts(uow.repo, subset)
            plain = await uow.repo.facts_for(subset, None)
            await uow.commit()
        reads.publish()
        for c in subset:
            assert got[c] == plain.get(c, [])
    assert cache.hits > 0 and cache.misses > 0


def test_cache_is_bounded_least_recently_rated_first() -> None:
    cache = InputCache(max_enterprises=2)
    row = AccountRow("c", None, "f@1", AccountMonth("2024-01", Decimal(1), None, None, None, Decimal(3)))
    for c in ("a", "b", "a", "c"):
        cache._store(c, {"2024-01": row})
    assert list(cache._months) == ["a", "c"]
    off = InputCache(max_enterprises=0)
    off._store("a", {"2024-01": row})
    off._store_facts("a", (1, 1), [])
    assert len(off) == 0 and not off._facts


def _peers(rnd: random.Random, n: int) -> tuple[PeerTotals, ...]:
    out = []
    for i in range(n):
        unit = rnd.choice(["MWh", "MWh", "MWh", "GWh", None])
        total = Decimal(rnd.choice([100, 200, 300]))
        # equal intensities written differently (1.0 vs 1.00) and peers without a denominator
        output = Decimal(rnd.choice(["100", "100.0", "200", "0"]))
        out.append(PeerTotals(f"c{i:03d}", total, unit, output, Decimal(rnd.choice(["50", "50.00", "0"]))))
    out.append(out[rnd.randrange(len(out))])  # a credit code twice
    return tuple(out)


@pytest.mark.parametrize("seed", range(20))
def test_peer_ranking_equals_filtering_and_sorting_for_each_member(seed: int) -> None:
    rnd = random.Random(seed)
    peers = _peers(rnd, rnd.randint(0, 30))
    ranking = PeerRanking(peers)
    for basis in ("per_output:MWh", "per_revenue", "per_output:t"):
        for own in [*{t.credit_code for t in peers}, "absent"]:
            values = (peer_intensity(t, basis) for t in peers if t.credit_code != own)
            expected = sorted(v for v in values if v is not None)
            got = ranking.excluding(own, basis)
            # identical objects in identical order (str() of a Decimal keeps its exponent)
            assert [str(v) for v in got] == [str(v) for v in expected]


@pytest.mark.parametrize("seed", range(20))
def test_value_only_gap_score_equals_the_full_score(seed: int, ev) -> None:
    """The gap search scores candidates with ``_score_only``; at the enterprise's own intensity it
    must give exactly the full score (same terms, same order)."""
    from decimal import localcontext

    from carbon_rating.domain.inputs import EnterpriseProfile, RatingInputs

    rnd = random.Random(seed)
    m = load("v2" if seed % 2 else "v1")
    ent = EnterpriseProfile(
        ev.code(1), "x", "4411", "140400", "large", rnd.choice(["early", "mid", "mature"]), True
    )
    months = tuple(
        AccountMonth(
            p,
            Decimal(rnd.randint(50, 150)),
            Decimal(rnd.randint(80, 120)),
            "MWh",
            None,
            Decimal(rnd.randint(1, 5)),
        )
        for p in PERIODS
    )
    peers = tuple(
        PeerTotals(f"p{i}", Decimal(rnd.randint(500, 2000)), "MWh", Decimal(1200), Decimal(0))
        for i in range(rnd.randint(0, 12))
    )
    inputs = RatingInputs(ent, "2024-12", months, (), peers)
    with localcontext(_CTX):
        ctx = _context(inputs, m, PeerRanking(peers))
        score, _ = _score(ctx, m)
        assert _score_only(ctx, m, ctx.own) == score
