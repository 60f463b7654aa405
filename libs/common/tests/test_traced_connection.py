"""``db.traced_connection``: the statements sent to asyncpg directly get SQLAlchemy's CLIENT spans.

Against a real PostgreSQL (PG_URL_BASE; fails when missing), with an in-memory span exporter on
the process's tracer provider.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence

import asyncpg
import pytest
from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.trace import SpanKind, StatusCode
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker, create_async_engine

from carbon_common.db import TracedConnection, driver_connection, traced_connection
from carbon_common.telemetry import capture_spans, tracer

pytestmark = pytest.mark.integration


@pytest.fixture
async def sessions() -> AsyncIterator[async_sessionmaker[AsyncSession]]:
    from carbon_common.testing import drop_database, fresh_database

    url = await fresh_database("traced")
    engine = create_async_engine(url, pool_size=1, max_overflow=0)
    async with engine.begin() as conn:
        await conn.execute(text("CREATE TABLE t (k int PRIMARY KEY, v text NOT NULL)"))
    try:
        yield async_sessionmaker(engine, expire_on_commit=False)
    finally:
        await engine.dispose()
        await drop_database(url)


def _sql(spans: Sequence[ReadableSpan], parent: ReadableSpan) -> list[ReadableSpan]:
    return [
        s
        for s in spans
        if s.kind is SpanKind.CLIENT and s.parent is not None and s.parent.span_id == parent.context.span_id
    ]


async def test_each_statement_is_a_client_span_under_the_current_span(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    statements = [
        "INSERT INTO t (k, v) VALUES ($1, $2)",
        "INSERT INTO t (k, v) SELECT k, 'x' FROM unnest($1::int[]) AS u(k)",
        "SELECT k, v FROM t WHERE k = ANY($1::int[]) ORDER BY k",
        "SELECT v FROM t WHERE k = $1",
        "\n  WITH n AS (SELECT count(*) AS c FROM t) SELECT c FROM n",
    ]
    with capture_spans() as exporter:
        with tracer("test").start_as_current_span("batch") as batch_span:
            async with sessions() as session:
                conn = await traced_connection(session)
                assert isinstance(conn, TracedConnection)
                await conn.executemany(statements[0], [(1, "a"), (2, "b")])
                status = await conn.execute(statements[1], [3, 4])
                rows = await conn.fetch(statements[2], [1, 3, 9])
                row = await conn.fetchrow(statements[3], 2)
                count = await conn.fetchval(statements[4])
                await session.commit()
        spans = exporter.get_finished_spans()
    # the results are asyncpg's, unchanged
    assert status == "INSERT 0 2"
    assert [tuple(r) for r in rows] == [(1, "a"), (3, "x")]
    assert row is not None and row["v"] == "b"
    assert count == 4
    (batch,) = [s for s in spans if s.name == "batch"]
    assert batch.context.span_id == batch_span.get_span_context().span_id
    sql = _sql(spans, batch)
    assert [(s.attributes or {}).get("db.statement") for s in sql] == statements
    assert [s.name for s in sql] == ["INSERT", "INSERT", "SELECT", "SELECT", "WITH"]
    for s in sql:
        assert (s.attributes or {}).get("db.system") == "postgresql"
        assert s.status.status_code is StatusCode.UNSET
        assert s.context.trace_id == batch.context.trace_id
        assert s.end_time is not None and s.start_time is not None and s.end_time >= s.start_time


async def test_a_failing_statement_is_an_error_span_and_still_raises(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    with capture_spans() as exporter:
        with tracer("test").start_as_current_span("request"):
            async with sessions() as session:
                conn = await traced_connection(session)
                await conn.execute("INSERT INTO t (k, v) VALUES (1, 'a')")
                with pytest.raises(asyncpg.UniqueViolationError):
                    await conn.execute("INSERT INTO t (k, v) VALUES (1, 'b')")
        spans = exporter.get_finished_spans()
    (request,) = [s for s in spans if s.name == "request"]
    ok, failed = _sql(spans, request)
    assert ok.status.status_code is StatusCode.UNSET
    assert failed.status.status_code is StatusCode.ERROR
    assert "UniqueViolationError" in (failed.status.description or "")
    assert [e.name for e in failed.events] == ["exception"]


async def test_statements_run_in_the_sessions_transaction(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    """The view is the session's own connection: what it writes rolls back with the session."""
    async with sessions() as session:
        conn = await traced_connection(session)
        assert conn.raw is await driver_connection(session)
        await conn.execute("INSERT INTO t (k, v) VALUES (7, 'gone')")
        assert await conn.fetchval("SELECT count(*) FROM t") == 1
        await session.rollback()
    async with sessions() as session:
        assert await (await traced_connection(session)).fetchval("SELECT count(*) FROM t") == 0


async def test_no_span_outside_a_request_or_batch(sessions: async_sessionmaker[AsyncSession]) -> None:
    """Like SQLAlchemy's statements outside any request or batch (the sampler drops those):
    the statement runs, no span is made."""
    with capture_spans() as exporter:
        async with sessions() as session:
            conn = await traced_connection(session)
            assert await conn.fetchval("SELECT 41 + $1::int", 1) == 42
            assert [tuple(r) for r in await conn.fetch("SELECT 1")] == [(1,)]
        spans = exporter.get_finished_spans()
    assert [s for s in spans if s.kind is SpanKind.CLIENT] == []
