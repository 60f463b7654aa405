"""Plausibility checks (issue 3): a month far from the department's own median is flagged, never
rejected; the rule is catalogue data; flags sit with the cross-validation flags and count in the
data-quality summary. Domain rules first, then the real database (the SQL median)."""

from __future__ import annotations

import asyncio
from decimal import Decimal
from typing import Any

import pytest

from carbon_ingest.adapters.catalogue_files import load_catalogue
from carbon_ingest.domain.catalogue import CatalogueError, parse_catalogue
from carbon_ingest.domain.plausibility import (
    PLAUSIBILITY,
    MonthSummary,
    PlausibilityRule,
    Target,
    evaluate,
    rule_for,
    targets_for,
)

RULE = PlausibilityRule("energy.", Decimal(10), window_months=12, min_history=3)


def summary(total: str, months: int, median: str | None) -> MonthSummary:
    return MonthSummary("C", "energy.raw_coal", "stats-140400", "2024-06", Decimal(total), months,
                        None if median is None else Decimal(median))  # fmt: skip


def test_evaluate_flags_both_directions_and_needs_history() -> None:
    assert evaluate(summary("1000", 3, "100"), RULE) is not None  # exactly 10x: flagged
    assert evaluate(summary("999", 3, "100"), RULE) is None
    assert evaluate(summary("10", 3, "100"), RULE) is not None  # a tenth: flagged
    assert evaluate(summary("10.01", 3, "100"), RULE) is None
    assert evaluate(summary("0", 5, "100"), RULE) is not None  # a month of nothing after a normal run
    assert evaluate(summary("100000", 2, "100"), RULE) is None  # too little history
    assert evaluate(summary("100000", 5, "0"), RULE) is None  # no ratio to a zero median
    assert evaluate(summary("100000", 5, None), RULE) is None
    flag = evaluate(summary("10000", 6, "100"), RULE)
    assert flag is not None and (flag.check, flag.value, flag.reference_value, flag.relative_difference) == (
        PLAUSIBILITY, Decimal(10000), Decimal(100), Decimal(100)
    )  # fmt: skip


def test_targets_and_rules() -> None:
    rules = {"energy.raw_coal": RULE}
    got = targets_for([("C", "energy.raw_coal", "stats-140400", "2024-02"),
                       ("C", "energy.raw_coal", "stats-140400", "2024-02"),
                       ("C", "compliance.env_penalty", "eeb-140400", "2024-02")], rules)  # fmt: skip
    assert got == [Target("C", "energy.raw_coal", "stats-140400", "2024-02", "2023-02")]  # 12 months back
    longer = PlausibilityRule("energy.raw_coal", Decimal(50))
    assert rule_for([RULE, longer], "energy.raw_coal") is longer  # the longest family wins
    assert rule_for([RULE, longer], "energy.coke") is RULE
    assert rule_for([RULE], "finance.revenue") is None


def test_the_packaged_catalogue_carries_the_rules() -> None:
    cat = load_catalogue()
    assert cat.version == 2
    assert cat.plausibility_rules["energy.raw_coal"].max_ratio == Decimal(10)
    assert cat.plausibility_rules["finance.revenue"].max_ratio == Decimal(20)
    assert "compliance.env_penalty" not in cat.plausibility_rules
    assert "finance.value_added" not in cat.plausibility_rules  # may be negative: no ratio rule


@pytest.mark.parametrize(
    ("rule", "message"),
    [
        ({"family": "energy.", "max_ratio": "1"}, "max_ratio > 1"),
        ({"family": "nothing.", "max_ratio": "10"}, "matches no indicator"),
        ({"max_ratio": "10"}, "malformed"),
    ],
)
def test_broken_rules_fail_at_load(rule: dict[str, Any], message: str) -> None:
    data = {
        "version": 9,
        "indicators": {"energy.raw_coal": {"unit": "t", "kinds": ["stats"]}},
        "plausibility": [rule],
    }
    with pytest.raises(CatalogueError, match=message):
        parse_catalogue(data)


# --- against the real database, through the HTTP path ---------------------------------------------
def coal(code: str, period: str, value: str, rid: str | None = None) -> dict[str, Any]:
    return {"record_id": rid or f"coal-{period}", "credit_code": code, "indicator": "energy.raw_coal",
            "period": period, "value": value, "unit": "t"}  # fmt: skip


async def submit(client: Any, dept: str, *records: dict[str, Any]) -> dict[str, Any]:
    r = await client.post("/v1/submissions", json={"department": dept, "records": list(records)})
    assert r.status_code == 200, r.text
    body: dict[str, Any] = r.json()
    return body


async def plausibility_flags(client: Any, code: str) -> list[dict[str, Any]]:
    flags = (await client.get("/v1/quality/flags", params={"credit_code": code})).json()
    return [f for f in flags if f["check"] == PLAUSIBILITY]


async def test_hundredfold_month_is_flagged_not_rejected_and_a_correction_clears_it(
    client: Any, code: Any, register: Any
) -> None:
    c = code(31)
    await register(c)
    await submit(client, "stats-140400", *(coal(c, f"2023-{m:02d}", "100") for m in range(1, 7)))
    assert await plausibility_flags(client, c) == []
    body = await submit(client, "stats-140400", coal(c, "2023-07", "10000"))  # the 100x
    assert body["accepted"] == 1 and body["rejected"] == []  # flagged, never rejected
    (flag,) = await plausibility_flags(client, c)
    assert flag == {
        "credit_code": c, "period": "2023-07", "indicator": "energy.raw_coal", "check": PLAUSIBILITY,
        "department": "stats-140400", "value": "10000", "reference_departments": "stats-140400",
        "reference_value": "100", "relative_difference": "100", "tolerance": "10",
    }  # fmt: skip
    summary = (await client.get(f"/v1/quality/enterprises/{c}")).json()
    assert (summary["plausibility_flags"], summary["flags"]) == (1, 0)  # counted apart from cross-source

    # another source's history is its own: a self-declaration of 10,000 t has no history yet
    await submit(client, f"self-{c}", coal(c, "2023-07", "10000", rid="self-coal-2023-07"))
    assert len(await plausibility_flags(client, c)) == 1

    corrected = await submit(client, "stats-140400", coal(c, "2023-07", "100"))  # a unit slip, fixed
    assert corrected["corrections"] == 1
    assert await plausibility_flags(client, c) == []


