"""Ingest and rating export their own metrics after traffic (evidence chain, ratings issued)."""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest

from carbon_bureau.embedded import SERVICE_NAMES, EmbeddedBureau
from carbon_common.testing import drop_database, fresh_database
from tests.e2e.skeleton import run_skeleton

pytestmark = pytest.mark.integration


@pytest.fixture
async def embedded() -> AsyncIterator[httpx.AsyncClient]:
    urls = {name: await fresh_database(f"met_{name}") for name in SERVICE_NAMES}
    bureau = EmbeddedBureau(urls)
    await bureau.migrate()
    app = bureau.build()
    await bureau.start()
    try:
        async with httpx.AsyncClient(
            transport=httpx.ASGITransport(app=app), base_url="http://embedded"
        ) as client:
            yield client
    finally:
        await bureau.stop()
        for url in urls.values():
            await drop_database(url)


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
