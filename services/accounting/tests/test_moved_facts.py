"""A correction that moves a fact to another month or enterprise, on a real PostgreSQL through the
batch handler: ingest accepts one (a new revision of a record id whose ``period`` or
``credit_code`` differs is new content: ``carbon_ingest.domain.facts.plan_onto`` makes it
revision + 1). The month that lost the fact is recomputed in the same batch and re-published
with the next ``calculation_version`` (an empty month as a zero account, ``fact_count`` 0), the
month that gained it is published too, a redelivery changes nothing, and over random streams of
moving corrections every account equals an independent recomputation from the current revisions
(each accepted fact counted in exactly one account)."""

from __future__ import annotations

import itertools
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st
from sqlalchemy import text
from stdnum.cn import uscc

from carbon_accounting.adapters.consumer import Inbound, batch_handler, decode_record
from carbon_accounting.adapters.factor_files import load_packaged
from carbon_accounting.bootstrap import Container, bootstrap
from carbon_accounting.domain.calculation import compute_account
from carbon_accounting.domain.model import Enterprise, Fact
from carbon_accounting.service_layer.handlers import account_event
from carbon_accounting.settings import Settings
from carbon_common.bus.memory import InMemoryBus
from carbon_common.bus.port import Decoded, Record, to_record
from carbon_common.events import AccountUpdated, EnterpriseRegistered, Envelope, FactRecorded, Topics, decode
from carbon_common.settings import PostgresSettings

FS = load_packaged()
_serial = itertools.count(1)
#: (indicator, unit, department) of the facts the tests move around
COAL = ("energy.raw_coal", "t", "stats-140400")
GAS = ("energy.natural_gas", "1e4 Nm3", "stats-140400")
POWER = ("electricity.purchased", "MWh", "grid-140400")
SPECS = [COAL, GAS, POWER]
Service = tuple[Container, InMemoryBus]
Pair = tuple[str, str]


def credit_code() -> str:
    base = f"911404{next(_serial):04d}{uuid.uuid4().int % 10**7:07d}"
    return base + uscc.calc_check_digit(base)


def record(
    rid: str, code: str, period: str, revision: int, value: str, spec: tuple[str, str, str] = COAL
) -> Record:
    """A ``FactRecorded`` of record ``rid`` (its fact key: department/rid, whatever the period)."""
    indicator, unit, dept = spec
    event = FactRecorded(
        fact_id=uuid.uuid4().hex,
        fact_key=f"{dept}/{rid}",
        revision=revision,
        credit_code=code,
        department=dept,
        record_id=rid,
        indicator=indicator,
        period=period,
        value=Decimal(value),
        unit=unit,
        evidence_hash="sha256:" + uuid.uuid4().hex,
        recorded_at=datetime.now(UTC),
    )
    return to_record(Envelope(data=event, source="/ingest"))


def directory(code: str, industry: str, revision: int = 1) -> Record:
    event = EnterpriseRegistered(
        credit_code=code,
        name="长治测试企业",
        region_code="140400",
        industry_code=industry,
        size_class="large",
        transition_stage="mid",
        ets_participant=False,
        revision=revision,
    )
    return to_record(Envelope(data=event, source="/ingest"))


@pytest.fixture
async def quiet(db_url: str) -> AsyncIterator[Service]:
    """The service without its background relay: ``run_batch`` relays after each batch itself."""
    settings_ = Settings(
        postgres=PostgresSettings(url=db_url, pool_size=2, max_overflow=2), run_workers=False
    )  # type: ignore[arg-type]
    bus = InMemoryBus()
    container = bootstrap(settings_, bus=bus)
    await container.start()
    try:
        yield container, bus
    finally:
        await container.stop()


async def run_batch(service: Service, records: list[Record]) -> dict[Pair, AccountUpdated]:
    """Apply one batch through the consumer's handler; the AccountUpdated it published, by month
    (asserting that no month is published twice by one batch)."""
    container, bus = service
    seen = {id(r) for r in bus.records(Topics.ACCOUNTS)}
    batch: list[Decoded[Inbound]] = [Decoded(r, decode_record(r)) for r in records]
    await batch_handler(container.uow, container.factor_sets)(batch)
    while await container.runtime.relay.relay_once():
        pass
    out: dict[Pair, AccountUpdated] = {}
    for rec in bus.records(Topics.ACCOUNTS):
        if id(rec) in seen:
            continue
        event = decode(rec.value, rec.headers, {AccountUpdated.ce_type: AccountUpdated}).data
        assert isinstance(event, AccountUpdated)
        assert (event.credit_code, event.period) not in out, "a month published twice by one batch"
        out[(event.credit_code, event.period)] = event
    return out


async def stored_accounts(service: Service, codes: list[str]) -> dict[Pair, tuple[Any, ...]]:
    """(total, fact_count, calculation_version) of every stored account of these enterprises."""
    async with service[0].uow() as uow:
        rows = await uow.session.execute(
            text(
                "SELECT credit_code, period, total_tco2, fact_count, calculation_version"
                " FROM accounts WHERE credit_code = ANY(:c)"
            ),
            {"c": codes},
        )
        return {(r[0], r[1]): (r[2], r[3], r[4]) for r in rows}


