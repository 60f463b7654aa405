"""Benchmark ``POST /v1/quotes`` on one uvicorn worker against a real PostgreSQL.

Usage (from the repo root): PG_URL_BASE=postgresql+asyncpg://postgres@127.0.0.1:55999 \
    .venv/bin/python services/lending/scripts/bench_quotes.py [requests] [concurrency]

Seeds 1,000 enterprises with current ratings straight into lending's read-model tables (what
the consumer would have written), starts uvicorn (1 worker) as a subprocess, fires requests
with httpx from this process and prints throughput and latency percentiles.
"""

from __future__ import annotations

import asyncio
import os
import statistics
import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

import httpx
from sqlalchemy import insert
from sqlalchemy.ext.asyncio import create_async_engine

from carbon_common.migrations import upgrade_head
from carbon_common.testing import drop_database, fresh_database
from carbon_lending.adapters.orm import current_ratings, enterprises

MIGRATIONS = Path(__file__).resolve().parents[1] / "src" / "carbon_lending" / "migrations"
LABELS = ("dark_green", "light_green", "yellow", "red")
PORT = 8904


async def seed(url: str, n: int) -> list[str]:
    engine = create_async_engine(url)
    codes = [f"91140400{i:09d}X" for i in range(n)]
    async with engine.begin() as conn:
        await conn.execute(
            insert(enterprises),
            [
                {
                    "credit_code": c,
                    "name": f"E{i}",
                    "industry_code": "4411",
                    "region_code": "140400",
                    "size_class": "large",
                    "transition_stage": "mid",
                    "revision": 1,
                }
                for i, c in enumerate(codes)
            ],
        )
        await conn.execute(
            insert(current_ratings),
            [
                {
                    "credit_code": c,
                    "rating_id": f"r{i}",
                    "score": 70,
                    "label": LABELS[i % 4],
                    "confidence": "0.9",
                    "methodology_version": "bench@1",
                    "issued_at": datetime(2025, 1, 1, tzinfo=UTC),
                    "as_of_period": "2024-12",
                    "transition_stage": "mid",
                    "vetoes": [],
                }
                for i, c in enumerate(codes)
            ],
        )
    await engine.dispose()
    return codes


async def fire(codes: list[str], total: int, concurrency: int) -> tuple[float, list[float]]:
    latencies: list[float] = []
    counter = iter(range(total))
    limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
    async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{PORT}", limits=limits, timeout=30) as client:

        async def worker() -> None:
            for i in counter:
                body = {
                    "credit_code": codes[i % len(codes)],
                    "product": "green_loan",
                    "amount_cny": "5000000",
                    "term_months": 36,
                }
                t0 = time.perf_counter()
                r = await client.post("/v1/quotes", json=body, headers={"X-Org": "bench-bank"})
                latencies.append(time.perf_counter() - t0)
                assert r.status_code == 201, r.text

        start = time.perf_counter()
        await asyncio.gather(*(worker() for _ in range(concurrency)))
        return time.perf_counter() - start, latencies


async def main(total: int, concurrency: int) -> None:
    url = await fresh_database("lendbench")
    proc = None
    try:
        await upgrade_head(MIGRATIONS, url)
        codes = await seed(url, 1000)
        env = os.environ | {
            "LENDING_POSTGRES__URL": url,
            "LENDING_TELEMETRY__LOG_LEVEL": "WARNING",
            "OTEL_SDK_DISABLED": "true",
        }
        proc = subprocess.Popen(  # noqa: ASYNC220 - a harness: Popen returns at once
            [
                sys.executable,
                "-m",
                "uvicorn",
                "--factory",
                "carbon_lending.entrypoints.app:create_app",
                "--port",
                str(PORT),
                "--workers",
                "1",
                "--log-level",
                "warning",
                "--no-access-log",
            ],
            env=env,
        )
        async with httpx.AsyncClient() as c:
            for _ in range(100):
                try:
                    if (await c.get(f"http://127.0.0.1:{PORT}/livez")).status_code == 200:
                        break
                except httpx.HTTPError:
                    await asyncio.sleep(0.1)
        await fire(codes, 300, concurrency)  # warm-up
        elapsed, lat = await fire(codes, total, concurrency)
        lat.sort()
        p = lambda q: lat[min(len(lat) - 1, int(q * len(lat)))] * 1000  # noqa: E731
        print(
            f"{total} quotes, concurrency {concurrency}: {total / elapsed:.0f} req/s; "
            f"p50 {p(0.5):.1f} ms, p99 {p(0.99):.1f} ms, mean {statistics.mean(lat) * 1000:.1f} ms"
        )
    finally:
        if proc is not None:
            proc.terminate()
            proc.wait(10)
        await drop_database(url)


if __name__ == "__main__":
    total = int(sys.argv[1]) if len(sys.argv) > 1 else 3000
    asyncio.run(main(total, int(sys.argv[2]) if len(sys.argv) > 2 else 16))
