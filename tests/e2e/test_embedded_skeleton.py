"""The same walking skeleton in the embedded mode: one process, in-process bus, real PostgreSQL."""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest

from carbon_bureau.embedded import SERVICE_NAMES, EmbeddedBureau
from tests.e2e.skeleton import assert_quote_reflects_rating, run_skeleton
from tests.embedded_harness import embedded_bureau

pytestmark = pytest.mark.integration


@pytest.fixture
async def embedded() -> AsyncIterator[tuple[EmbeddedBureau, httpx.AsyncClient]]:
    async with embedded_bureau("emb") as running:
        yield running


async def test_one_fact_flows_through_the_embedded_bureau(
    embedded: tuple[EmbeddedBureau, httpx.AsyncClient],
) -> None:
    bureau, client = embedded
    result = await run_skeleton(client, {name: f"/{name}" for name in SERVICE_NAMES})
    assert_quote_reflects_rating(result)
    # the in-process bus carried exactly one account event for this enterprise-month
    from carbon_common.events import Topics

    accounts = [r for r in bureau.bus.records(Topics.ACCOUNTS) if r.key == result.credit_code.encode()]
    assert len(accounts) == 1
