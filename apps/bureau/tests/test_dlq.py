"""``bureau dlq``: the redrive ledger (pure) and inspect/redrive against the real broker."""

from __future__ import annotations

import uuid

import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from typer.testing import CliRunner

from carbon_bureau.dlq import (
    DeadLetter,
    advance,
    app,
    decode_ranges,
    encode_ranges,
    inspect_records,
    redrive_records,
    selected,
)
from carbon_common.testing import kafka_bootstrap


def test_ranges_round_trip() -> None:
    offsets = {3, 4, 5, 9, 11, 12}
    assert encode_ranges(offsets) == "3-5,9,11-12"
    assert decode_ranges(encode_ranges(offsets)) == offsets
    assert decode_ranges("") == set() and encode_ranges([]) == ""


def test_the_mark_moves_over_contiguous_redriven_offsets_only() -> None:
    assert advance(0, {0, 1, 2, 5}) == (3, {5})
    assert advance(0, {5}) == (0, {5})
    assert advance(4, {4, 5, 6}) == (7, set())


def test_selection_skips_redriven_and_filters_by_reason_and_group() -> None:
    def dl(offset: int, reason: str, group: str, redriven: bool = False) -> DeadLetter:
        headers = (("dlq_reason", reason.encode()), ("dlq_consumer_group", group.encode()))
        return DeadLetter(0, offset, None, b"v", headers, redriven)

    records = [
        dl(0, "x is not registered", "ingest"),
        dl(1, "not JSON", "ingest"),
        dl(2, "x", "ingest", True),
    ]
    assert [r.offset for r in selected(records, None, None)] == [0, 1]
    assert [r.offset for r in selected(records, "not registered", None)] == [0]
    assert selected(records, None, "rating") == []


@pytest.mark.integration
async def test_redrive_republishes_originals_once_and_inspect_shows_it() -> None:
    bootstrap, ns = kafka_bootstrap(), f"dlqtest{uuid.uuid4().hex[:8]}."
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    try:
        await admin.create_topics([NewTopic(ns + "src.v1", 1, 1), NewTopic(ns + "src.v1.dlq", 1, 1)])
    finally:
        await admin.close()
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap)
    await producer.start()
    try:
        for i, reason in enumerate(
            ["not JSON", "enterprise X is not registered", "not JSON", "is not registered"]
        ):
            headers = [
                ("ce_id", f"id{i}".encode()),
                ("dlq_reason", reason.encode()),
                ("dlq_source_offset", b"7"),
            ]
            await producer.send_and_wait(ns + "src.v1.dlq", f"v{i}".encode(), key=b"k", headers=headers)
    finally:
        await producer.stop()

    dry = await redrive_records(bootstrap, "src.v1", ns, reason_contains="is not registered", dry_run=True)
    assert [r.value for r in dry] == [b"v1", b"v3"]
    done = await redrive_records(bootstrap, "src.v1", ns, reason_contains="is not registered")
    assert [r.value for r in done] == [b"v1", b"v3"]
    assert await redrive_records(bootstrap, "src.v1", ns, reason_contains="is not registered") == []
    listed = await inspect_records(bootstrap, "src.v1", ns)
    assert [(r.value, r.redriven) for r in listed] == [
        (b"v0", False),
        (b"v1", True),
        (b"v2", False),
        (b"v3", True),
    ]
    rest = await redrive_records(bootstrap, "src.v1", ns)  # the others, later, without a filter
    assert [r.value for r in rest] == [b"v0", b"v2"]
    assert all(r.redriven for r in await inspect_records(bootstrap, "src.v1", ns))

    consumer = AIOKafkaConsumer(ns + "src.v1", bootstrap_servers=bootstrap, auto_offset_reset="earliest")
    await consumer.start()
    try:
        got = [m for ms in (await consumer.getmany(timeout_ms=10000)).values() for m in ms]
    finally:
        await consumer.stop()
    assert sorted(m.value for m in got) == [b"v0", b"v1", b"v2", b"v3"]
    assert all(m.key == b"k" and [k for k, _ in m.headers] == ["ce_id"] for m in got)


@pytest.mark.integration
def test_cli_inspect_lists_the_records() -> None:
    result = CliRunner().invoke(
        app, ["inspect", "--topic", "no.such.topic.v1", "--bootstrap", kafka_bootstrap(), "--namespace", "x."]
    )
    assert result.exit_code != 0 and "no topic" in result.output
