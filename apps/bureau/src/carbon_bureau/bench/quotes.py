"""The quote API at fixed concurrency: ``POST /v1/quotes`` as bank-a, for every enterprise in turn.

The load comes from ``wrk`` (C, one thread) when it is installed — ``scripts/bench.sh`` installs it
from Debian — so the client is not the bottleneck; otherwise from an httpx client in this process,
which on a 2-core machine tops out near the server's own rate (the report says which was used).
"""

from __future__ import annotations

import asyncio
import json
import re
import shutil
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx

from .stats import percentile, rate, rounded

_LUA = """
local codes = %s
local i = 0
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
wrk.headers["X-Org"] = "bank-a"
request = function()
  i = i + 1
  local body = '{"credit_code":"' .. codes[(i %% #codes) + 1] ..
    '","product":"green_loan","amount_cny":"10000000","term_months":36}'
  return wrk.format(nil, "/v1/quotes", nil, body)
end
"""

_UNITS = {"us": 1e-3, "ms": 1.0, "s": 1e3}


def _ms(text: str) -> float:
    m = re.fullmatch(r"([\d.]+)(us|ms|s)", text.strip())
    if not m:
        raise ValueError(f"unexpected wrk latency {text!r}")
    return float(m.group(1)) * _UNITS[m.group(2)]


def parse_wrk(out: str) -> dict[str, Any]:
    """Requests, non-2xx count, req/s and the p50/p99 latencies of ``wrk --latency`` output."""
    requests = int(re.search(r"(\d+) requests in", out).group(1))  # type: ignore[union-attr]
    bad = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    errors = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", out)
    pct = dict(re.findall(r"^\s+(\d+)%\s+(\S+)$", out, flags=re.M))
    return {
        "requests": requests,
        "non_2xx": int(bad.group(1)) if bad else 0,
        "transport_errors": sum(int(x) for x in errors.groups()) if errors else 0,
        "requests_per_s": float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1)),  # type: ignore[union-attr]
        "p50_ms": round(_ms(pct["50"]), 2),
        "p99_ms": round(_ms(pct["99"]), 2),
    }


async def quote_load(lending: str, codes: list[str], concurrency: int, seconds: float) -> dict[str, Any]:
    if shutil.which("wrk"):
        return await _wrk_load(lending, codes, concurrency, seconds)
    return await _httpx_load(lending, codes, concurrency, seconds)


async def _wrk_load(lending: str, codes: list[str], concurrency: int, seconds: float) -> dict[str, Any]:
    with tempfile.TemporaryDirectory() as tmp:
        script = Path(tmp) / "quotes.lua"
        lua_codes = "{" + ",".join(json.dumps(c) for c in codes) + "}"
        script.write_text(_LUA % lua_codes)
        proc = await asyncio.create_subprocess_exec(
            "wrk", "-t1", f"-c{concurrency}", f"-d{seconds:.0f}s", "--latency", "-s", str(script), lending,
            stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT,
        )  # fmt: skip
        out, _ = await proc.communicate()
    parsed = parse_wrk(out.decode())
    ok = parsed["requests"] - parsed["non_2xx"]
    return {
        "client": "wrk (1 thread)",
        "concurrency": concurrency,
        "seconds": rounded(seconds, 1),
        "requests": parsed["requests"],
        "ok": ok,
        "statuses": {"2xx": ok, "non-2xx": parsed["non_2xx"]},
        "transport_errors": parsed["transport_errors"],
        "requests_per_s": rounded(parsed["requests_per_s"] * ok / max(parsed["requests"], 1), 1),
        "p50_ms": parsed["p50_ms"],
        "p99_ms": parsed["p99_ms"],
    }


async def _httpx_load(lending: str, codes: list[str], concurrency: int, seconds: float) -> dict[str, Any]:
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
        "client": "httpx (in the bench process)",
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