async def test_median_of_an_even_history_is_the_mean_of_the_middle_two(
    client: Any, code: Any, register: Any
) -> None:
    c = code(32)
    await register(c)
    await submit(client, "stats-140400", *(coal(c, f"2023-{m:02d}", v) for m, v in
                                           [(1, "100"), (2, "200"), (3, "300"), (4, "1000")]))  # fmt: skip
    # median 250: 2,400 t is 9.6x (no flag); the lower middle (200) would have made it 12x
    await submit(client, "stats-140400", coal(c, "2023-05", "2400"))
    assert await plausibility_flags(client, c) == []
    await submit(
        client, "stats-140400", coal(c, "2023-05", "2500", rid="coal-2023-05-b")
    )  # month total 4,900
    (flag,) = await plausibility_flags(client, c)
    assert (flag["value"], flag["reference_value"], flag["relative_difference"]) == ("4900", "250", "19.6")


async def test_months_outside_the_window_do_not_count(client: Any, code: Any, register: Any) -> None:
    c = code(33)
    await register(c)
    await submit(client, "stats-140400", *(coal(c, f"2021-{m:02d}", "100") for m in range(1, 7)))
    await submit(client, "stats-140400", coal(c, "2023-01", "10000"))  # 2021 is > 12 months back
    assert await plausibility_flags(client, c) == []


async def test_cross_validation_and_plausibility_flags_coexist(client: Any, code: Any, register: Any) -> None:
    c = code(34)
    await register(c)

    def elec(period: str, value: str, rid: str) -> dict[str, Any]:
        return {"record_id": rid, "credit_code": c, "indicator": "electricity.purchased", "period": period,
                "value": value, "unit": "MWh"}  # fmt: skip

    await submit(client, "grid-140400", *(elec(f"2023-{m:02d}", "100", f"g{m}") for m in range(1, 5)))
    await submit(client, "grid-140400", elec("2023-05", "5000", "g5"))  # 50x the grid's own median
    await submit(client, f"self-{c}", elec("2023-05", "100", "s5"))  # disagrees with the grid: cross flag
    flags = (await client.get("/v1/quality/flags", params={"credit_code": c})).json()
    assert sorted((f["check"], f["department"]) for f in flags) == [
        ("cross_source", f"self-{c}"), (PLAUSIBILITY, "grid-140400")
    ]  # fmt: skip
    await submit(client, f"self-{c}", elec("2023-05", "5000", "s5"))  # agrees now: only that flag goes
    flags = (await client.get("/v1/quality/flags", params={"credit_code": c})).json()
    assert [(f["check"], f["department"]) for f in flags] == [(PLAUSIBILITY, "grid-140400")]


async def test_same_department_concurrent_submissions_serialise(
    client: Any, code: Any, register: Any, sql: Any
) -> None:
    """Two submissions of one department with the same record ids, at once: the department lock
    makes one of them the first revision and the other a correction (never a constraint error)."""
    c = code(35)
    await register(c)
    a, b = await asyncio.gather(
        client.post("/v1/submissions", json={"department": "stats-140400", "records": [coal(c, "2023-01", "100")]}),
        client.post("/v1/submissions", json={"department": "stats-140400", "records": [coal(c, "2023-01", "200")]}),
    )  # fmt: skip
    assert a.status_code == b.status_code == 200, (a.text, b.text)
    assert sorted((a.json()["corrections"], b.json()["corrections"])) == [0, 1]
    assert await sql.fetchval("SELECT max(revision) FROM facts") == 2
    assert (await client.get("/v1/evidence/verify")).json()["ok"] is True


async def test_concurrent_sources_still_get_their_cross_validation_flag(
    client: Any, code: Any, register: Any
) -> None:
    """Grid and self-declared electricity for the same enterprise-months, sent at the same time:
    cross-validation runs under the chain lock, so the second to commit sees the first one's value
    and every discrepancy is flagged (without it both could miss each other, or collide on the
    flag rows)."""
    c = code(36)
    await register(c)
    months = [f"2023-{m:02d}" for m in range(1, 9)]

    def elec(period: str, value: str, rid: str) -> dict[str, Any]:
        return {"record_id": rid, "credit_code": c, "indicator": "electricity.purchased", "period": period,
                "value": value, "unit": "MWh"}  # fmt: skip

    for period in months:
        a, b = await asyncio.gather(
            client.post("/v1/submissions", json={"department": "grid-140400", "records": [elec(period, "1000", f"g{period}")]}),
            client.post("/v1/submissions", json={"department": f"self-{c}", "records": [elec(period, "1500", f"s{period}")]}),
        )  # fmt: skip
        assert a.status_code == b.status_code == 200, (a.text, b.text)
    flags = (await client.get("/v1/quality/flags", params={"credit_code": c})).json()
    assert sorted(f["period"] for f in flags if f["check"] == "cross_source") == months
