"""Benchmark (not a test): HTTP submission and Kafka-consumer throughput of ingest, end to end.

End to end = request accepted and every ``FactRecorded`` published by the outbox relay to the
(in-process) bus. Needs ``PG_URL_BASE``. Usage::

    PG_URL_BASE=postgresql+asyncpg://postgres@127.0.0.1:55999 \
        .venv/bin/python services/ingest/bench/bench_submissions.py [records_per_batch] [batches]
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import sys
import time
from pathlib import Path

import httpx
from stdnum.cn import uscc

import carbon_ingest
from carbon_common.bus.memory import InMemoryBus
from carbon_common.bus.port import Record
from carbon_common.db import tune_gc
from carbon_common.events import Topics
from carbon_common.migrations import upgrade_head
from carbon_common.settings import PostgresSettings
from carbon_common.testing import drop_database, fresh_database
from carbon_ingest.bootstrap import bootstrap
from carbon_ingest.entrypoints.app import create_app
from carbon_ingest.settings import Settings

ENTERPRISES = 1_100  # the pilot's ~1,100 enterprises (domain-data.md §1)
INDICATORS = [("energy.raw_coal", "t"), ("electricity.purchased", "kWh"), ("energy.natural_gas", "Nm3")]


def code(n: int) -> str:
    body = f"91140400MA{n:07d}"
    return body + uscc.calc_check_digit(body)


def records(start: int, n: int) -> list[dict[str, str]]:
    out = []
    for i in range(start, start + n):
        ind, unit = INDICATORS[i % len(INDICATORS)]
        out.append({"record_id": f"b{i}", "credit_code": code(i % ENTERPRISES), "indicator": ind,
                    "period": f"202{1 + i % 3}-{1 + i % 12:02d}", "value": f"{100 + i % 977}.5", "unit": unit})  # fmt: skip
    return out


async def wait_published(bus: InMemoryBus, n: int) -> None:
    while len(bus.records(Topics.FACTS)) < n:  # noqa: ASYNC110 - polling the in-process bus is the point
        await asyncio.sleep(0.01)


async def main(per_batch: int, batches: int) -> None:
    logging.disable(logging.INFO)
    url = await fresh_database("ingest_bench")
    await upgrade_head(Path(carbon_ingest.__file__).parent / "migrations", url)
    bus = InMemoryBus()
    container = bootstrap(Settings(postgres=PostgresSettings(url=url)), bus=bus)
    await container.start()
    await bus.start()
    if os.environ.get("BENCH_GC_TUNING", "1") != "0":
        tune_gc()  # what the services do after start-up (docs/performance-notes.md)
    app = create_app(container.settings, container)
    try:
        async with httpx.AsyncClient(
            transport=httpx.ASGITransport(app=app), base_url="http://b", timeout=600
        ) as c:
            for i in range(ENTERPRISES):
                await c.post("/v1/enterprises", json={"credit_code": code(i), "name": f"企业{i}", "region_code": "140400",
                             "industry_code": "4411", "size_class": "large", "transition_stage": "mid"})  # fmt: skip
            await wait_published(bus, 0)
            t0 = time.perf_counter()
            for b in range(batches):
                t = time.perf_counter()
                r = await c.post("/v1/submissions", json={"department": "stats-140400" if b % 2 else "grid-140400",
                                 "records": [x for x in records(b * per_batch, per_batch)
                                             if (x["indicator"] == "electricity.purchased") == (b % 2 == 0)] or
                                 records(b * per_batch, per_batch)})  # fmt: skip
                print(f"batch {b}: {r.json()['accepted']} accepted, HTTP {time.perf_counter() - t:.2f}s")
            total = sum(1 for _ in bus.records(Topics.FACTS))
            http_s = time.perf_counter() - t0
            accepted = (await c.get("/v1/evidence/verify")).json()["entries_checked"]
            await wait_published(bus, accepted)
            e2e = time.perf_counter() - t0
            print(f"HTTP: {accepted} facts in {http_s:.2f}s = {accepted / http_s:,.0f}/s (responses); "
                  f"{accepted / e2e:,.0f}/s end to end incl. relay (published before end: {total})")  # fmt: skip

            before = len(bus.records(Topics.FACTS))
            raw = [Record(Topics.DEPT_SUBMISSIONS, None, json.dumps({"department": "stats-140300", **x}).encode())
                   for x in records(10_000_000, per_batch) if x["indicator"] != "electricity.purchased"]  # fmt: skip
            t0 = time.perf_counter()
            await bus.publish(raw)
            await bus.drain(timeout=600)
            await wait_published(bus, before + len(raw))
            k = time.perf_counter() - t0
            print(
                f"Kafka path (in-process bus, 500-record batches): {len(raw)} records in {k:.2f}s = {len(raw) / k:,.0f}/s"
            )
            t0 = time.perf_counter()
            v = (await c.get("/v1/evidence/verify")).json()
            print(f"verify: {v['entries_checked']} entries in {time.perf_counter() - t0:.2f}s, ok={v['ok']}")
    finally:
        await bus.stop()
        await container.stop()
        await drop_database(url)


if __name__ == "__main__":
    asyncio.run(
        main(int(sys.argv[1]) if len(sys.argv) > 1 else 10_000, int(sys.argv[2]) if len(sys.argv) > 2 else 4)
    )
