"""Submissions over HTTP against a real PostgreSQL: the walking skeleton, bad input, corrections."""

from __future__ import annotations

import json
from decimal import Decimal
from typing import Any

from carbon_common.events import FactRecorded, Topics


def record(code: str, rid: str = "r1", **kw: Any) -> dict[str, Any]:
    base = {"record_id": rid, "credit_code": code, "indicator": "energy.raw_coal", "period": "2024-03",
            "value": "1000", "unit": "t"}  # fmt: skip
    return {**base, **kw}


def submit(dept: str, *records: dict[str, Any]) -> dict[str, Any]:
    return {"department": dept, "records": list(records)}


async def test_one_raw_coal_record_becomes_a_fact_recorded(
    client: Any, code: Any, register: Any, wait_records: Any, sql: Any
) -> None:
    c = code(1)
    await register(c)
    r = await client.post("/v1/submissions", json=submit("stats-140400", record(c, value="1.25", unit="kt")))
    assert r.status_code == 200, r.text
    body = r.json()
    assert (body["accepted"], body["rejected"], body["duplicates"]) == (1, [], 0)

    (rec,) = await wait_records(Topics.FACTS, 1)
    headers = {k: v.decode() for k, v in rec.headers}
    assert rec.key == c.encode() and headers["ce_type"] == FactRecorded.ce_type
    fact = FactRecorded.model_validate_json(rec.value)
    assert (fact.value, fact.unit, fact.fact_key, fact.revision) == (Decimal(1250), "t", "stats-140400/r1", 1)
    assert json.loads(rec.value)["value"] == "1250"  # a decimal string, never a float
    stored = await sql.fetchrow("SELECT evidence_hash, value FROM facts WHERE fact_id = $1", fact.fact_id)
    assert stored["evidence_hash"] == fact.evidence_hash and stored["value"] == Decimal(1250)

    again = (await client.get(f"/v1/submissions/{body['submission_id']}")).json()
    assert again["accepted"] == 1 and again["department"] == "stats-140400"


async def test_bad_records_are_rejected_one_by_one(
    client: Any, code: Any, register: Any, wait_records: Any
) -> None:
    c, unknown = code(2), code(3)
    await register(c)
    bad_check = c[:17] + ("0" if c[17] != "0" else "1")
    records = [
        record(c, "good-1"),
        record(bad_check, "bad-check"),
        record(unknown, "unregistered"),
        record(c, "bad-indicator", indicator="energy.unobtainium"),
        record(c, "bad-unit", unit="MWh"),
        record(c, "negative", value="-1"),
        record(c, "future", period="2031-01"),
        record(c, "malformed-period", period="March 2024"),
        record(c, "not-allowed", indicator="ets.allocated"),
        record(c, "no-severity", indicator="compliance.env_penalty", unit="count", value="1"),
        record(c, "good-2", indicator="energy.natural_gas", value="123456", unit="Nm3"),
    ]
    r = await client.post("/v1/submissions", json=submit("stats-140400", *records))
    body = r.json()
    assert body["accepted"] == 2
    got = {x["record_id"]: x["field"] for x in body["rejected"]}
    assert got == {
        "bad-check": "credit_code", "unregistered": "credit_code", "bad-indicator": "indicator",
        "bad-unit": "unit", "negative": "value", "future": "period", "malformed-period": "period",
        "not-allowed": "indicator", "no-severity": "indicator",
    }  # fmt: skip
    assert all(x["reason"] for x in body["rejected"])
    read_back = (await client.get(f"/v1/submissions/{body['submission_id']}")).json()
    assert read_back["rejected"] == body["rejected"]
    facts = [FactRecorded.model_validate_json(x.value) for x in await wait_records(Topics.FACTS, 2)]
    assert sorted(f.record_id for f in facts) == ["good-1", "good-2"]
    assert {f.value for f in facts} == {Decimal(1000), Decimal("12.3456")}


