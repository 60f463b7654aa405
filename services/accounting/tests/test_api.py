"""HTTP API against a real PostgreSQL (httpx + ASGITransport; the container is started by the test)."""

from __future__ import annotations

from decimal import Decimal
from types import SimpleNamespace
from typing import Any

import httpx

from carbon_accounting.entrypoints.app import create_app

Service = tuple[Any, Any]


def client(container: Any) -> httpx.AsyncClient:
    app = create_app(container.settings, container=container)
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://accounting")


async def test_monthly_quarterly_yearly_accounts(service: Service, b: SimpleNamespace) -> None:
    container, bus = service
    code = b.credit_code()
    events = [b.enterprise(code, "4411")]
    for m in (1, 2, 3, 4):
        events.append(b.fact(code, "energy.raw_coal", str(100 * m), "t", period=f"2024-{m:02d}"))
        events.append(b.fact(code, "production.power_supplied", "100", "MWh", period=f"2024-{m:02d}"))
    await b.publish(bus, *events)
    await b.settle(container, bus)
    async with client(container) as c:
        r = await c.get(f"/v1/accounts/{code}", params={"from": "2024-01", "to": "2024-03"})
        assert r.status_code == 200
        items = r.json()["items"]
        assert [i["period"] for i in items] == ["2024-01", "2024-02", "2024-03"]
        assert items[0]["scope1_combustion_tco2"] == "190.0300"  # decimal string, 100 t × 1.9003
        assert Decimal(items[2]["total_tco2"]) == Decimal("300") * Decimal("1.9003")
        q = (await c.get(f"/v1/accounts/{code}", params={"granularity": "quarter"})).json()["items"]
        assert [i["period"] for i in q] == ["2024-Q1", "2024-Q2"]
        assert Decimal(q[0]["total_tco2"]) == Decimal("600") * Decimal("1.9003")
        assert Decimal(q[0]["output_quantity"]) == 300 and q[0]["output_unit"] == "MWh"
        y = (await c.get(f"/v1/accounts/{code}", params={"granularity": "year"})).json()["items"]
        assert Decimal(y[0]["total_tco2"]) == Decimal("1000") * Decimal("1.9003")
        bad = await c.get(f"/v1/accounts/{code}", params={"from": "2024-13"})
        assert bad.status_code == 422 and bad.headers["content-type"].startswith("application/problem+json")
        backwards = await c.get(f"/v1/accounts/{code}", params={"from": "2024-05", "to": "2024-01"})
        assert backwards.status_code == 400


async def test_lineage_names_facts_factors_and_arithmetic(service: Service, b: SimpleNamespace) -> None:
    container, bus = service
    code = b.credit_code()
    coal = b.fact(code, "energy.raw_coal", "1000", "t")
    elec = b.fact(code, "electricity.purchased", "10000", "MWh", department="grid-140400", period="2024-01")
    await b.publish(bus, coal, elec)
    await b.settle(container, bus)
    async with client(container) as c:
        r = await c.get(f"/v1/accounts/{code}/2024-01/lineage")
        assert r.status_code == 200
        body = r.json()
        assert body["reproducible"] is True and body["factor_set"] == "cn-default@1"
        figs = {f["figure"]: f for f in body["figures"]}
        [term] = figs["scope1_combustion_tco2"]["terms"]
        assert term["fact"]["fact_id"] == coal.fact_id and term["fact"]["evidence_hash"] == coal.evidence_hash
        assert term["factor"]["code"] == "fuel.raw_coal" and term["factor"]["value"] == "1.9003"
        assert "1000 t × 1.9003 tCO2/t" in term["arithmetic"]
        [grid] = figs["scope2_location_tco2"]["terms"]
        assert grid["factor"]["year"] == 2023 and Decimal(grid["result_tco2"]) == Decimal("5306")
        assert Decimal(figs["total_tco2"]["value_tco2"]) == Decimal("1900.3") + Decimal("5306")
        assert {f["fact_id"] for f in body["facts"]} == {coal.fact_id, elec.fact_id}
        missing = await c.get(f"/v1/accounts/{code}/2023-01/lineage")
        assert missing.status_code == 404


