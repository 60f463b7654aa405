"""One fact through the embedded bureau, observed: the trace it leaves and the metrics it moves.

The embedded mode runs the four services in one process on the in-process bus (same
``bus.processing`` as the Kafka adapter) against a real PostgreSQL; an in-memory span exporter
is attached to the process's tracer provider for the run. The Kafka hop itself is covered by
``test_kafka_propagation.py``.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass

import httpx
import pytest
from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.trace import SpanKind
from prometheus_client import REGISTRY
from prometheus_client.parser import text_string_to_metric_families

from carbon_bureau.embedded import SERVICE_NAMES, EmbeddedBureau
from carbon_common.bus import Record
from carbon_common.events import Topics
from carbon_common.telemetry import capture_spans
from carbon_common.testing import drop_database, fresh_database
from tests.e2e.skeleton import SkeletonResult, run_skeleton

pytestmark = pytest.mark.integration

API = {name: f"/{name}" for name in SERVICE_NAMES}


@dataclass
class Observed:
    bureau: EmbeddedBureau
    client: httpx.AsyncClient
    result: SkeletonResult
    spans: Sequence[ReadableSpan]
    before: dict[tuple[str, tuple[tuple[str, str], ...]], float]


def samples() -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    """Every sample of the process's registry, keyed by name and sorted labels."""
    return {(s.name, tuple(sorted(s.labels.items()))): s.value for m in REGISTRY.collect() for s in m.samples}


@pytest.fixture(scope="module")
async def observed() -> AsyncIterator[Observed]:
    urls = {name: await fresh_database(f"obs_{name}") for name in SERVICE_NAMES}
    bureau = EmbeddedBureau(urls)
    try:
        await bureau.migrate()
        app = bureau.build()
        before = samples()
        with capture_spans() as exporter:
            await bureau.start()
            try:
                async with httpx.AsyncClient(
                    transport=httpx.ASGITransport(app=app), base_url="http://embedded"
                ) as client:
                    result = await run_skeleton(client, API)
                    # one record nobody can decode on each fact stream: ingest.facts.v1 (accounting)
                    # and ingest.credit-facts.v1 (rating, lending)
                    await bureau.bus.publish(
                        [
                            Record(topic, result.credit_code.encode(), b"{not json")
                            for topic in (Topics.FACTS, Topics.CREDIT_FACTS)
                        ]
                    )
                    await bureau.bus.drain()
                    yield Observed(bureau, client, result, exporter.get_finished_spans(), before)
            finally:
                await bureau.stop()
    finally:
        for url in urls.values():
            await drop_database(url)


# --- traces -----------------------------------------------------------------------------------


def _index(spans: Sequence[ReadableSpan]) -> dict[int, ReadableSpan]:
    return {s.context.span_id: s for s in spans}


def _children(spans: Sequence[ReadableSpan], parent: ReadableSpan) -> list[ReadableSpan]:
    return [s for s in spans if s.parent is not None and s.parent.span_id == parent.context.span_id]


def _db_children(spans: Sequence[ReadableSpan], parent: ReadableSpan) -> list[ReadableSpan]:
    return [
        s
        for s in _children(spans, parent)
        if s.kind is SpanKind.CLIENT and (s.attributes or {}).get("db.system") == "postgresql"
    ]


#: the tracer of ``carbon_common.db.TracedConnection``: the statements the services send to asyncpg
#: directly, bypassing SQLAlchemy (and its instrumentation)
DIRECT_SQL = "carbon_common.sql"


def _direct(spans: Sequence[ReadableSpan]) -> list[str]:
    """The statements of the direct-SQL spans among ``spans``, checking each span's shape."""
    found = []
    for s in spans:
        if s.instrumentation_scope is None or s.instrumentation_scope.name != DIRECT_SQL:
            continue
        attrs = s.attributes or {}
        statement = str(attrs.get("db.statement"))
        assert s.kind is SpanKind.CLIENT and attrs.get("db.system") == "postgresql", s
        assert s.name == statement.split(None, 1)[0], (s.name, statement)
        found.append(statement)
    return found


def _descends(span: ReadableSpan, ancestor: ReadableSpan, by_id: dict[int, ReadableSpan]) -> bool:
    cur = span
    while cur.parent is not None and cur.parent.span_id in by_id:
        cur = by_id[cur.parent.span_id]
        if cur.context.span_id == ancestor.context.span_id:
            return True
    return False


def _process(spans: Sequence[ReadableSpan], group: str, topic: str, ancestor: ReadableSpan) -> ReadableSpan:
    """The batch span of ``group`` on ``topic`` that descends from ``ancestor``."""
    by_id = _index(spans)
    found = [
        s
        for s in spans
        if s.kind is SpanKind.CONSUMER
        and (s.attributes or {}).get("messaging.consumer.group.name") == group
        and (s.attributes or {}).get("messaging.destination.name") == topic
        and _descends(s, ancestor, by_id)
    ]
    assert len(found) == 1, f"{len(found)} {group} spans processing {topic} under {ancestor.name!r}"
    return found[0]


