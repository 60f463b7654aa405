"""Trace context crosses the real Kafka broker in the record headers.

An envelope produced inside a span carries its W3C ``traceparent`` as a Kafka header; the
KafkaBus consumer starts the batch's processing span from it, so the consumer span's parent is
the producer span and whatever the handler does is a child of the consumer span.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Sequence
from typing import Any

import pytest
from opentelemetry import trace
from opentelemetry.trace import SpanKind

from carbon_common.bus import Decoded, Record, Subscription, envelope_decoder, to_record
from carbon_common.bus.kafka import KafkaBus, ensure_topics
from carbon_common.events import EnterpriseRegistered, Envelope, Topics
from carbon_common.events.examples import EXAMPLES
from carbon_common.settings import KafkaSettings
from carbon_common.telemetry import capture_spans, current_traceparent
from carbon_common.testing import kafka_bootstrap

pytestmark = pytest.mark.integration


async def test_consumer_span_is_the_child_of_the_producer_span_across_kafka() -> None:
    settings = KafkaSettings(bootstrap_servers=kafka_bootstrap(), poll_timeout_ms=100)
    topic = f"obs.{uuid.uuid4().hex[:8]}"
    await ensure_topics(settings, [topic, Topics.dlq(topic)], partitions=1)
    seen: list[tuple[Record, str | None]] = []
    done = asyncio.Event()

    async def handler(batch: Sequence[Decoded[Any]]) -> None:
        for d in batch:
            seen.append((d.record, current_traceparent()))
        done.set()

    bus = KafkaBus(settings)
    group = f"obs-{uuid.uuid4().hex[:8]}"
    bus.subscribe(Subscription(group, [topic], envelope_decoder(), handler))
    with capture_spans() as exporter:
        await bus.start()
        try:
            with trace.get_tracer("tests").start_as_current_span(
                "produce", kind=SpanKind.PRODUCER
            ) as producer:
                env = Envelope(
                    data=EXAMPLES[EnterpriseRegistered], source="tests", traceparent=current_traceparent()
                )
                r = to_record(env)
                await bus.publish([Record(topic, r.key, r.value, r.headers)])
            await asyncio.wait_for(done.wait(), timeout=60)
        finally:
            await bus.stop()
        spans = exporter.get_finished_spans()

    produced = producer.get_span_context()
    record, inside = seen[0]
    # on the wire: the header the consumer received names the producer span
    assert dict(record.headers)["traceparent"].decode() == (
        f"00-{produced.trace_id:032x}-{produced.span_id:016x}-{int(produced.trace_flags):02x}"
    )
    consumer = [
        s
        for s in spans
        if s.kind is SpanKind.CONSUMER and (s.attributes or {}).get("messaging.consumer.group.name") == group
    ]
    assert len(consumer) == 1, [s.name for s in spans]
    span = consumer[0]
    assert span.name == f"process {topic}"
    assert span.parent is not None and span.parent.is_remote
    assert (span.context.trace_id, span.parent.span_id) == (produced.trace_id, produced.span_id)
    # the handler ran inside the consumer span: its work (SQL, emitted events) is a child of it
    assert inside is not None and inside.split("-")[1:3] == [
        f"{span.context.trace_id:032x}",
        f"{span.context.span_id:016x}",
    ]