async def test_penalty_needs_severity_from_eeb(client: Any, code: Any, register: Any) -> None:
    c = code(4)
    await register(c)
    no_sev = record(c, "p1", indicator="compliance.env_penalty", unit="count", value="1")
    with_sev = record(
        c, "p2", indicator="compliance.env_penalty", unit="count", value="1", attributes={"severity": "major"}
    )
    body = (await client.post("/v1/submissions", json=submit("eeb-140400", no_sev, with_sev))).json()
    assert body["accepted"] == 1
    assert body["rejected"] == [
        {"record_id": "p1", "field": "attributes.severity", "reason": body["rejected"][0]["reason"]}
    ]


async def test_resend_is_a_no_op_and_changed_content_a_correction(
    client: Any, code: Any, register: Any, wait_records: Any, sql: Any
) -> None:
    c = code(5)
    await register(c)
    await client.post("/v1/submissions", json=submit("stats-140400", record(c)))
    same = (
        await client.post("/v1/submissions", json=submit("stats-140400", record(c, value="1", unit="kt")))
    ).json()
    assert (same["accepted"], same["duplicates"]) == (0, 1)
    corr = (await client.post("/v1/submissions", json=submit("stats-140400", record(c, value="990")))).json()
    assert (corr["accepted"], corr["corrections"]) == (1, 1)
    events = [FactRecorded.model_validate_json(r.value) for r in await wait_records(Topics.FACTS, 2)]
    assert [(e.revision, e.value) for e in events] == [(1, Decimal(1000)), (2, Decimal(990))]
    assert events[0].fact_key == events[1].fact_key
    history = await sql.fetch("SELECT revision FROM facts WHERE record_id = 'r1' ORDER BY revision")
    assert [h["revision"] for h in history] == [1, 2]
    # the department re-sends both versions (at-least-once delivery): nothing changes
    for value in ("1000", "990"):
        resent = (
            await client.post("/v1/submissions", json=submit("stats-140400", record(c, value=value)))
        ).json()
        assert (resent["accepted"], resent["duplicates"], resent["corrections"]) == (0, 1, 0)
    history = await sql.fetch("SELECT revision FROM facts WHERE record_id = 'r1' ORDER BY revision")
    assert [h["revision"] for h in history] == [1, 2]
    assert await sql.fetchval("SELECT revision FROM fact_heads WHERE record_id = 'r1'") == 2


async def test_malformed_body_is_422_and_oversized_batch_413(client: Any, code: Any) -> None:
    r = await client.post("/v1/submissions", json={"department": "stats-140400", "records": "nope"})
    assert r.status_code == 422 and r.json()["errors"][0]["field"] == "records"
    r = await client.post(
        "/v1/submissions", content=b"{not json", headers={"content-type": "application/json"}
    )
    assert r.status_code == 422 and r.headers["content-type"].startswith("application/problem+json")
    r = await client.post("/v1/submissions", json=submit("stats-140400", {"credit_code": code(1)}))
    assert r.status_code == 422 and r.json()["errors"][0]["field"] == "records.0.record_id"
    r = await client.post("/v1/submissions", json=submit("bank-140400", record(code(1))))
    assert r.status_code == 422 and r.json()["errors"][0]["field"] == "department"
    big = submit("stats-140400", *[record(code(1), f"r{i}") for i in range(10_001)])
    r = await client.post("/v1/submissions", json=big)
    assert r.status_code == 413 and r.json()["errors"][0]["field"] == "records"


async def test_catalogue_endpoint(client: Any) -> None:
    cat = (await client.get("/v1/catalogue/indicators")).json()
    by_code = {i["code"]: i for i in cat["indicators"]}
    assert cat["version"] == 2
    assert by_code["energy.raw_coal"]["plausibility"] == {
        "family": "energy.",
        "max_ratio": "10",
        "window_months": 12,
        "min_history": 3,
    }
    assert by_code["compliance.env_penalty"]["plausibility"] is None
    assert by_code["electricity.purchased"]["authoritative"] == ["grid"]
    assert by_code["electricity.purchased"]["cross_check_tolerance"] == "0.05"
    assert by_code["compliance.env_penalty"]["attributes"]["severity"]["required"] is True