async def test_factors_listing(service: Service) -> None:
    container, _ = service
    async with client(container) as c:
        body = (await c.get("/v1/factors")).json()
        assert body["factor_set"] == "cn-default@1"
        coal = next(f for f in body["factors"] if f["code"] == "fuel.raw_coal")
        assert coal["value"] == "1.9003" and coal["params"]["ncv"] == "20.908"
        assert any(f["code"] == "grid.ets_reporting" and f["verified"] is False for f in body["factors"])
        assert (await c.get("/v1/factors", params={"factor_set": "nope@9"})).status_code == 404
        docs = (await c.get("/openapi.json")).json()
        assert "summary" in docs["paths"]["/v1/accounts/{credit_code}"]["get"]


async def test_activating_a_new_factor_set_restates_accounts(
    isolated_service: Service, b: SimpleNamespace
) -> None:
    container, bus = isolated_service
    code, untouched = b.credit_code(), b.credit_code()
    await b.publish(
        bus, b.fact(code, "energy.raw_coal", "1000", "t"), b.fact(untouched, "heat.purchased", "2000", "GJ")
    )
    await b.settle(container, bus)
    async with client(container) as c:
        current = (await c.get("/v1/factors")).json()
        v2 = {
            "id": "cn-default",
            "version": "2",
            "title": "test: raw coal revised",
            "factors": [
                {**f, "value": "2.0000"} if f["code"] == "fuel.raw_coal" else f for f in current["factors"]
            ],
        }
        assert (await c.post("/v1/factor-sets", json=v2)).status_code == 201
        assert (await c.post("/v1/factor-sets", json=v2)).status_code == 409
        r = await c.post("/v1/factor-sets/cn-default/activate", json={"version": "2"})
        assert r.status_code == 200, r.text
        assert r.json() == {"factor_set": "cn-default@2", "recomputed": 2, "restated": 1}
        assert (await c.post("/v1/factor-sets/cn-default/activate", json={"version": "9"})).status_code == 404
        sets = (await c.get("/v1/factor-sets")).json()
        assert [s["ref"] for s in sets if s["active"]] == ["cn-default@2"]
        monthly = (await c.get(f"/v1/accounts/{untouched}")).json()["items"][0]
        assert monthly["factor_sets"] == ["cn-default@2"] and monthly["calculation_version"] == 1
    await b.settle(container, bus)
    accts = b.accounts_for(bus, code)
    assert [a.calculation_version for a in accts] == [1, 2]
    assert accts[-1].scope1_combustion_tco2 == Decimal("2000") and accts[-1].factor_set == "cn-default@2"
    assert len(b.accounts_for(bus, untouched)) == 1  # heat unchanged: no restatement event


async def test_app_lifespan_builds_its_own_container(db_url: str) -> None:
    from carbon_accounting.settings import Settings
    from carbon_common.settings import PostgresSettings

    app = create_app(Settings(postgres=PostgresSettings(url=db_url)))  # type: ignore[arg-type]
    transport = httpx.ASGITransport(app=app)
    client = httpx.AsyncClient(transport=transport, base_url="http://a")
    async with app.router.lifespan_context(app), client as c:
        assert app.state.container.runtime._started  # the lifespan built and started its own container
        ready = await c.get("/readyz")
        assert ready.status_code == 200, ready.text
        assert (await c.get("/livez")).json() == {"status": "ok"}


