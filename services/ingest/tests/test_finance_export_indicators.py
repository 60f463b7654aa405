"""Exported energy and balance-sheet indicators (catalogue v2): who may report them, unit
conversion to the canonical unit, negative equity, corrections, and the authoritative source."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from carbon_common.events import FactRecorded, Topics


def rec(
    code: str, rid: str, indicator: str, value: str, unit: str, period: str = "2023-12"
) -> dict[str, Any]:
    return {"record_id": rid, "credit_code": code, "indicator": indicator, "period": period,
            "value": value, "unit": unit}  # fmt: skip


async def post(client: Any, dept: str, *records: dict[str, Any]) -> dict[str, Any]:
    r = await client.post("/v1/submissions", json={"department": dept, "records": list(records)})
    assert r.status_code == 200, r.text
    return dict(r.json())


async def test_each_new_indicator_is_accepted_in_its_canonical_unit(
    client: Any, code: Any, register: Any, wait_records: Any
) -> None:
    c = code(101)
    await register(c)
    sent = [
        ("grid-140400", rec(c, "x-el", "electricity.exported", "2500000", "kWh")),
        ("self-140400", rec(c, "x-el-self", "electricity.exported", "2.4", "GWh")),
        ("stats-140400", rec(c, "x-heat", "heat.exported", "1.5", "TJ")),
        ("self-140400", rec(c, "x-heat-self", "heat.exported", "800000", "MJ")),
        ("tax-140400", rec(c, "debt", "finance.total_debt", "123456789", "CNY")),
        ("stats-140400", rec(c, "equity", "finance.total_equity", "98765.43", "10k CNY")),
        # liabilities above assets: negative equity is a fact, not a typo
        ("self-140400", rec(c, "equity-self", "finance.total_equity", "-5000000", "CNY")),
    ]
    for dept, record in sent:
        body = await post(client, dept, record)
        assert (body["accepted"], body["rejected"]) == (1, []), (dept, record, body)

    facts = {
        f.record_id: f
        for f in (FactRecorded.model_validate_json(r.value) for r in await wait_records(Topics.FACTS, 7))
    }
    got = {rid: (f.indicator, f.value, f.unit, f.department, f.authoritative) for rid, f in facts.items()}
    assert got == {
        "x-el": ("electricity.exported", Decimal(2500), "MWh", "grid-140400", True),
        "x-el-self": ("electricity.exported", Decimal(2400), "MWh", "self-140400", False),
        "x-heat": ("heat.exported", Decimal(1500), "GJ", "stats-140400", True),
        "x-heat-self": ("heat.exported", Decimal(800), "GJ", "self-140400", False),
        "debt": ("finance.total_debt", Decimal("12345.6789"), "10k CNY", "tax-140400", True),
        "equity": ("finance.total_equity", Decimal("98765.43"), "10k CNY", "stats-140400", True),
        "equity-self": ("finance.total_equity", Decimal(-500), "10k CNY", "self-140400", False),
    }


async def test_wrong_reporters_units_and_signs_are_rejected(client: Any, code: Any, register: Any) -> None:
    c = code(102)
    await register(c)
    cases = [
        ("tax-140400", rec(c, "el-by-tax", "electricity.exported", "10", "MWh"), "indicator"),
        ("grid-140400", rec(c, "heat-by-grid", "heat.exported", "10", "GJ"), "indicator"),
        ("grid-140400", rec(c, "debt-by-grid", "finance.total_debt", "10", "10k CNY"), "indicator"),
        ("ndrc-140400", rec(c, "equity-by-ndrc", "finance.total_equity", "10", "10k CNY"), "indicator"),
        ("grid-140400", rec(c, "el-in-gj", "electricity.exported", "10", "GJ"), "unit"),
        ("stats-140400", rec(c, "heat-in-mwh", "heat.exported", "10", "MWh"), "unit"),
        ("tax-140400", rec(c, "debt-in-t", "finance.total_debt", "10", "t"), "unit"),
        ("tax-140400", rec(c, "debt-negative", "finance.total_debt", "-10", "10k CNY"), "value"),
        ("grid-140400", rec(c, "el-negative", "electricity.exported", "-10", "MWh"), "value"),
    ]
    for dept, record, field in cases:
        body = await post(client, dept, record)
        assert body["accepted"] == 0, (dept, record)
        (rejection,) = body["rejected"]
        assert (rejection["record_id"], rejection["field"]) == (record["record_id"], field), rejection
        assert rejection["reason"]


async def test_a_restated_balance_sheet_is_a_correction(
    client: Any, code: Any, register: Any, wait_records: Any
) -> None:
    c = code(103)
    await register(c)
    await post(client, "tax-140400", rec(c, "debt-2023", "finance.total_debt", "50000", "10k CNY"))
    body = await post(client, "tax-140400", rec(c, "debt-2023", "finance.total_debt", "520000000", "CNY"))
    assert (body["accepted"], body["corrections"]) == (1, 1)
    events = [FactRecorded.model_validate_json(r.value) for r in await wait_records(Topics.FACTS, 2)]
    assert [(e.revision, e.value) for e in events] == [(1, Decimal(50000)), (2, Decimal(52000))]
