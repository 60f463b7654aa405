"""Ingest and rating export their own metrics after traffic (evidence chain, ratings issued)."""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest

from carbon_bureau.embedded import SERVICE_NAMES
from tests.e2e.skeleton import run_skeleton
from tests.embedded_harness import embedded_bureau

pytestmark = pytest.mark.integration


@pytest.fixture
async def embedded() -> AsyncIterator[httpx.AsyncClient]:
    async with embedded_bureau("met") as (_, client):
        yield client


def sample(text: str, name: str) -> float:
    values = [float(line.rsplit(" ", 1)[1]) for line in text.splitlines() if line.startswith(name)]
    assert values, f"{name} not exported"
    return sum(values)


async def test_evidence_chain_length_and_ratings_issued_are_exported(embedded: httpx.AsyncClient) -> None:
    await run_skeleton(embedded, {name: f"/{name}" for name in SERVICE_NAMES})
    ingest = (await embedded.get("/ingest/metrics")).text
    rating = (await embedded.get("/rating/metrics")).text
    assert sample(ingest, "ingest_evidence_chain_length") >= 1
    assert sample(rating, "rating_ratings_issued_total") >= 1
