"""The outbox backlog gauges report what is really waiting in the table (real PostgreSQL)."""

from __future__ import annotations

import uuid

import pytest
from prometheus_client import REGISTRY
from sqlalchemy import text
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
        outbox_table(metadata)
        async with engine.begin() as conn:
            await conn.run_sync(metadata.create_all)
            for i, n in enumerate((1, 2, 3)):  # rows of 1, 2 and 3 records: the gauge counts records
                await conn.execute(
                    text(
                        'INSERT INTO outbox_batches (id, topic, records, event_ids, keys, "values", headers) '
                        "VALUES (:i, 't.v1', :n, :ids, :keys, :values, CAST(:headers AS json[]))"
                    ),
                    {
                        "i": i,
                        "n": n,
                        "ids": [f"e{i}-{j}" for j in range(n)],
                        "keys": [b"k"] * n,
                        "values": [b"{}"] * n,
                        "headers": ["[]"] * n,
                    },
                )
            await conn.execute(
                text("UPDATE outbox_batches SET created_at = now() - interval '2 minutes' WHERE id = 0")
            )
        relay = OutboxRelay(async_sessionmaker(engine), InMemoryBus(), service)

        await relay.observe_backlog()
        assert gauge("outbox_pending_records", service) == 6
        age = gauge("outbox_oldest_pending_age_seconds", service)
        assert age is not None and 119 <= age < 600

        assert await relay.relay_once() == 6
        assert gauge("outbox_relayed_total", service) == 6
        await relay.observe_backlog()
        assert gauge("outbox_pending_records", service) == 0
        assert gauge("outbox_oldest_pending_age_seconds", service) == 0
    finally:
        await engine.dispose()
        await drop_database(url)
