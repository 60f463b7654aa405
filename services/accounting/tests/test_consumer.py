"""The consumer on a real PostgreSQL with the in-process bus: facts and enterprises in, accounts out."""

from __future__ import annotations

from decimal import Decimal
from types import SimpleNamespace
from typing import Any

from sqlalchemy import func, select, text

from carbon_accounting.adapters.orm import fact_history
from carbon_common.bus.port import to_record
from carbon_common.events import Envelope, Topics

Service = tuple[Any, Any]


async def test_one_raw_coal_fact_gives_one_account_of_1900_3(service: Service, b: SimpleNamespace) -> None:
    container, bus = service
    code = b.credit_code()
    await b.publish(bus, b.enterprise(code, "4411"), b.fact(code, "energy.raw_coal", "1000", "t"))
    await b.settle(container, bus)
    [acct] = b.accounts_for(bus, code)
    assert acct.scope1_combustion_tco2 == Decimal("1900.3")
    assert acct.total_tco2 == Decimal("1900.3")
    assert acct.period == "2024-01" and acct.industry_code == "4411"
    assert acct.calculation_version == 1 and acct.fact_count == 1
    assert acct.factor_set == "cn-default@1"
    assert acct.data_quality_score == 2


async def test_duplicate_delivery_and_noop_correction_emit_nothing(
    service: Service, b: SimpleNamespace
) -> None:
    container, bus = service
    code = b.credit_code()
    first = b.fact(code, "energy.raw_coal", "1000", "t", record_id="r1")
    env = Envelope(data=first, source="/ingest")
    await bus.publish([to_record(env)])
    await b.settle(container, bus)
    await bus.publish([to_record(env)])  # redelivery, same ce_id: its revision is already stored
    same = b.fact(code, "energy.raw_coal", "1000", "t", record_id="r1", revision=2)  # no-op correction
    await b.publish(bus, same)
    await b.settle(container, bus)
    assert len(b.accounts_for(bus, code)) == 1


async def test_correction_restates_with_next_calculation_version(
    service: Service, b: SimpleNamespace
) -> None:
    container, bus = service
    code = b.credit_code()
    await b.publish(bus, b.fact(code, "energy.raw_coal", "1000", "t", record_id="r1"))
    await b.settle(container, bus)
    await b.publish(bus, b.fact(code, "energy.raw_coal", "1200", "t", record_id="r1", revision=2))
    await b.settle(container, bus)
    # a stale revision arriving late changes nothing
    await b.publish(bus, b.fact(code, "energy.raw_coal", "900", "t", record_id="r1", revision=1))
    await b.settle(container, bus)
    accts = b.accounts_for(bus, code)
    assert [a.calculation_version for a in accts] == [1, 2]
    assert accts[-1].scope1_combustion_tco2 == Decimal("1200") * Decimal("1.9003")
    async with container.uow() as uow:
        n = await uow.session.scalar(
            select(func.count()).select_from(fact_history).where(fact_history.c.credit_code == code)
        )
    assert n == 2  # history keeps revision 1 and 2


async def test_correction_then_reversal_restores_the_original_figures(
    service: Service, b: SimpleNamespace
) -> None:
    container, bus = service
    code = b.credit_code()
    for rev, value in ((1, "1000"), (2, "1500"), (3, "1000")):
        await b.publish(bus, b.fact(code, "energy.coke", value, "t", record_id="c1", revision=rev))
        await b.settle(container, bus)
    accts = b.accounts_for(bus, code)
    assert accts[0].total_tco2 == accts[2].total_tco2 != accts[1].total_tco2
    assert [a.calculation_version for a in accts] == [1, 2, 3]


async def test_a_batch_touching_one_month_many_times_is_computed_once(
    service: Service, b: SimpleNamespace
) -> None:
    container, bus = service
    code = b.credit_code()
    facts = [b.fact(code, "energy.raw_coal", "100", "t") for _ in range(5)]
    await b.publish(bus, *facts, b.fact(code, "energy.raw_coal", "1", "t", period="2024-02"))
    await b.settle(container, bus)
    accts = b.accounts_for(bus, code)
    assert sorted(a.period for a in accts) == ["2024-01", "2024-02"]
    jan = next(a for a in accts if a.period == "2024-01")
    assert jan.scope1_combustion_tco2 == Decimal("500") * Decimal("1.9003") and jan.fact_count == 5