async def test_single_period_month_quarter_year_and_clear_4xx(service: Service, b: SimpleNamespace) -> None:
    container, bus = service
    code = b.credit_code()
    events: list[Any] = [b.enterprise(code, "4411")]
    for m in (1, 2, 4):  # no March: Q1 = January + February
        events.append(b.fact(code, "energy.raw_coal", str(100 * m), "t", period=f"2024-{m:02d}"))
    await b.publish(bus, *events)
    await b.settle(container, bus)
    async with client(container) as c:
        url = f"/v1/accounts/{code}"
        [month] = (await c.get(url, params={"period": "2024-02"})).json()["items"]
        assert month["period"] == "2024-02" and month["granularity"] == "month"
        assert Decimal(month["total_tco2"]) == Decimal("380.06")  # 200 t × 1.9003
        assert month["calculation_version"] == 1 and month["cross_check"] is None
        [q1] = (await c.get(url, params={"quarter": "2024-Q1"})).json()["items"]
        assert q1["period"] == "2024-Q1" and q1["months"] == ["2024-01", "2024-02"]
        assert Decimal(q1["total_tco2"]) == Decimal("570.09")  # 300 t × 1.9003
        [year] = (await c.get(url, params={"year": "2024"})).json()["items"]
        assert year["granularity"] == "year" and Decimal(year["total_tco2"]) == Decimal("1330.21")  # 700 t
        for params in ({"period": "2024-13"}, {"period": "2024-1"}, {"quarter": "2024-Q5"}, {"year": "24"}):
            bad = await c.get(url, params=params)
            assert bad.status_code == 422, params
            assert bad.headers["content-type"].startswith("application/problem+json")
        for params in ({"period": "2024-01", "year": "2024"}, {"quarter": "2024-Q1", "granularity": "year"}):
            conflict = await c.get(url, params=params)
            assert conflict.status_code == 400 and "Conflicting" in conflict.json()["title"], params
        assert (await c.get(url, params={"quarter": "2024-Q3"})).status_code == 404
        assert (await c.get(url, params={"period": "2023-01"})).status_code == 404
        # the range shape still answers an empty list rather than 404
        assert (await c.get(url, params={"from": "2023-01", "to": "2023-12"})).json()["items"] == []


async def test_lineage_query_shape_lists_facts_with_evidence_and_every_factor(
    service: Service, b: SimpleNamespace
) -> None:
    container, bus = service
    code = b.credit_code()
    coal = b.fact(code, "energy.raw_coal", "1000", "t", period="2023-06")
    grid = b.fact(code, "electricity.purchased", "10000", "MWh", department="grid-140400", period="2023-06")
    green = b.fact(
        code, "electricity.green_purchased", "4000", "MWh", department="grid-140400", period="2023-06"
    )
    await b.publish(bus, b.enterprise(code, "2614"), coal, grid, green)
    await b.settle(container, bus)
    async with client(container) as c:
        r = await c.get(f"/v1/accounts/{code}/lineage", params={"period": "2023-06"})
        assert r.status_code == 200, r.text
        body = r.json()
        assert body["reproducible"] is True
        legacy = (await c.get(f"/v1/accounts/{code}/2023-06/lineage")).json()
        assert legacy == body
        figs = {f["figure"]: f for f in body["figures"]}
        market = figs["scope2_market_tco2"]
        assert Decimal(market["value_tco2"]) == Decimal("3657.6")  # (10,000 − 4,000) × 0.6096
        assert {t["fact"]["fact_id"]: Decimal(t["result_tco2"]) for t in market["terms"]} == {
            grid.fact_id: Decimal("6096"),
            green.fact_id: Decimal("-2438.4"),
        }
        assert {t["factor"]["code"] for t in market["terms"]} == {"grid.residual_mix"}
        hashes = {f["fact_id"]: f["evidence_hash"] for f in body["facts"]}
        assert hashes == {e.fact_id: e.evidence_hash for e in (coal, grid, green)}
        assert {(f["code"], f["year"]) for f in body["factors"]} == {
            ("fuel.raw_coal", None),
            ("grid.national_average", 2023),
            ("grid.residual_mix", 2023),
        }
        assert all(f["source"] for f in body["factors"])
        missing = await c.get(f"/v1/accounts/{code}/lineage")
        assert missing.status_code == 422
        assert (await c.get(f"/v1/accounts/{code}/lineage", params={"period": "2023-13"})).status_code == 422
        assert (await c.get(f"/v1/accounts/{code}/lineage", params={"period": "2022-06"})).status_code == 404


async def test_emission_factors_path_is_the_factor_library(service: Service) -> None:
    container, _ = service
    async with client(container) as c:
        a = (await c.get("/v1/emission-factors")).json()
        assert a == (await c.get("/v1/factors")).json()
        assert a["factor_set"] == "cn-default@1"
        assert any(f["code"] == "grid.national_average" and f["year"] == 2022 for f in a["factors"])
        assert (await c.get("/v1/emission-factors", params={"factor_set": "nope@9"})).status_code == 404


