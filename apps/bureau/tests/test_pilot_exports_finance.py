"""Exported energy and balance sheets in the pilot: who reports them, how big they are, and the
expectations' netting rule (docs/accounting.md §2) on hand-computed cases."""

from __future__ import annotations

import random
import statistics
from collections import defaultdict
from decimal import Decimal
from typing import Any

import pytest

from carbon_bureau.pilot import PilotDataset, generate
from carbon_bureau.pilot import expectations as exp
from carbon_bureau.pilot.catalogue import CATALOGUE, department_kind
from carbon_bureau.pilot.enterprises import Enterprise, build_enterprises
from carbon_bureau.pilot.industries import BALANCE_SHEET, INDUSTRY_BY_CODE

HEAVY = ("4411", "3120", "3110", "2521", "3011", "2614", "2621", "0610", "3216")


@pytest.fixture(scope="module")
def mid() -> PilotDataset:
    return generate(seed=11, enterprises=400, months=30)


def _final_values(dataset: PilotDataset) -> dict[tuple[str, str], tuple[str, dict[str, Any], Decimal]]:
    """(department, record_id) -> (department, record, canonical value), last value wins."""
    bad = {(m["department"], m["record_id"]) for m in dataset.expectations["malformed"]}
    out = {}
    for batch in dataset.submissions:
        dept = batch["department"]
        for rec in batch["records"]:
            if (dept, rec["record_id"]) in bad:
                continue
            value = Decimal(rec["value"]) * CATALOGUE[rec["indicator"]].units[rec["unit"]]
            out[(dept, rec["record_id"])] = (dept, rec, value)
    return out


def test_balance_sheets_every_december_consistent_with_revenue(mid: PilotDataset) -> None:
    industry = {e["credit_code"]: e["industry_code"] for e in mid.enterprises}
    sheets: dict[tuple[str, str], dict[str, Decimal]] = defaultdict(dict)
    revenue: dict[tuple[str, str], list[Decimal]] = defaultdict(list)
    for dept, rec, value in _final_values(mid).values():
        ind = rec["indicator"]
        if ind in ("finance.total_debt", "finance.total_equity"):
            assert department_kind(dept) == "tax" and rec["period"].endswith("-12"), (dept, rec)
            sheets[(rec["credit_code"], rec["period"][:4])][ind] = value
        elif ind == "finance.revenue" and department_kind(dept) == "tax":
            revenue[(rec["credit_code"], rec["period"][:4])].append(value)
    # 30 months from 2021-01: Decembers 2021 and 2022, every enterprise, both figures
    assert set(sheets) == {(c, y) for c in industry for y in ("2021", "2022")}
    assert all(len(s) == 2 for s in sheets.values())
    assert mid.expectations["counts"]["balance_sheets"] == len(industry)
    leverage: dict[str, list[float]] = defaultdict(list)
    for (code, year), s in sheets.items():
        assets = s["finance.total_debt"] + s["finance.total_equity"]
        annual = sum(revenue[(code, year)], Decimal(0)) * 12 / len(revenue[(code, year)])
        ratio = BALANCE_SHEET[INDUSTRY_BY_CODE[industry[code]].profile][0]
        # assets per revenue: the profile's ratio × plant spread 0.75–1.3 × noise (revenue is noisy too)
        assert 0.6 * ratio <= float(assets / annual) <= 1.6 * ratio, (code, year, assets, annual)
        leverage[industry[code]].append(float(s["finance.total_debt"] / assets))
    heavy = [x for code in HEAVY for x in leverage.get(code, [])]
    assert 0.40 <= statistics.median(heavy) <= 0.75
    assert all(0.1 <= x <= 1.2 for xs in leverage.values() for x in xs)