def ef(indicator: str) -> Decimal:
    """The packaged set's combustion factor (tCO2 per unit) of a fuel in 2024."""
    factor = FS.for_indicator(indicator, 2024)
    assert factor is not None
    return Decimal(factor.value)


def coal(t: str) -> Decimal:
    return Decimal(t) * ef("energy.raw_coal")


async def test_a_correction_that_moves_a_fact_restates_both_months(quiet: Service) -> None:
    code = credit_code()
    rid = f"{code}-coal"
    first = [record(rid, code, "2024-03", 1, "10"), record(f"{code}-gas", code, "2024-03", 1, "2", GAS)]
    published = await run_batch(quiet, first)
    assert set(published) == {(code, "2024-03")}
    assert published[(code, "2024-03")].fact_count == 2

    moved = [record(rid, code, "2024-04", 2, "12")]  # the coal belonged to April
    published = await run_batch(quiet, moved)
    assert set(published) == {(code, "2024-03"), (code, "2024-04")}
    march, april = published[(code, "2024-03")], published[(code, "2024-04")]
    assert (march.calculation_version, march.fact_count, march.scope1_combustion_tco2) == (
        2,
        1,
        Decimal(2) * ef("energy.natural_gas"),
    )
    assert (april.calculation_version, april.fact_count, april.scope1_combustion_tco2) == (1, 1, coal("12"))
    assert await stored_accounts(quiet, [code]) == {
        (code, "2024-03"): (march.total_tco2, 1, 2),
        (code, "2024-04"): (april.total_tco2, 1, 1),
    }

    # a redelivery of either batch (a crash before the offset commit) changes nothing
    before = await stored_accounts(quiet, [code])
    assert await run_batch(quiet, moved) == {}
    assert await run_batch(quiet, first) == {}
    assert await stored_accounts(quiet, [code]) == before

    # moved back (a third revision, in March again): both months restated once more
    published = await run_batch(quiet, [record(rid, code, "2024-03", 3, "10")])
    assert {k: (e.calculation_version, e.fact_count) for k, e in published.items()} == {
        (code, "2024-03"): (3, 2),
        (code, "2024-04"): (2, 0),
    }
    assert published[(code, "2024-03")].total_tco2 == total(code, "2024-03", first)
    assert published[(code, "2024-04")].total_tco2 == 0


def total(code: str, period: str, records: list[Record], enterprise: Enterprise | None = None) -> Decimal:
    """The total computed from these records alone (the domain, no database)."""
    facts = [f for f in (decode_record(r).fact for r in records) if f is not None]
    figures = compute_account(code, period, facts, enterprise, FS).figures
    return Decimal(figures.total_tco2)


async def test_a_month_that_loses_its_only_fact_is_published_as_a_zero_account(quiet: Service) -> None:
    """With its directory entry (the industry stays on the emptied account), a move to another
    enterprise, and a stale revision arriving afterwards that changes nothing."""
    code, other = credit_code(), credit_code()
    rid = f"{code}-power"
    await run_batch(quiet, [directory(code, "3120"), directory(other, "4411")])
    published = await run_batch(quiet, [record(rid, code, "2024-05", 1, "100", POWER)])
    assert published[(code, "2024-05")].industry_code == "3120"

    # the record was the other enterprise's (a wrong credit code corrected)
    published = await run_batch(quiet, [record(rid, other, "2024-05", 3, "100", POWER)])
    emptied, gained = published[(code, "2024-05")], published[(other, "2024-05")]
    zero = compute_account(code, "2024-05", [], Enterprise(code, "3120", "140400", False, 1), FS).figures
    assert emptied == account_event(zero, 2)
    assert (emptied.fact_count, emptied.total_tco2, emptied.industry_code) == (0, 0, "3120")
    assert (gained.calculation_version, gained.fact_count, gained.industry_code) == (1, 1, "4411")
    moved = [record(rid, other, "2024-05", 3, "100", POWER)]
    assert gained.total_tco2 == total(other, "2024-05", moved, Enterprise(other, "4411", "140400", False, 1))

    # revision 2 arriving late (it named the first enterprise): stored superseded, nothing published
    assert await run_batch(quiet, [record(rid, code, "2024-05", 2, "90", POWER)]) == {}
    accounts = await stored_accounts(quiet, [code, other])
    assert accounts[(code, "2024-05")][1:] == (0, 2)
    assert accounts[(other, "2024-05")][1:] == (1, 1)


async def test_an_emptied_month_that_gains_facts_again_counts_only_them(quiet: Service) -> None:
    code = credit_code()
    await run_batch(quiet, [record(f"{code}-x", code, "2024-06", 1, "5")])
    await run_batch(quiet, [record(f"{code}-x", code, "2024-07", 2, "5")])
    published = await run_batch(quiet, [record(f"{code}-y", code, "2024-06", 1, "7")])
    assert {k: (e.calculation_version, e.fact_count, e.total_tco2) for k, e in published.items()} == {
        (code, "2024-06"): (3, 1, coal("7")),
    }


