"""The quote API at fixed concurrency: ``POST /v1/quotes`` as bank-a, for every enterprise in turn."""

from __future__ import annotations

import asyncio
import time
from typing import Any

import httpx

from .stats import percentile, rate, rounded


async def quote_load(lending: str, codes: list[str], concurrency: int, seconds: float) -> dict[str, Any]:
    lat: list[float] = []
    statuses: dict[int, int] = {}
    errors = 0
    stop_at = time.monotonic() + seconds
    counter = iter(range(10**9))

    async def worker(client: httpx.AsyncClient) -> None:
        nonlocal errors
        while time.monotonic() < stop_at:
            code = codes[next(counter) % len(codes)]
            body = {"credit_code": code, "product": "green_loan", "amount_cny": "10000000", "term_months": 36}
            t0 = time.perf_counter()
            try:
                r = await client.post(f"{lending}/v1/quotes", json=body, headers={"X-Org": "bank-a"})
            except httpx.HTTPError:
                errors += 1
                continue
            lat.append(time.perf_counter() - t0)
            statuses[r.status_code] = statuses.get(r.status_code, 0) + 1

    limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
    async with httpx.AsyncClient(timeout=30, limits=limits) as client:
        t0 = time.perf_counter()
        await asyncio.gather(*(worker(client) for _ in range(concurrency)))
        elapsed = time.perf_counter() - t0
    ok = sum(n for s, n in statuses.items() if 200 <= s < 300)
    return {
        "concurrency": concurrency,
        "seconds": rounded(elapsed, 1),
        "requests": len(lat),
        "ok": ok,
        "statuses": {str(k): v for k, v in sorted(statuses.items())},
        "transport_errors": errors,
        "requests_per_s": rounded(rate(ok, elapsed), 1),
        "p50_ms": rounded((percentile(lat, 50) or 0) * 1000, 1),
        "p99_ms": rounded((percentile(lat, 99) or 0) * 1000, 1),
    }