def test_exports_come_from_the_right_plants_and_departments(mid: PilotDataset) -> None:
    industry = {e["credit_code"]: e["industry_code"] for e in mid.enterprises}
    sold: dict[str, set[str]] = defaultdict(set)
    el_months: dict[tuple[str, str], Decimal] = {}
    bought: dict[tuple[str, str], Decimal] = {}
    for dept, rec, value in _final_values(mid).values():
        ind, code = rec["indicator"], rec["credit_code"]
        if ind == "electricity.exported":
            assert department_kind(dept) == "grid"
            sold[ind].add(industry[code])
            el_months[(code, rec["period"])] = value
        elif ind == "heat.exported":
            kind = department_kind(dept)
            assert (industry[code], kind) in {("2521", "self"), ("2614", "stats"), ("2621", "stats")}
            sold[ind].add(industry[code])
        elif ind == "electricity.purchased" and department_kind(dept) == "grid":
            bought[(code, rec["period"])] = value
    assert sold["electricity.exported"] <= {"3120", "2521"} and "2521" in sold["electricity.exported"]
    assert "2521" in sold["heat.exported"]
    assert all(key in bought for key in el_months)  # a plant exports only a share of what it meters
    counts = mid.expectations["counts"]
    assert counts["netted_enterprise_months"] > 0 and counts["floored_enterprise_months"] > 0


def _ent(code: str) -> Enterprise:
    """The first generated enterprise of an industry (traits are irrelevant to the recomputation)."""
    return next(e for e in build_enterprises(random.Random(3), 200) if e.industry.code == code)


def _rec(code: str, rid: str, indicator: str, value: str, unit: str) -> dict[str, Any]:
    return {"record_id": rid, "credit_code": code, "indicator": indicator, "period": "2023-06",
            "value": value, "unit": unit}  # fmt: skip


def _scope2(ent: Enterprise, batches: list[tuple[str, list[dict[str, Any]]]]) -> Decimal:
    out = exp.compute([ent], batches, [])
    return Decimal(out["emissions"]["by_enterprise"][ent.credit_code]["2023-06"][2])


def test_netting_follows_the_documented_worked_example() -> None:
    """docs/accounting.md §2: buy 10,000 MWh, export 2,500; buy 3,000 GJ heat, export 1,000 (2023)."""
    for industry, want in (("3120", Decimal("4199.5")), ("4411", Decimal("5636"))):
        ent = _ent(industry)
        c = ent.credit_code
        batches = [
            ("grid-140400", [_rec(c, "p", "electricity.purchased", "10000", "MWh"),
                             _rec(c, "x", "electricity.exported", "2500000", "kWh")]),
            ("stats-140400", [_rec(c, "h", "heat.purchased", "3", "TJ"),
                              _rec(c, "hx", "heat.exported", "1000", "GJ")]),
        ]  # fmt: skip
        assert _scope2(ent, batches) == want, industry  # power: exports are its product, not netted


def test_exports_above_purchases_floor_each_carrier_at_zero_and_the_official_source_wins() -> None:
    ent = _ent("2521")
    c = ent.credit_code
    batches = [
        ("grid-140400", [_rec(c, "p", "electricity.purchased", "1000", "MWh"),
                         _rec(c, "x", "electricity.exported", "1800", "MWh")]),
        ("stats-140400", [_rec(c, "h", "heat.purchased", "3000", "GJ"),
                          _rec(c, "hx", "heat.exported", "1000", "GJ")]),
        # the enterprise declares a bigger heat export: the statistics bureau's figure counts
        (f"self-{c}", [_rec(c, "hx", "heat.exported", "2900", "GJ")]),
    ]  # fmt: skip
    # electricity floored at 0 (not −426.4); heat (3,000 − 1,000) × 0.11 = 220
    assert _scope2(ent, batches) == Decimal(220)
    out = exp.compute([ent], batches, [])
    assert (out["counts"]["netted_enterprise_months"], out["counts"]["floored_enterprise_months"]) == (1, 1)
    # without the official heat figure, the declaration counts: heat (3,000 − 2,900) × 0.11 = 11
    assert _scope2(ent, [batches[0], (batches[1][0], batches[1][1][:1]), batches[2]]) == Decimal(11)
