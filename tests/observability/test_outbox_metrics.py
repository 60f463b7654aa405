"""The outbox backlog gauges report what is really waiting in the table (real PostgreSQL)."""

from __future__ import annotations

import uuid

import pytest
from prometheus_client import REGISTRY
from sqlalchemy import insert, text
from sqlalchemy.ext.asyncio import async_sessionmaker

from carbon_common.bus.memory import InMemoryBus
from carbon_common.db import create_engine, new_metadata
from carbon_common.outbox import OutboxRelay, outbox_table
from carbon_common.settings import PostgresSettings
from carbon_common.testing import drop_database, fresh_database

pytestmark = pytest.mark.integration


def gauge(name: str, service: str) -> float | None:
    return REGISTRY.get_sample_value(name, {"service": service})


async def test_pending_count_and_age_of_the_oldest_row() -> None:
    url = await fresh_database("obs_outbox")
    engine = create_engine(PostgresSettings(url=url))  # type: ignore[arg-type]
    service = f"svc-{uuid.uuid4().hex[:6]}"
    try:
        metadata = new_metadata()
        table = outbox_table(metadata)
        async with engine.begin() as conn:
            await conn.run_sync(metadata.create_all)
            await conn.execute(
                insert(table),
                [
                    {"event_id": f"e{i}", "topic": "t.v1", "key": b"k", "value": b"{}", "headers": []}
                    for i in range(3)
                ],
            )
            await conn.execute(
                text("UPDATE outbox SET created_at = now() - interval '2 minutes' WHERE event_id = 'e0'")
            )
        relay = OutboxRelay(async_sessionmaker(engine), InMemoryBus(), service)

        await relay.observe_backlog()
        assert gauge("outbox_pending_records", service) == 3
        age = gauge("outbox_oldest_pending_age_seconds", service)
        assert age is not None and 119 <= age < 600

        assert await relay.relay_once() == 3
        assert gauge("outbox_relayed_total", service) == 3
        await relay.observe_backlog()
        assert gauge("outbox_pending_records", service) == 0
        assert gauge("outbox_oldest_pending_age_seconds", service) == 0
    finally:
        await engine.dispose()
        await drop_database(url)
