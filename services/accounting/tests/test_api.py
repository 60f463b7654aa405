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
