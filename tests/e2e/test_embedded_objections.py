"""An objection filed at rating reaches lending's approval track (embedded mode: one process,
in-process bus, real PostgreSQL): manual review while it is open, the usual track once decided."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest

from carbon_bureau.embedded import EmbeddedBureau
from carbon_common.events import ObjectionChanged, Topics
from tests.e2e.skeleton import eventually, quote, run_skeleton
from tests.embedded_harness import API, embedded_bureau

pytestmark = pytest.mark.integration


@pytest.fixture
async def embedded() -> AsyncIterator[tuple[EmbeddedBureau, httpx.AsyncClient]]:
    async with embedded_bureau("embobj") as running:
        yield running


async def test_an_open_objection_sends_quotes_to_manual_review_until_decided(
    embedded: tuple[EmbeddedBureau, httpx.AsyncClient],
) -> None:
    bureau, client = embedded
    result = await run_skeleton(client, API)
    code, before = result.credit_code, result.rated_quote["approval"]
    assert not result.rated_quote["rating"]["open_objections"]

    filed = await client.post(
        f"{API['rating']}/v1/ratings/{code}/objections",
        json={"reason": "the January coal figure counts a cancelled delivery"},
        headers={"X-Org": code},
    )
    assert filed.status_code == 201, filed.text
    oid = filed.json()["objection_id"]

    async def contested() -> dict[str, Any] | None:
        q = await quote(client, API, code)
        return q if q["rating"]["open_objections"] == [oid] else None

    q = await eventually(contested, what="lending learning of the open objection")
    assert q["approval"]["track"] == "manual_review"
    assert any(oid in reason for reason in q["approval"]["reasons"])

    decided = await client.post(
        f"{API['rating']}/v1/objections/{oid}/decision",
        json={"outcome": "upheld", "reason": "figures confirmed"},
    )
    assert decided.status_code == 200, decided.text

    async def settled() -> dict[str, Any] | None:
        q = await quote(client, API, code)
        return q if not q["rating"]["open_objections"] else None

    after = (await eventually(settled, what="lending learning of the decision"))["approval"]
    assert (after["track"], after["reasons"]) == (before["track"], before["reasons"])
    # both changes travelled on the ratings topic, keyed by the enterprise, and none was dead-lettered
    types = [dict(r.headers)["ce_type"] for r in bureau.bus.records(Topics.RATINGS) if r.key == code.encode()]
    assert types.count(ObjectionChanged.ce_type.encode()) == 2
    assert not bureau.bus.records(Topics.dlq(Topics.RATINGS))
