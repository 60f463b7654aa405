"""Benchmark (not a test): N concurrent clients POSTing record batches to a real ingest process.

The server is ``uvicorn carbon_ingest.entrypoints.app:create_app --factory`` (a separate process,
as in ``make bench``) on a fresh database of the PostgreSQL at ``PG_URL_BASE``, without Kafka (the
outbox relay publishes to its in-process bus). Reports records/s (every record of every batch
answered) and facts/s (accepted), the server's CPU seconds (its worker processes included) and
the request latency; then verifies the evidence chain. Not a test: numbers vary with the load of
the machine (docs/performance-notes.md). Usage::

    PG_URL_BASE=postgresql+asyncpg://postgres@127.0.0.1:55432 \
        .venv/bin/python services/ingest/bench/bench_concurrent.py [clients] [per_batch] [batches] [workers]
"""

from __future__ import annotations

import asyncio
import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import orjson
from stdnum.cn import uscc

import carbon_ingest
from carbon_common.migrations import upgrade_head
from carbon_common.testing import drop_database, fresh_database

ENTERPRISES = 1_100
#: Changzhi, Datong, Yangquan (the pilot's cities): 12 departments, like the pilot's ~100 sources
#: that submit independently of each other
CITIES = ["140400", "140200", "140300"]
#: (indicator, unit, department kind): the pilot's mix — stats energy, grid electricity
#: (cross-validated), tax revenue
INDICATORS = [
    ("energy.raw_coal", "t", "stats"),
    ("energy.natural_gas", "Nm3", "stats"),
    ("electricity.purchased", "kWh", "grid"),
    ("finance.revenue", "10k CNY", "tax"),
]


def code(n: int) -> str:
    body = f"91140400MA{n:07d}"
    return body + uscc.calc_check_digit(body)


def batch(b: int, per_batch: int) -> bytes:
    ind, unit, kind = INDICATORS[b % len(INDICATORS)]
    dept = f"{kind}-{CITIES[b // len(INDICATORS) % len(CITIES)]}"
    recs = []
    for j in range(per_batch):
        i = b * per_batch + j
        recs.append({"record_id": f"b{b}-{j}", "credit_code": code(i % ENTERPRISES), "indicator": ind,
                     "period": f"{2021 + (i // ENTERPRISES) % 3}-{1 + (i // (3 * ENTERPRISES)) % 12:02d}",
                     "value": f"{100 + i % 977}.5", "unit": unit})  # fmt: skip
    return orjson.dumps({"department": dept, "records": recs})


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def cpu_seconds(pid: int) -> float:
    """CPU seconds of the server process and its worker processes (``--workers``)."""
    total = 0.0
    for p in [pid, *_children(pid)]:
        try:
            fields = Path(f"/proc/{p}/stat").read_text().rsplit(")", 1)[1].split()
        except FileNotFoundError:
            continue
        total += (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    return total


def _children(pid: int) -> list[int]:
    try:
        return [int(c) for c in Path(f"/proc/{pid}/task/{pid}/children").read_text().split()]
    except FileNotFoundError:
        return []


async def main(clients: int, per_batch: int, batches: int, workers: int = 1) -> None:
    url = await fresh_database("ingest_bench")
    await upgrade_head(Path(carbon_ingest.__file__).parent / "migrations", url)
    port = free_port()
    env = {**os.environ, "INGEST_POSTGRES__URL": url, "INGEST_TELEMETRY__LOG_LEVEL": "WARNING",
           "INGEST_TELEMETRY__TRACES_ENABLED": "false", "INGEST_KAFKA__BOOTSTRAP_SERVERS": ""}  # fmt: skip
    proc = subprocess.Popen(  # noqa: ASYNC220 - started once, before the timed part
        [sys.executable, "-m", "uvicorn", "carbon_ingest.entrypoints.app:create_app", "--factory",
         "--host", "127.0.0.1", "--port", str(port), "--no-access-log", "--log-level", "warning",
         *(["--workers", str(workers)] if workers > 1 else [])],
        env=env,
    )  # fmt: skip
    base = f"http://127.0.0.1:{port}"
    try:
        async with httpx.AsyncClient(base_url=base, timeout=600) as c:
            for _ in range(300):
                try:
                    if (await c.get("/readyz")).status_code == 200:
                        break
                except httpx.TransportError:
                    pass
                await asyncio.sleep(0.2)
            for i in range(ENTERPRISES):
                r = await c.post("/v1/enterprises", json={"credit_code": code(i), "name": f"企业{i}", "region_code": "140400",
                                 "industry_code": "4411", "size_class": "large", "transition_stage": "mid"})  # fmt: skip
                assert r.status_code in (200, 201), r.text
            bodies = [batch(b, per_batch) for b in range(batches)]
            queue: asyncio.Queue[bytes] = asyncio.Queue()
            for body in bodies:
                queue.put_nowait(body)
            accepted = 0
            latencies: list[float] = []

            async def client() -> None:
                nonlocal accepted
                async with httpx.AsyncClient(base_url=base, timeout=600) as own:
                    while not queue.empty():
                        body = queue.get_nowait()
                        t = time.perf_counter()
                        r = await own.post(
                            "/v1/submissions", content=body, headers={"content-type": "application/json"}
                        )
                        latencies.append(time.perf_counter() - t)
                        assert r.status_code == 200, r.text
                        accepted += r.json()["accepted"]

            cpu0 = cpu_seconds(proc.pid)
            t0 = time.perf_counter()
            await asyncio.gather(*(client() for _ in range(clients)))
            wall = time.perf_counter() - t0
            cpu = cpu_seconds(proc.pid) - cpu0
            latencies.sort()
            records = batches * per_batch
            print(
                f"workers={workers} clients={clients} batch={per_batch} batches={batches}: {records / wall:,.0f} records/s, "
                f"{accepted / wall:,.0f} facts/s ({accepted} accepted in {wall:.2f}s); server CPU {cpu:.1f}s "
                f"({cpu / wall:.2f} cores); latency p50 {latencies[len(latencies) // 2] * 1000:.0f} ms, "
                f"max {latencies[-1] * 1000:.0f} ms"
            )
            v = (await c.get("/v1/evidence/verify")).json()
            print(f"verify: {v['entries_checked']} entries, ok={v['ok']}")
            assert v["ok"] and v["entries_checked"] == accepted, v
    finally:
        proc.terminate()
        proc.wait(timeout=30)
        await drop_database(url)


if __name__ == "__main__":
    args = [int(a) for a in sys.argv[1:]]
    asyncio.run(main(*(args + [4, 1_000, 60, 1][len(args) :])))
