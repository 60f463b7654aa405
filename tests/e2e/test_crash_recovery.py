"""SIGKILL the accounting process after it received a fact but before it committed.

The fault point ``uow.before_commit:ingest.facts.v1`` makes accounting announce (in its log) that
it has applied the fact inside its transaction and is about to commit, then wait; the test kills
it there with SIGKILL and starts it again. Offsets are committed only after the database commit,
so the fact is redelivered; its key in accounting's fact history makes the redelivery count once. Exactly one
``AccountUpdated`` with the right figure must come out.
"""

from __future__ import annotations

import asyncio
import uuid
from decimal import Decimal

import httpx
import pytest
from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient

from carbon_common.events import EVENT_TYPES, AccountUpdated, Topics, decode
from carbon_common.testing import kafka_bootstrap
from tests.e2e.conftest import RealStack
from tests.e2e.skeleton import (
    RAW_COAL_EF,
    account_for,
    eventually,
    new_credit_code,
    register,
    submit_raw_coal,
)

pytestmark = pytest.mark.e2e
FAULT = "uow.before_commit:ingest.facts.v1"


async def account_events(code: str, namespace: str) -> list[AccountUpdated]:
    """Every AccountUpdated for ``code`` on the accounts topic, read from the beginning."""
    admin = AIOKafkaAdminClient(bootstrap_servers=kafka_bootstrap())
    await admin.start()
    try:
        (described,) = await admin.describe_topics([namespace + Topics.ACCOUNTS])
    finally:
        await admin.close()
    parts = [
        TopicPartition(namespace + Topics.ACCOUNTS, p["partition"]) for p in list(described["partitions"])
    ]
    consumer = AIOKafkaConsumer(
        bootstrap_servers=kafka_bootstrap(),
        group_id=f"e2e-reader-{uuid.uuid4().hex[:8]}",
        enable_auto_commit=False,
    )
    await consumer.start()
    try:
        consumer.assign(parts)
        await consumer.seek_to_beginning(*parts)
        ends = await consumer.end_offsets(parts)
        out: list[AccountUpdated] = []
        while [tp for tp in parts if await consumer.position(tp) < ends[tp]]:
            for msgs in (await consumer.getmany(timeout_ms=500)).values():
                for m in msgs:
                    if m.key == code.encode():
                        env = decode(m.value, m.headers, EVENT_TYPES)
                        if isinstance(env.data, AccountUpdated):
                            out.append(env.data)
        return out
    finally:
        await consumer.stop()


async def test_sigkill_before_commit_yields_exactly_one_account_update(
    real_stack: RealStack, http: httpx.AsyncClient
) -> None:
    api = {name: real_stack.url(name) for name in ("ingest", "accounting", "rating", "lending")}
    await real_stack.restart("accounting", {"CARBON_FAULTS": FAULT})
    log = real_stack.procs["accounting"].log_path
    offset = log.stat().st_size

    code = new_credit_code()
    await register(http, api, code)
    await submit_raw_coal(http, api, code)

    async def paused_at_fault() -> bool:
        with log.open("rb") as f:
            f.seek(offset)
            return f"FAULT-POINT-REACHED {FAULT}".encode() in f.read()

    await eventually(paused_at_fault, timeout=60, what="accounting to reach the fault point")
    assert await account_for(http, api, code) is None, "nothing may be committed before the kill"

    await real_stack.restart("accounting", kill=True)

    async def accounted() -> dict[str, object] | None:
        return await account_for(http, api, code)

    account = await eventually(accounted, timeout=120, what="the account after the restart")
    assert Decimal(str(account["scope1_combustion_tco2"])) == Decimal(1000) * RAW_COAL_EF
    await asyncio.sleep(3)  # a duplicate would be published by now
    events = await account_events(code, real_stack.namespace)
    assert len(events) == 1, events
    assert events[0].scope1_combustion_tco2 == Decimal(1000) * RAW_COAL_EF
