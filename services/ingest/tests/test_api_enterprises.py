"""Directory over HTTP against a real PostgreSQL: registration, updates, events, reads, lists."""

from __future__ import annotations

import json
from typing import Any

from carbon_common.events import Topics


def _events(records: list[Any]) -> list[tuple[str, dict[str, Any]]]:
    return [(dict(r.headers)["ce_type"].decode(), json.loads(r.value)) for r in records]


async def test_register_update_and_no_op(
    client: Any, code: Any, enterprise: Any, wait_records: Any, bus: Any
) -> None:
    c = code(1)
    r = await client.post("/v1/enterprises", json=enterprise(c))
    assert r.status_code == 201, r.text
    assert (r.json()["change"], r.json()["revision"]) == ("registered", 1)

    same = await client.post("/v1/enterprises", json=enterprise(c))
    assert (same.status_code, same.json()["change"]) == (200, "unchanged")

    upd = await client.put(
        f"/v1/enterprises/{c}", json=enterprise(c, transition_stage="mature", name="新名称")
    )
    assert upd.status_code == 200, upd.text
    assert (upd.json()["change"], upd.json()["revision"]) == ("updated", 2)

    events = _events(await wait_records(Topics.ENTERPRISES, 2))
    assert [t.rsplit(".", 2)[-2] for t, _ in events] == ["registered", "updated"]
    assert events[1][1]["revision"] == 2 and events[1][1]["transition_stage"] == "mature"
    assert all(dict(r.headers)["ce_subject"].decode() == c for r in bus.records(Topics.ENTERPRISES))

    got = await client.get(f"/v1/enterprises/{c}")
    assert got.json()["name"] == "新名称" and got.json()["revision"] == 2


async def test_invalid_check_character_is_a_422_naming_the_field(
    client: Any, code: Any, enterprise: Any
) -> None:
    c = code(2)
    bad = c[:17] + ("0" if c[17] != "0" else "1")
    r = await client.post("/v1/enterprises", json=enterprise(bad))
    assert r.status_code == 422
    assert r.headers["content-type"].startswith("application/problem+json")
    assert r.json()["errors"][0]["field"] == "credit_code"
    assert "check character" in r.json()["errors"][0]["reason"]


async def test_unknown_enterprise_404_and_put_requires_existing(
    client: Any, code: Any, enterprise: Any
) -> None:
    c = code(3)
    assert (await client.get(f"/v1/enterprises/{c}")).status_code == 404
    r = await client.put(f"/v1/enterprises/{c}", json=enterprise(c))
    assert r.status_code == 404 and r.json()["status"] == 404


async def test_list_filters_and_caps_page_size(client: Any, code: Any, enterprise: Any) -> None:
    for i in range(5):
        region, industry = ("140400", "4411") if i % 2 else ("140200", "3120")
        await client.post(
            "/v1/enterprises",
            json=enterprise(code(10 + i, region), region_code=region, industry_code=industry),
        )
    page = (await client.get("/v1/enterprises", params={"region": "140400"})).json()
    assert page["total"] == 2 and {e["region_code"] for e in page["items"]} == {"140400"}
    steel = (await client.get("/v1/enterprises", params={"industry": "31"})).json()
    assert steel["total"] == 3
    small = (await client.get("/v1/enterprises", params={"page": 2, "page_size": 2})).json()
    assert (len(small["items"]), small["total"]) == (2, 5)
    capped = (await client.get("/v1/enterprises", params={"page_size": 100000})).json()
    assert capped["page_size"] == 500


async def test_openapi_documents_problems_and_examples(client: Any) -> None:
    spec = (await client.get("/openapi.json")).json()
    post = spec["paths"]["/v1/submissions"]["post"]
    assert "413" in post["responses"] and "422" in post["responses"]
    assert spec["components"]["schemas"]["SubmissionIn"]["examples"]
    assert (await client.get("/livez")).json()["status"] == "ok"
    assert (await client.get("/readyz")).status_code == 200
