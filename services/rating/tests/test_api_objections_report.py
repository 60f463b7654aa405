"""Objections, facts-driven vetoes, the report, the methodology and bad input — over HTTP against
a real PostgreSQL and the in-process bus."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

from carbon_common.events import Envelope, Topics


async def rated(harness, ev, i: int, **kw) -> None:
    await harness.publish(ev.enterprise(i, **kw), ev.account(i, "2024-06", "80000"))
    await harness.settle()


async def test_serious_penalty_fact_vetoes_and_is_published(harness, ev, client) -> None:
    await rated(harness, ev, 20)
    before = harness.issued()[-1]
    await harness.publish(
        ev.fact(20, "compliance.env_penalty", "2024-05", "1", severity="serious"),
        ev.fact(20, "energy.raw_coal", "2024-05", "1000", unit="t"),
    )  # not kept
    await harness.settle()
    after = harness.issued()[-1]
    assert after.vetoes == ["serious_env_penalty"] and after.label == "red"
    assert after.previous_label == before.label
    body = (await client.get(f"/v1/ratings/{ev.code(20)}")).json()
    assert body["vetoes"][0]["code"] == "serious_env_penalty" and body["vetoes"][0]["caps_label_at"] == "red"
    assert body["gap_to_next_label"]["blocked_by"] == ["serious_env_penalty"]


async def test_a_late_older_input_still_issues_a_later_rating(harness, ev) -> None:
    """Inputs arrive out of event-time order (facts topic lagging the accounts topic, e.g. after
    a broker outage): the rating they cause must still be *later* than the current one, or
    lending, which keeps the newest by (issued_at, rating_id), would keep the superseded one."""
    now = datetime.now(UTC)
    await harness.publish(
        Envelope(ev.enterprise(25), "/test", time=now),
        Envelope(ev.account(25, "2024-06", "80000"), "/test", time=now),
    )
    await harness.settle()
    late = ev.fact(25, "compliance.env_penalty", "2024-05", "1", severity="serious")
    await harness.publish(Envelope(late, "/test", time=now - timedelta(seconds=30)))
    await harness.settle()
    first, second = [r for r in harness.issued() if r.credit_code == ev.code(25)]
    assert second.vetoes == ["serious_env_penalty"]
    assert (first.issued_at, first.rating_id) < (second.issued_at, second.rating_id)


async def test_fact_correction_replaces_the_earlier_revision(harness, ev) -> None:
    await rated(harness, ev, 21)
    key = "eeb-140400/pen-1"
    await harness.publish(ev.fact(21, "compliance.env_penalty", "2024-05", "1", key=key, severity="serious"))
    await harness.settle()
    await harness.publish(
        ev.fact(21, "compliance.env_penalty", "2024-05", "0", key=key, revision=2, severity="serious")
    )
    await harness.settle()
    assert harness.issued()[-1].vetoes == []


async def test_objection_lifecycle_with_revision(harness, ev, client) -> None:
    await rated(harness, ev, 22)
    code = ev.code(22)
    resp = await client.post(
        "/v1/objections",
        json={"credit_code": code, "reason": "Electricity double counted", "evidence": ["invoice-1"]},
        headers={"X-Org": code},
    )
    assert resp.status_code == 201, resp.text
    o = resp.json()
    assert o["status"] == "open" and o["due_at"] > o["filed_at"] and not o["overdue"]
    assert (await client.get(f"/v1/ratings/{code}")).json()["open_objections"] == 1
    oid = o["objection_id"]
    assert (
        await client.post(f"/v1/objections/{oid}/decision", json={"outcome": "in_review", "reason": "taken"})
    ).json()["status"] == "in_review"
    resp = await client.post(
        f"/v1/objections/{oid}/decision",
        json={"outcome": "revised", "reason": "meter data confirms", "revised_score": "70"},
    )
    assert resp.status_code == 200, resp.text
    decided = resp.json()
    await harness.settle()
    last = harness.issued()[-1]
    assert decided["status"] == "revised" and decided["new_rating_id"] == last.rating_id
    assert last.score == Decimal("70.00") and last.label == "light_green"
    current = (await client.get(f"/v1/ratings/{code}")).json()
    assert current["reason"] == "objection_revision" and current["objection_id"] == oid
    assert current["open_objections"] == 0
    history = (await client.get(f"/v1/ratings/{code}/history")).json()["ratings"]
    assert [h["reason"] for h in history] == ["objection_revision", "inputs_changed"]
    # a decided objection is final
    again = await client.post(
        f"/v1/objections/{oid}/decision", json={"outcome": "rejected", "reason": "late"}
    )
    assert again.status_code == 409
    assert again.headers["content-type"].startswith("application/problem+json")


async def test_objection_path_variant_listing_and_bad_input(harness, ev, client) -> None:
    await rated(harness, ev, 23)
    code = ev.code(23)
    resp = await client.post(f"/v1/ratings/{code}/objections", json={"reason": "Penalty revoked on appeal"})
    assert resp.status_code == 201
    listed = (await client.get("/v1/objections", params={"credit_code": code, "status": "open"})).json()
    assert [o["objection_id"] for o in listed] == [resp.json()["objection_id"]]
    assert (await client.get("/v1/objections", params={"overdue": "true"})).json() == []
    incomplete = await client.post(
        f"/v1/objections/{listed[0]['objection_id']}/decision",
        json={"outcome": "revised", "reason": "no score given"},
    )
    assert incomplete.status_code == 422
    unknown = await client.post("/v1/objections", json={"credit_code": ev.code(99), "reason": "who am I"})
    assert unknown.status_code == 404 and "no rating" in unknown.json()["detail"]
    assert (
        await client.post("/v1/objections/nope/decision", json={"outcome": "upheld", "reason": "x y"})
    ).status_code == 404


async def test_unknown_enterprise_is_404_problem(client, ev) -> None:
    resp = await client.get(f"/v1/ratings/{ev.code(98)}")
    assert resp.status_code == 404
    assert resp.json()["detail"].startswith("no rating for")
    assert (await client.get(f"/v1/ratings/{ev.code(98)}/history")).status_code == 404


async def test_report_html_in_both_languages_and_logged(harness, ev, client) -> None:
    await harness.publish(
        ev.enterprise(24, name="阳泉市晋阳焦化有限公司", industry="2521", stage="early"),
        *[
            ev.account(24, f"2024-{m:02d}", str(50000 + 1000 * m), unit="t", industry="2521")
            for m in range(1, 7)
        ],
    )
    await harness.settle()
    zh = await client.get(
        f"/v1/ratings/{ev.code(24)}/report",
        params={"lang": "zh"},
        headers={"X-Org": "bank-b", "X-Purpose": "credit review"},
    )
    assert zh.status_code == 200 and zh.headers["content-type"].startswith("text/html")
    html = zh.text
    assert "阳泉市晋阳焦化有限公司" in html and "碳信用报告" in html and html.count("<svg") == 3
    label_zh = (await client.get(f"/v1/ratings/{ev.code(24)}")).json()["label_zh"]
    assert label_zh in html
    en = await client.get(f"/v1/ratings/{ev.code(24)}/report", params={"lang": "en"})
    assert "Carbon credit report" in en.text
    log = (await client.get(f"/v1/ratings/{ev.code(24)}/queries")).json()["queries"]
    assert [(q["org"], q["resource"]) for q in log] == [("bank-b", "report")]


async def test_report_bad_lang_and_format_are_422(harness, ev, client) -> None:
    await rated(harness, ev, 25)
    bad = await client.get(f"/v1/ratings/{ev.code(25)}/report", params={"lang": "fr"})
    assert bad.status_code == 422 and bad.json()["errors"][0]["field"] == "lang"
    assert (
        await client.get(f"/v1/ratings/{ev.code(25)}/report", params={"format": "docx"})
    ).status_code == 422
    pdf = await client.get(f"/v1/ratings/{ev.code(25)}/report", params={"format": "pdf"})
    assert (
        pdf.status_code == 200 and pdf.headers["content-type"] == "application/pdf"
    )  # see test_report_pdf.py


async def test_methodology_endpoint_and_full_rerate(harness, ev, client) -> None:
    body = (await client.get("/v1/methodology")).json()
    assert body["version"] == "v1" and body["weights"]["early"]["forward_looking"] == "0.40"
    for i in (26, 27):
        await rated(harness, ev, i)
    resp = await client.post("/v1/admin/rerate", params={"reason": "methodology_change"})
    assert resp.status_code == 200
    out = resp.json()
    assert out["enterprises_considered"] == 2 and out["ratings_issued"] == 0  # same methodology: no change


async def test_directory_stage_change_rerates(harness, ev) -> None:
    await rated(harness, ev, 28, stage="mid")
    await harness.publish(ev.enterprise(28, stage="early", revision=2))
    await harness.settle()
    assert [r.transition_stage for r in harness.issued()] == ["mid", "early"]
    assert not harness.dlq(Topics.ENTERPRISES)


async def test_objection_list_is_paged_oldest_first(harness, ev, client) -> None:
    await rated(harness, ev, 24)
    code = ev.code(24)
    filed = []
    for i in range(3):
        r = await client.post(f"/v1/ratings/{code}/objections", json={"reason": f"point {i}"})
        assert r.status_code == 201, r.text
        filed.append(r.json()["objection_id"])
    page = lambda **p: client.get("/v1/objections", params={"credit_code": code, **p})  # noqa: E731
    assert [o["objection_id"] for o in (await page(limit=2)).json()] == filed[:2]
    assert [o["objection_id"] for o in (await page(offset=2, limit=2)).json()] == filed[2:]
    assert (await page(limit=201)).status_code == 422
    assert (await page(offset=-1)).status_code == 422
