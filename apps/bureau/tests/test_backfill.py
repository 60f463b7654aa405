"""``bureau topics backfill-credit-facts`` against the real broker: the credit-family facts of the
fact log that the credit stream lacks are copied once, byte for byte, and nothing else is."""

from __future__ import annotations

import asyncio
import uuid
from collections import defaultdict

import orjson
import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.partitioner import DefaultPartitioner
from typer.testing import CliRunner

from carbon_bureau.backfill import _partitions, _read, app, backfill_credit_facts, credit_families
from carbon_common.events.topics import Topics
from carbon_common.testing import kafka_bootstrap

PARTITIONS = 3
CODES = [f"9114{i:014d}" for i in range(7)]
INDICATORS = [
    "energy.raw_coal",
    "finance.revenue",
    "compliance.env_penalty",
    "ets.surrendered",
    "production.coke",
]


def test_the_credit_families_come_from_ingests_catalogue() -> None:
    families = credit_families()
    assert {"compliance.", "ets.", "finance."} <= set(families)
    assert not any("energy.".startswith(f) for f in families)


def _fact(i: int) -> tuple[bytes, bytes, list[tuple[str, bytes]]]:
    code, indicator = CODES[i % len(CODES)], INDICATORS[i % len(INDICATORS)]
    value = orjson.dumps({"fact_key": f"d/r{i}", "revision": 1, "credit_code": code, "indicator": indicator})
    headers = [
        ("ce_id", f"id-{i}".encode()),
        ("ce_type", b"cn.carbon.ingest.fact.recorded.v1"),
        ("n", str(i).encode()),
    ]
    return code.encode(), value, headers


def _credit(fact: tuple[bytes, bytes, list[tuple[str, bytes]]]) -> bool:
    return str(orjson.loads(fact[1])["indicator"]).startswith(("finance.", "compliance.", "ets."))


Row = tuple[int, int, bytes | None, bytes | None, list[tuple[str, bytes]]]


async def _all(bootstrap: str, topic: str, at_least: int) -> list[Row]:
    """Every record of ``topic``; read again (up to ~10 s) while fewer than ``at_least`` show, since
    a consumer's first metadata of a topic created a moment ago can still miss its leaders."""
    for _ in range(20):
        got = await _read_all(bootstrap, topic)
        if len(got) >= at_least:
            return got
        await asyncio.sleep(0.5)
    return got


async def _read_all(bootstrap: str, topic: str) -> list[Row]:
    """Read with the command's own partition lookup and reader (a plain ``assign`` right after the
    topic was created could see no partitions or end offsets yet)."""
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, enable_auto_commit=False, group_id=None)
    await consumer.start()
    try:
        got: list[Row] = []
        for tp in await _partitions(consumer, topic):
            async for chunk in _read(consumer, tp):
                got += [
                    (tp.partition, m.offset, m.key, m.value, [(k, bytes(v)) for k, v in m.headers])
                    for m in chunk
                ]
        return got
    finally:
        await consumer.stop()


@pytest.mark.integration
async def test_backfill_copies_the_missing_credit_facts_once_in_log_order() -> None:
    bootstrap, ns = kafka_bootstrap(), f"backfill{uuid.uuid4().hex[:8]}."
    source, target = ns + Topics.FACTS, ns + Topics.CREDIT_FACTS
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    try:
        await admin.create_topics([NewTopic(source, PARTITIONS, 1), NewTopic(target, PARTITIONS, 1)])
    finally:
        await admin.close()
    facts = [_fact(i) for i in range(60)]
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, acks="all", enable_idempotence=True)
    await producer.start()
    try:
        for key, value, headers in facts:
            await producer.send_and_wait(source, value, key=key, headers=headers)
        await producer.send_and_wait(source, b"{not a fact", key=CODES[0].encode())
        # the credit stream already has what ingest wrote after its rollout: the credit facts of the last 20
        already = [f for f in facts[40:] if _credit(f)]
        for key, value, headers in already:
            await producer.send_and_wait(target, value, key=key, headers=headers)
    finally:
        await producer.stop()
    credit = [f for f in facts if _credit(f)]

    planned = await backfill_credit_facts(bootstrap, ns, dry_run=True)
    assert (planned.read, planned.credit, planned.present, planned.copied) == (
        61,
        len(credit),
        len(already),
        0,
    )
    assert planned.not_facts == 1
    assert len(await _all(bootstrap, target, len(already))) == len(already)  # a dry run produces nothing

    done = await backfill_credit_facts(bootstrap, ns)
    assert done.copied == len(credit) - len(already) > 0
    got = await _all(bootstrap, target, len(credit))
    # every credit fact exactly once, byte for byte, and no other record
    by_id = {dict(h)["ce_id"]: (k, v, h) for _p, _o, k, v, h in got}
    assert len(by_id) == len(got) == len(credit)
    assert by_id == {dict(h)["ce_id"]: (k, v, h) for k, v, h in credit}
    # on the partition ingest's producer would have chosen, each enterprise's copies in log order
    partitioner = DefaultPartitioner()
    copied_ids = {dict(h)["ce_id"] for _k, _v, h in credit} - {dict(h)["ce_id"] for _k, _v, h in already}
    order: dict[bytes | None, list[int]] = defaultdict(list)
    for partition, _offset, key, _value, headers in sorted(got, key=lambda r: (r[0], r[1])):
        assert key is not None and partition == partitioner(
            key, list(range(PARTITIONS)), list(range(PARTITIONS))
        )
        if dict(headers)["ce_id"] in copied_ids:
            order[key].append(int(dict(headers)["n"]))
    assert all(ns_ == sorted(ns_) for ns_ in order.values()) and sum(map(len, order.values())) == done.copied

    again = await backfill_credit_facts(bootstrap, ns)  # idempotent: nothing is copied twice
    assert again.copied == 0 and again.present == len(credit)
    assert len(await _all(bootstrap, target, len(credit))) == len(credit)

    result = await asyncio.to_thread(  # the command runs its own event loop
        CliRunner().invoke,
        app,
        ["--bootstrap", bootstrap, "--namespace", ns, "--dry-run"],  # one command: typer runs it directly
    )
    assert result.exit_code == 0, result.output
    assert f"{len(credit)} already on {target}" in result.output.replace(",", "")
