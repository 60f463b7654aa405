"""One fact end to end through the REAL stack: Kafka broker + PostgreSQL + four service processes."""

from __future__ import annotations

import httpx
import pytest

from tests.e2e.conftest import RealStack
from tests.e2e.skeleton import assert_quote_reflects_rating, run_skeleton

pytestmark = pytest.mark.e2e


async def test_one_fact_flows_through_all_four_services(
    real_stack: RealStack, http: httpx.AsyncClient
) -> None:
    api = {name: real_stack.url(name) for name in ("ingest", "accounting", "rating", "lending")}
    result = await run_skeleton(http, api)
    assert_quote_reflects_rating(result)
