"""Benchmark ``POST /v1/quotes`` on one uvicorn worker against a real PostgreSQL.

Usage (from the repo root, with ``eval "$(.venv/bin/bureau stack env)"``):

    .venv/bin/python services/lending/scripts/bench_quotes.py [--seconds 15] [--concurrency 16]
        [--no-auth] [--port 28104] [--profile /tmp/lending.svg] [--idempotency]

Seeds 1,000 enterprises with current ratings straight into lending's read-model tables (what
the consumer would have written) in a fresh database, starts uvicorn (1 worker, uvloop,
httptools) as a subprocess with bearer-token auth on (the production setting; a development
token is minted for ``bench-bank``), and drives it with ``wrk`` (a C load generator, so the
client does not eat the server's CPU on a 2-core box); without ``wrk`` an httpx client is used.
Prints requests/s, the p50/p99 latencies and the server's CPU time per quote (the figure that
survives a shared, loaded machine). ``--profile`` records the server with py-spy.
This is a benchmark, not a test: numbers go to docs/performance-notes.md.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path

import httpx
from sqlalchemy import insert
from sqlalchemy.ext.asyncio import create_async_engine

from carbon_common.auth import mint_dev_token
from carbon_common.migrations import upgrade_head
from carbon_common.testing import drop_database, fresh_database
from carbon_lending.adapters.orm import current_ratings, enterprises

MIGRATIONS = Path(__file__).resolve().parents[1] / "src" / "carbon_lending" / "migrations"
LABELS = ("dark_green", "light_green", "yellow", "red")
N_ENTERPRISES = 1000

WRK_SCRIPT = """
local codes = {%(codes)s}
local token = "%(token)s"
local idem = %(idem)s
local run = "%(run)s"
local counter = 0
threads = 0
setup = function(thread) threads = threads + 1; thread:set("tid", threads) end
request = function()
  counter = counter + 1
  local code = codes[(counter %% #codes) + 1]
  local headers = {["Content-Type"] = "application/json", ["X-Org"] = "bench-bank"}
  if token ~= "" then headers["Authorization"] = "Bearer " .. token end
  if idem then headers["Idempotency-Key"] = "k-" .. tostring(tid) .. "-" .. tostring(counter) .. "-" .. run end
  local body = '{"credit_code":"' .. code .. '","product":"green_loan","amount_cny":"5000000","term_months":36}'
  return wrk.format("POST", "/v1/quotes", headers, body)
end
response = function(status, headers, body)
  if status ~= 201 then io.write("unexpected status " .. status .. ": " .. body .. "\\n") end
end
"""


def cpu_seconds(pid: int) -> float:
    """User + system CPU seconds of a process (Linux ``/proc``)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


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


def run_wrk(port: int, codes: list[str], token: str, seconds: int, conc: int, idem: bool) -> str:
    lua = WRK_SCRIPT % {
        "codes": ",".join(f'"{c}"' for c in codes),
        "token": token,
        "idem": "true" if idem else "false",
        "run": uuid.uuid4().hex,
    }
    with tempfile.NamedTemporaryFile("w", suffix=".lua", delete=False) as f:
        f.write(lua)
    out = subprocess.run(
        ["wrk", "-t2", f"-c{conc}", f"-d{seconds}s", "--latency", "-s", f.name, f"http://127.0.0.1:{port}"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    os.unlink(f.name)
    rps = re.search(r"Requests/sec:\s+([\d.]+)", out)
    p50 = re.search(r"50%\s+([\d.]+)(us|ms|s)", out)
    p99 = re.search(r"99%\s+([\d.]+)(us|ms|s)", out)
    errors = "unexpected status" in out or "Non-2xx" in out

    def ms(m: re.Match[str] | None) -> float:
        if m is None:
            return float("nan")
        return float(m.group(1)) * {"us": 0.001, "ms": 1.0, "s": 1000.0}[m.group(2)]

    summary = (
        f"wrk {seconds}s, concurrency {conc}: {float(rps.group(1)) if rps else 0:.0f} req/s; "
        f"p50 {ms(p50):.1f} ms, p99 {ms(p99):.1f} ms{' — ERRORS, see output' if errors else ''}"
    )
    return summary + ("\n" + out if errors else "")


async def run_httpx(port: int, codes: list[str], token: str, total: int, conc: int) -> str:
    latencies: list[float] = []
    counter = iter(range(total))
    headers = {"X-Org": "bench-bank"} | ({"Authorization": f"Bearer {token}"} if token else {})
    limits = httpx.Limits(max_connections=conc, max_keepalive_connections=conc)
    async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}", limits=limits, timeout=30) as client:

        async def worker() -> None:
            for i in counter:
                body = {"credit_code": codes[i % len(codes)], "product": "green_loan"}
                body |= {"amount_cny": "5000000", "term_months": 36}
                t0 = time.perf_counter()
                r = await client.post("/v1/quotes", json=body, headers=headers)
                latencies.append(time.perf_counter() - t0)
                assert r.status_code == 201, r.text

        start = time.perf_counter()
        await asyncio.gather(*(worker() for _ in range(conc)))
        elapsed = time.perf_counter() - start
    latencies.sort()

    def p(q: float) -> float:
        return latencies[min(len(latencies) - 1, int(q * len(latencies)))] * 1000

    return (
        f"httpx {total} quotes, concurrency {conc}: {total / elapsed:.0f} req/s; "
        f"p50 {p(0.5):.1f} ms, p99 {p(0.99):.1f} ms, mean {statistics.mean(latencies) * 1000:.1f} ms"
    )


async def main(args: argparse.Namespace) -> None:
    url = await fresh_database("lendbench")
    proc = None
    try:
        await upgrade_head(MIGRATIONS, url)
        codes = await seed(url, N_ENTERPRISES)
        token = "" if args.no_auth else mint_dev_token("bench-bank", "quotes:write")
        env = os.environ | {
            "LENDING_POSTGRES__URL": url,
            "LENDING_KAFKA__BOOTSTRAP_SERVERS": "",
            "LENDING_TELEMETRY__LOG_LEVEL": "WARNING",
            "LENDING_AUTH__ENABLED": "false" if args.no_auth else "true",
        }
        proc = subprocess.Popen(  # noqa: ASYNC220 - a harness: Popen returns at once
            [
                sys.executable,
                "-m",
                "uvicorn",
                "--factory",
                "carbon_lending.entrypoints.app:create_app",
                "--port",
                str(args.port),
                "--workers",
                "1",
                "--loop",
                "uvloop",
                "--http",
                "httptools",
                "--log-level",
                "warning",
                "--no-access-log",
            ],
            env=env,
        )
        async with httpx.AsyncClient() as c:
            for _ in range(200):
                try:
                    if (await c.get(f"http://127.0.0.1:{args.port}/livez")).status_code == 200:
                        break
                except httpx.HTTPError:
                    await asyncio.sleep(0.1)
        use_wrk = shutil.which("wrk") is not None and not args.httpx
        # warm-up (JIT-free CPython still warms caches, pools and prepared statements)
        if use_wrk:
            run_wrk(args.port, codes, token, 3, args.concurrency, args.idempotency)
        else:
            await run_httpx(args.port, codes, token, 300, args.concurrency)
        spy = None
        if args.profile:
            spy = subprocess.Popen(  # noqa: ASYNC220
                [
                    shutil.which("py-spy") or str(Path(sys.executable).parent / "py-spy"),
                    "record",
                    "-o",
                    args.profile,
                    "--pid",
                    str(proc.pid),
                    "-d",
                    str(args.seconds),
                ]
                + (["-f", "raw"] if args.profile.endswith(".txt") else []),
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
            )
        cpu0, wall0 = cpu_seconds(proc.pid), time.perf_counter()
        if use_wrk:
            line = run_wrk(args.port, codes, token, args.seconds, args.concurrency, args.idempotency)
        else:
            line = await run_httpx(args.port, codes, token, args.seconds * 200, args.concurrency)
        cpu, wall = cpu_seconds(proc.pid) - cpu0, time.perf_counter() - wall0
        rps = re.search(r"(\d+) req/s", line)
        served = int(rps.group(1)) * wall if rps else 0
        print(line)
        print(
            f"server CPU {cpu:.1f} s over {wall:.1f} s wall ({cpu / wall:.0%} of one core); "
            f"{cpu / served * 1000:.2f} ms CPU per quote → ≈ {served / cpu:.0f} quotes/s per fully "
            f"available core; load average {os.getloadavg()[0]:.1f}"
            if served and cpu
            else ""
        )
        if spy is not None:
            spy.wait(60)
    finally:
        if proc is not None:
            proc.terminate()
            proc.wait(10)
        await drop_database(url)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=int, default=15)
    parser.add_argument("--concurrency", type=int, default=16)
    # not 18104: the bench stack's lending listens there
    parser.add_argument("--port", type=int, default=28104)
    parser.add_argument("--no-auth", action="store_true", help="X-Org header instead of a bearer token")
    parser.add_argument("--idempotency", action="store_true", help="send a fresh Idempotency-Key each time")
    parser.add_argument("--httpx", action="store_true", help="use the httpx client even if wrk exists")
    parser.add_argument("--profile", help="py-spy output (.svg flame graph, .txt raw)")
    asyncio.run(main(parser.parse_args()))
