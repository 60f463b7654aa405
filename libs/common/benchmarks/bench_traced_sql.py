"""Micro-benchmark: what ``db.TracedConnection`` adds per statement (µs per call).

    .venv/bin/python libs/common/benchmarks/bench_traced_sql.py            # wrapper only
    PG_URL_BASE=... .venv/bin/python libs/common/benchmarks/bench_traced_sql.py --pg  # + SELECT 1

The wrapper is timed around a stub connection whose ``fetch`` returns at once, so the numbers
are the wrapper's own cost (a real statement is a round trip: tens of µs or more); each figure is
the best of several rounds. Cases: the bare call; the traced view with no tracer provider
installed; with the SDK provider installed but outside any span (the relay's polling: no span);
under a recording span (a request or batch: one CLIENT span per statement), with no exporter
attached and with one in-memory exporter (as in the tests); and, for comparison, the span opened with
``start_as_current_span`` as lending's private helper did.
"""

from __future__ import annotations

import asyncio
import sys
import time
from collections.abc import Awaitable, Callable
from typing import Any

from opentelemetry import trace
from opentelemetry.trace import SpanKind

from carbon_common.db import TracedConnection
from carbon_common.telemetry import capture_spans, setup_telemetry

SQL = (
    "WITH history AS (INSERT INTO ratings (rating_id, credit_code, score) SELECT rating_id, credit_code, "
    "score FROM unnest($1::varchar[], $2::varchar[], CAST($3::text[] AS numeric[])) AS u(a, b, c) "
    "ON CONFLICT DO NOTHING) SELECT 1"
)
N = 20_000
ROUNDS = 7


class _Stub:
    async def fetch(self, query: str, *args: Any, timeout: float | None = None) -> list[Any]:
        return []


async def _per_call(call: Callable[[], Awaitable[Any]], n: int = N) -> float:
    best = float("inf")
    for _ in range(ROUNDS):
        t0 = time.perf_counter()
        for _ in range(n):
            await call()
        best = min(best, (time.perf_counter() - t0) / n)
    return best * 1e6


async def main(pg: bool) -> None:
    stub = _Stub()
    traced = TracedConnection(stub)
    results: dict[str, float] = {}
    results["bare stub.fetch"] = await _per_call(lambda: stub.fetch(SQL, 1))
    results["traced, no tracer provider"] = await _per_call(lambda: traced.fetch(SQL, 1))
    setup_telemetry("bench")
    results["traced, provider, outside any span"] = await _per_call(lambda: traced.fetch(SQL, 1))
    legacy = trace.get_tracer("bench.legacy")

    async def old_style() -> Any:
        with legacy.start_as_current_span(
            SQL.split(None, 1)[0],
            kind=SpanKind.CLIENT,
            attributes={"db.system": "postgresql", "db.statement": SQL},
        ):
            return await stub.fetch(SQL, 1)

    with trace.get_tracer("bench").start_as_current_span("batch"):
        results["traced, under a recording span, no exporter"] = await _per_call(
            lambda: traced.fetch(SQL, 1), N // 4
        )
    with capture_spans() as exporter, trace.get_tracer("bench").start_as_current_span("batch"):
        results["traced, under a recording span, in-memory exporter"] = await _per_call(
            lambda: traced.fetch(SQL, 1), N // 4
        )
        exporter.clear()
        results["start_as_current_span (lending's old _span)"] = await _per_call(old_style, N // 4)
        exporter.clear()
    if pg:
        import asyncpg

        from carbon_common.testing import drop_database, fresh_database

        url = await fresh_database("benchsql")
        conn = await asyncpg.connect(url.replace("postgresql+asyncpg", "postgresql"))
        try:
            real = TracedConnection(conn)
            results["PG SELECT 1, bare"] = await _per_call(lambda: conn.fetch("SELECT 1"), 2000)
            with capture_spans() as exporter, trace.get_tracer("bench").start_as_current_span("batch"):
                results["PG SELECT 1, traced under a span"] = await _per_call(
                    lambda: real.fetch("SELECT 1"), 2000
                )
                exporter.clear()
        finally:
            await conn.close()
            await drop_database(url)
    for name, us in results.items():
        print(f"{name:48s} {us:8.2f} µs/call")


if __name__ == "__main__":
    asyncio.run(main("--pg" in sys.argv))