async def test_an_emptied_month_is_restated_with_its_enterprise(quiet: Service) -> None:
    """A directory change restates the enterprise's months: the emptied one too (its industry)."""
    code = credit_code()
    await run_batch(quiet, [directory(code, "3120")])
    await run_batch(quiet, [record(f"{code}-x", code, "2024-08", 1, "5")])
    await run_batch(quiet, [record(f"{code}-x", code, "2024-09", 2, "5")])
    async with quiet[0].uow() as uow:
        assert await uow.repo.fact_pairs([code]) == [(code, "2024-08"), (code, "2024-09")]
        assert (code, "2024-08") in await uow.repo.fact_pairs()
    published = await run_batch(quiet, [directory(code, "4411", revision=2)])
    assert {k: (e.calculation_version, e.fact_count, e.industry_code) for k, e in published.items()} == {
        (code, "2024-08"): (3, 0, "4411"),
        (code, "2024-09"): (2, 1, "4411"),
    }


#: one step: (record 0-2, enterprise 0/1, month 0-2, spec, revision 1-4, value) or a redelivery
steps = st.lists(
    st.one_of(
        st.tuples(
            st.integers(0, 2),
            st.integers(0, 1),
            st.integers(0, 2),
            st.integers(0, len(SPECS) - 1),
            st.integers(1, 4),
            st.sampled_from(["0", "3", "10", "250.5"]),
        ),
        st.integers(0, 30).map(lambda i: ("again", i)),
    ),
    min_size=1,
    max_size=20,
)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(stream=steps, cuts=st.lists(st.integers(0, 20), max_size=5), with_directory=st.booleans())
# always tried: a record moved to another month in a later batch, then to the other enterprise
@example(
    stream=[(0, 0, 0, 0, 1, "3"), (1, 0, 0, 2, 1, "10"), (0, 0, 1, 0, 2, "3"), (0, 1, 1, 1, 3, "10")],
    cuts=[1, 2, 3],
    with_directory=False,
)
async def test_every_account_equals_a_recomputation_from_the_current_revisions(
    quiet: Service, stream: list[Any], cuts: list[int], with_directory: bool
) -> None:
    """Records whose revisions wander between months and enterprises, cut into random batches:
    per batch one event per changed month with the next version and nothing on redelivery; at
    the end every month's last event and stored account equal the account computed from the
    highest revision of each record (an emptied month: the zero account), and the fact counts
    add up to the number of records (each counted once)."""
    codes = [credit_code(), credit_code()]
    periods = ["2024-01", "2024-02", "2024-03"]
    tag = uuid.uuid4().hex[:8]
    records: list[Record] = []
    for step in stream:
        if step[0] == "again":
            if records:
                records.append(records[step[1] % len(records)])
            continue
        r, e, m, spec, revision, value = step
        # a record keeps its department (the fact key) but may change indicator, month, enterprise
        indicator, unit, _ = SPECS[spec]
        records.append(
            record(f"{tag}-{r}", codes[e], periods[m], revision, value, (indicator, unit, "stats-140400"))
        )
    industries = {codes[0]: "3120", codes[1]: "4411"}
    if with_directory:
        await run_batch(quiet, [directory(c, i) for c, i in industries.items()])
    bounds = sorted({0, len(records), *(c for c in cuts if c < len(records))})
    last: dict[Pair, AccountUpdated] = {}
    for start, end in itertools.pairwise(bounds):
        published = await run_batch(quiet, records[start:end])
        for pair, event in published.items():
            prev = last.get(pair)
            assert event.calculation_version == (1 if prev is None else prev.calculation_version + 1)
            if prev is not None:
                assert event.model_dump(exclude={"calculation_version"}) != prev.model_dump(
                    exclude={"calculation_version"}
                )
            last[pair] = event
        assert await run_batch(quiet, records[start:end]) == {}  # redelivery

    # independently: the highest revision of each record (the first received among equal ones)
    current: dict[str, Fact] = {}
    for rec in records:
        f = decode_record(rec).fact
        assert f is not None
        if f.fact_key not in current or f.revision > current[f.fact_key].revision:
            current[f.fact_key] = f
    by_pair: dict[Pair, list[Fact]] = {}
    for f in current.values():
        by_pair.setdefault((f.credit_code, f.period), []).append(f)
    stored = await stored_accounts(quiet, codes)
    assert set(by_pair) <= set(last) == set(stored)
    for pair, event in last.items():
        ent = Enterprise(pair[0], industries[pair[0]], "140400", False, 1) if with_directory else None
        figures = compute_account(*pair, by_pair.get(pair, []), ent, FS).figures
        assert event == account_event(figures, event.calculation_version)
        assert stored[pair] == (event.total_tco2, event.fact_count, event.calculation_version)
    assert sum(fact_count for _, fact_count, _ in stored.values()) == len(current)