async def test_exports_from_the_topic_are_netted_in_the_account(service: Service, b: SimpleNamespace) -> None:
    container, bus = service
    code = b.credit_code()
    await b.publish(
        bus,
        b.enterprise(code, "3120"),
        b.fact(code, "electricity.purchased", "10000", "MWh", department="grid-140400", period="2023-06"),
        b.fact(code, "electricity.exported", "2500", "MWh", department="grid-140400", period="2023-06"),
        b.fact(code, "heat.purchased", "3000", "GJ", period="2023-06"),
        b.fact(code, "heat.exported", "1000", "GJ", period="2023-06"),
    )
    await b.settle(container, bus)
    [acct] = b.accounts_for(bus, code)
    assert acct.scope2_location_tco2 == Decimal("4199.5")  # 7,500 × 0.5306 + 2,000 × 0.11
    assert acct.fact_count == 4


async def test_verified_emissions_cross_check_is_visible_in_the_account(
    service: Service, b: SimpleNamespace
) -> None:
    container, bus = service
    code = b.credit_code()
    await b.publish(
        bus,
        b.enterprise(code, "4411"),
        b.fact(code, "energy.raw_coal", "1000", "t", period="2024-01"),
        b.fact(code, "emissions.verified", "2500", "tCO2", department="eeb-140400", period="2024-01"),
        b.fact(code, "energy.raw_coal", "1000", "t", period="2024-02"),
        b.fact(code, "emissions.verified", "1950", "tCO2", department="eeb-140400", period="2024-02"),
    )
    await b.settle(container, bus)
    async with client(container) as c:
        items = (await c.get(f"/v1/accounts/{code}", params={"from": "2024-01", "to": "2024-02"})).json()[
            "items"
        ]
        jan, feb = items
        assert jan["cross_check"] == {
            "verified_tco2": "2500",
            "verified_by": "eeb-140400",
            "computed_tco2": "1900.3000",
            "computed_from": "stats-140400",
            "difference_tco2": "-599.7000",
            "relative_difference": "0.2399",
            "tolerance": "0.05",
            "discrepancy": True,
        }
        assert Decimal(jan["data_quality_score"]) == 3 and Decimal(jan["total_tco2"]) == Decimal("1900.3")
        assert feb["cross_check"]["discrepancy"] is False and Decimal(feb["data_quality_score"]) == 1
        [q1] = (await c.get(f"/v1/accounts/{code}", params={"quarter": "2024-Q1"})).json()["items"]
        assert q1["verified_months"] == ["2024-01", "2024-02"] and q1["discrepancy_months"] == ["2024-01"]
        lineage = (await c.get(f"/v1/accounts/{code}/lineage", params={"period": "2024-01"})).json()
        assert lineage["cross_check"]["discrepancy"] is True and lineage["reproducible"] is True
        assert any("differs from computed" in n for n in lineage["notes"])


async def test_verification_tolerance_is_configured(db_url: str, b: SimpleNamespace) -> None:
    from carbon_accounting.bootstrap import bootstrap
    from carbon_accounting.settings import Settings
    from carbon_common.bus.memory import InMemoryBus
    from carbon_common.settings import PostgresSettings

    bus = InMemoryBus()
    settings = Settings(
        postgres=PostgresSettings(url=db_url),  # type: ignore[arg-type]
        verification_tolerance=Decimal("0.30"),
    )
    container = bootstrap(settings, bus=bus)
    await container.start()
    await bus.start()
    try:
        code = b.credit_code()
        await b.publish(
            bus,
            b.fact(code, "energy.raw_coal", "1000", "t"),
            b.fact(code, "emissions.verified", "2500", "tCO2", department="eeb-140400"),
        )
        await b.settle(container, bus)
        [acct] = b.accounts_for(bus, code)
        assert acct.data_quality_score == 1  # 24 % apart, within the configured 30 %
        async with client(container) as c:
            [item] = (await c.get(f"/v1/accounts/{code}", params={"period": "2024-01"})).json()["items"]
            assert item["cross_check"]["tolerance"] == "0.30" and item["cross_check"]["discrepancy"] is False
    finally:
        await bus.stop()
        await container.stop()
