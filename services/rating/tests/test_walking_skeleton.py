"""One enterprise + one AccountUpdated in → one documented rating out (RatingIssued), through the
in-process bus and a real PostgreSQL; the HTTP read shows it and logs the bank's read."""

from __future__ import annotations

from decimal import Decimal

from carbon_common.events import Topics


async def test_one_account_issues_one_rating(harness, ev) -> None:
    await harness.publish(ev.enterprise(1, stage="mid"), ev.account(1, "2024-06", "80000"))
    await harness.settle()

    issued = harness.issued()
    assert len(issued) == 1
    r = issued[0]
    assert r.credit_code == ev.code(1)
    assert r.as_of_period == "2024-06"
    assert r.methodology_version == "v1"
    assert r.transition_stage == "mid"
    assert Decimal(0) <= r.score <= Decimal(100)
    assert r.label in ("dark_green", "light_green", "yellow", "red")
    # one account only: improvement, forward-looking, compliance and ETS are missing → low confidence
    assert r.confidence < Decimal("0.5")
    assert set(r.sub_scores) >= {
        "current_performance",
        "improvement",
        "forward_looking",
        "compliance",
        "data_quality",
    }


async def test_account_before_enterprise_rates_when_directory_arrives(harness, ev) -> None:
    await harness.publish(ev.account(2, "2024-06", "80000"))
    await harness.settle()
    assert harness.issued() == []
    await harness.publish(ev.enterprise(2))
    await harness.settle()
    assert [r.credit_code for r in harness.issued()] == [ev.code(2)]


async def test_redelivery_and_identical_inputs_issue_nothing_new(harness, ev) -> None:
    envs = await harness.publish(ev.enterprise(3), ev.account(3, "2024-06", "80000"))
    await harness.settle()
    assert len(harness.issued()) == 1
    await harness.publish(*envs)  # the same envelopes again (at-least-once delivery)
    await harness.publish(ev.account(3, "2024-06", "80000"))  # same figures, new event id
    await harness.settle()
    assert len(harness.issued()) == 1


async def test_burst_is_coalesced_into_one_rating(harness, ev) -> None:
    months = [f"2024-{m:02d}" for m in range(1, 13)]
    await harness.publish(
        ev.enterprise(4), *[ev.account(4, p, str(70000 + 100 * k)) for k, p in enumerate(months)]
    )
    await harness.settle()
    issued = [r for r in harness.issued() if r.credit_code == ev.code(4)]
    assert len(issued) == 1
    assert issued[0].as_of_period == "2024-12"


async def test_restatement_with_older_version_is_ignored(harness, ev) -> None:
    await harness.publish(ev.enterprise(5), ev.account(5, "2024-06", "80000", version=2))
    await harness.settle()
    await harness.publish(ev.account(5, "2024-06", "40000", version=1))
    await harness.settle()
    assert len(harness.issued()) == 1


async def test_poison_account_is_dead_lettered_and_neighbours_applied(harness, ev) -> None:
    bad = ev.account(7, "2024-06", "1").model_copy(update={"total_tco2": Decimal(-5)})
    await harness.publish(ev.enterprise(6), ev.enterprise(7), ev.enterprise(8))
    await harness.publish(ev.account(6, "2024-06", "80000"), bad, ev.account(8, "2024-06", "90000"))
    await harness.settle()
    assert {r.credit_code for r in harness.issued()} == {ev.code(6), ev.code(8)}
    assert len(harness.dlq(Topics.ACCOUNTS)) == 1


async def test_http_current_rating_and_query_log(harness, ev, client) -> None:
    await harness.publish(ev.enterprise(9, name="长治市绿能热电有限公司"), ev.account(9, "2024-06", "80000"))
    await harness.settle()
    resp = await client.get(f"/v1/ratings/{ev.code(9)}", headers={"X-Org": "bank-a", "X-Purpose": "loan"})
    assert resp.status_code == 200, resp.text
    body = resp.json()
    assert body["enterprise_name"] == "长治市绿能热电有限公司"
    assert isinstance(body["score"], str) and Decimal(body["score"]) == harness.issued()[0].score
    assert body["label_zh"] in ("深绿", "浅绿", "黄", "红")
    assert sum(Decimal(s["weight"]) for s in body["sub_scores"]) == Decimal(1)
    assert body["links"]["history"].endswith("/history")
    log = (await client.get(f"/v1/ratings/{ev.code(9)}/queries")).json()["queries"]
    assert [(q["org"], q["purpose"], q["resource"]) for q in log] == [("bank-a", "loan", "rating")]
    # the enterprise reading its own rating is not a bank query
    await client.get(f"/v1/ratings/{ev.code(9)}", headers={"X-Org": ev.code(9)})
    assert len((await client.get(f"/v1/enterprises/{ev.code(9)}/query-log")).json()["queries"]) == 1