async def test_facts_before_enterprise_are_restated_when_it_arrives(
    service: Service, b: SimpleNamespace
) -> None:
    container, bus = service
    code = b.credit_code()
    await b.publish(
        bus,
        b.fact(code, "energy.raw_coal", "1000", "t"),
        b.fact(code, "production.power_supplied", "2000", "MWh"),
    )
    await b.settle(container, bus)
    [generic] = b.accounts_for(bus, code)
    assert generic.industry_code is None and generic.intensity_per_output is None
    await b.publish(bus, b.enterprise(code, "4411"))
    await b.settle(container, bus)
    accts = b.accounts_for(bus, code)
    assert len(accts) == 2
    assert accts[1].calculation_version == 2 and accts[1].industry_code == "4411"
    assert accts[1].output_unit == "MWh"
    assert accts[1].intensity_per_output == (Decimal("1900.3") / 2000).quantize(Decimal("0.000001"))


async def test_fact_in_a_foreign_unit_is_dead_lettered_and_neighbours_applied(
    service: Service, b: SimpleNamespace
) -> None:
    container, bus = service
    code = b.credit_code()
    good1 = b.fact(code, "energy.raw_coal", "10", "t", period="2024-03")
    bad = b.fact(code, "energy.raw_coal", "10", "GJ", period="2024-04")
    good2 = b.fact(code, "energy.raw_coal", "20", "t", period="2024-05")
    await b.publish(bus, good1, bad, good2)
    await b.settle(container, bus)
    assert sorted(a.period for a in b.accounts_for(bus, code)) == ["2024-03", "2024-05"]
    dlq = [r for r in bus.records(Topics.dlq(Topics.FACTS)) if r.key == code.encode()]
    assert len(dlq) == 1
    assert b"GJ" in dict(dlq[0].headers)["dlq_reason"]


async def test_undecodable_record_goes_to_dlq_and_consumer_keeps_going(
    service: Service, b: SimpleNamespace
) -> None:
    from carbon_common.bus.port import Record

    container, bus = service
    code = b.credit_code()
    garbage = Record(
        Topics.FACTS, code.encode(), b"{not json", (("ce_type", b"x"), ("ce_specversion", b"1.0"))
    )
    await bus.publish([garbage])
    await b.publish(bus, b.fact(code, "energy.diesel", "1", "t"))
    await b.settle(container, bus)
    assert len(b.accounts_for(bus, code)) == 1
    assert any(r.value == b"{not json" for r in bus.records(Topics.dlq(Topics.FACTS)))


async def test_irrelevant_indicators_are_consumed_but_not_stored(
    service: Service, b: SimpleNamespace
) -> None:
    container, bus = service
    code = b.credit_code()
    await b.publish(bus, b.fact(code, "compliance.env_penalty", "1", "count", department="eeb-140400"))
    await b.settle(container, bus)
    assert b.accounts_for(bus, code) == []
    async with container.uow() as uow:
        stored = await uow.session.scalar(
            text("SELECT count(*) FROM facts WHERE credit_code = :c"), {"c": code}
        )
        history = await uow.session.scalar(
            text("SELECT count(*) FROM fact_history WHERE credit_code = :c"), {"c": code}
        )
    assert stored == 0 and history == 0
    assert bus.lag() == 0  # consumed all the same


async def test_only_months_whose_current_facts_changed_are_recomputed(
    service: Service, b: SimpleNamespace
) -> None:
    """``upsert_facts`` reports the months it changed: a redelivery or a stale revision reports
    none (so nothing is recomputed), a higher revision reports its month."""
    from carbon_accounting.adapters.consumer import to_fact

    container, _ = service
    code = b.credit_code()
    rev1 = to_fact(b.fact(code, "energy.raw_coal", "10", "t", record_id="u1", period="2024-03"))
    other = to_fact(b.fact(code, "energy.coke", "5", "t", record_id="u2", period="2024-04"))
    async with container.uow() as uow:
        assert await uow.repo.upsert_facts([rev1, other]) == {(code, "2024-03"), (code, "2024-04")}
        assert await uow.repo.upsert_facts([rev1, other]) == set()  # redelivery
        rev2 = rev1._replace(revision=2, value=Decimal("12"))
        assert await uow.repo.upsert_facts([rev2]) == {(code, "2024-03")}
        assert await uow.repo.upsert_facts([rev1]) == set()  # stale revision arriving late
        stored = (await uow.repo.facts_for([(code, "2024-03")]))[(code, "2024-03")]
        assert [(f.revision, f.value) for f in stored] == [(2, Decimal("12"))]
        assert [f.revision for f in await uow.repo.fact_history(rev1.fact_key)] == [1, 2]