def test_one_trace_follows_the_fact_from_http_to_lending(observed: Observed) -> None:
    spans = observed.spans
    submit = [
        s
        for s in spans
        if s.kind is SpanKind.SERVER and s.name.startswith("POST") and s.name.endswith("/v1/submissions")
    ]
    assert len(submit) == 1, [s.name for s in spans if s.kind is SpanKind.SERVER]
    http = submit[0]
    trace_spans = [s for s in spans if s.context.trace_id == http.context.trace_id]
    by_id = _index(trace_spans)

    # ingest: the request's SQL (fact, evidence, outbox row) belongs to the request's trace
    ingest_sql = [s for s in trace_spans if s.kind is SpanKind.CLIENT and _descends(s, http, by_id)]
    assert any(
        "INSERT INTO outbox_batches" in str((s.attributes or {}).get("db.statement")) for s in ingest_sql
    )
    # the bus hop: accounting applies the fact in a batch span that continues the request's trace,
    # and its SQL statements are that span's children
    accounting = _process(trace_spans, "accounting", Topics.FACTS, http)
    assert _db_children(trace_spans, accounting), "accounting's SQL is not under its processing span"
    # AccountUpdated carries accounting's span on to rating, RatingIssued rating's span to lending
    rating = _process(trace_spans, "rating", Topics.ACCOUNTS, accounting)
    assert _db_children(trace_spans, rating), "rating's SQL is not under its processing span"
    lending = _process(trace_spans, "lending", Topics.RATINGS, rating)
    assert _db_children(trace_spans, lending), "lending's SQL is not under its processing span"
    assert http.parent is None  # the request started the trace

    # the statements each service sends to asyncpg directly (its hot path, past SQLAlchemy) are
    # there too, with the same CLIENT span shape as SQLAlchemy's: the request's for ingest, the
    # batch span's children for the consumers
    direct = {
        "ingest": _direct(ingest_sql),
        "accounting": _direct(_db_children(trace_spans, accounting)),
        "rating": _direct(_db_children(trace_spans, rating)),
        "lending": _direct(_db_children(trace_spans, lending)),
    }
    assert all(direct.values()), {k: len(v) for k, v in direct.items()}
    # one known direct statement each: the evidence chain's head, the fact upsert (under the
    # shared accounts lock), the current rating's reset, the rating history insert
    assert any("FROM evidence ORDER BY seq DESC" in q for q in direct["ingest"]), direct["ingest"]
    assert any("pg_advisory_xact_lock_shared" in q for q in direct["accounting"]), direct["accounting"]
    assert any(q.startswith("UPDATE ratings SET is_current = false") for q in direct["rating"]), direct[
        "rating"
    ]
    assert any(q.startswith("WITH history AS (INSERT INTO ratings") for q in direct["lending"]), direct[
        "lending"
    ]


def test_database_statements_outside_any_request_or_batch_are_not_traced(observed: Observed) -> None:
    """The relay's polling and readiness pings would bury the traces that matter."""
    orphans = [s for s in observed.spans if s.parent is None and s.kind is SpanKind.CLIENT]
    assert orphans == []


# --- metrics ----------------------------------------------------------------------------------


async def _scrape(
    client: httpx.AsyncClient, service: str
) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    r = await client.get(f"/{service}/metrics")
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/plain")
    return {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for family in text_string_to_metric_families(r.text)
        for s in family.samples
    }


def _get(metrics: dict[tuple[str, tuple[tuple[str, str], ...]], float], name: str, **labels: str) -> float:
    return metrics.get((name, tuple(sorted(labels.items()))), 0.0)


def _matching(
    metrics: dict[tuple[str, tuple[tuple[str, str], ...]], float], name: str, **labels: str
) -> list[tuple[dict[str, str], float]]:
    return [
        (dict(lbl), v)
        for (n, lbl), v in metrics.items()
        if n == name and all(dict(lbl).get(k) == want for k, want in labels.items())
    ]


async def test_metrics_endpoint_shows_the_traffic(observed: Observed) -> None:
    await observed.client.get("/ingest/readyz")
    after = await _scrape(observed.client, "ingest")
    before = observed.before

    def delta(name: str, **labels: str) -> float:
        return _get(after, name, **labels) - _get(before, name, **labels)

    # HTTP: the submission, by route template (never the raw path), method and status
    assert delta(
        "http_server_request_duration_seconds_count",
        service="ingest", http_request_method="POST", http_route="/v1/submissions",
        http_response_status_code="201",
    ) + delta(
        "http_server_request_duration_seconds_count",
        service="ingest", http_request_method="POST", http_route="/v1/submissions",
        http_response_status_code="200",
    ) >= 1  # fmt: skip
    rated = _matching(
        after, "http_server_request_duration_seconds_count", service="rating", http_request_method="GET"
    )
    assert any(lbl["http_route"] == "/v1/ratings/{credit_code}" for lbl, _ in rated), rated
    assert not any(observed.result.credit_code in lbl["http_route"] for lbl, _ in rated)
    assert _get(after, "service_readiness_check", service="ingest", check="database") == 1

    # bus: records processed per group and topic; lag per partition is back to zero after the drain
    for group, topic in (
        ("accounting", Topics.FACTS),
        ("rating", Topics.ACCOUNTS),
        ("lending", Topics.RATINGS),
    ):
        assert delta("bus_records_processed_total", group=group, topic=topic) >= 1, (group, topic)
        lags = _matching(after, "bus_consumer_lag_records", group=group, topic=topic)
        assert lags and all(v == 0 for _, v in lags), (group, topic, lags)
    # the undecodable records were dead-lettered by the groups reading their topics, with the reason class
    for group, topic in (("accounting", Topics.FACTS), ("rating", Topics.CREDIT_FACTS)):
        assert delta("bus_records_dead_lettered_total", group=group, topic=topic, reason="undecodable") == 1

    # outbox: the relay has sampled the backlog gauges of every service
    for service in SERVICE_NAMES:
        assert ("outbox_pending_records", (("service", service),)) in after, service
        assert ("outbox_oldest_pending_age_seconds", (("service", service),)) in after, service
        assert delta("outbox_relayed_total", service=service) >= 1 or service == "lending", service
