"""Rating benchmarks on a pilot-scale synthetic dataset (real PostgreSQL, in-process bus).

Run: ``PG_URL_BASE=postgresql+asyncpg://postgres@127.0.0.1:55999 .venv/bin/python
services/rating/benchmarks/bench_rating.py``. Measures (1) consuming AccountUpdated for 1,122
enterprises x 24 months through the bus, (2) consuming FactRecorded from the credit-facts
stream (10% in the families rating keeps, the rest lending's ``finance.revenue``), (3) a full
re-rating after a methodology change, (4) HTML report rendering p50.
"""

from __future__ import annotations

import asyncio
import dataclasses
import os
import random
import statistics
import time
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path

import httpx
from stdnum.cn import uscc

from carbon_common.bus.memory import InMemoryBus
from carbon_common.bus.port import to_record
from carbon_common.db import tune_gc
from carbon_common.events import AccountUpdated, EnterpriseRegistered, Envelope, FactRecorded, Topics
from carbon_common.migrations import upgrade_head
from carbon_common.testing import drop_database, fresh_database
from carbon_rating.bootstrap import bootstrap
from carbon_rating.entrypoints.app import create_app
from carbon_rating.service_layer.commands import RerateEnterprises
from carbon_rating.service_layer.handlers import rerate_enterprises
from carbon_rating.settings import Settings

MIGRATIONS = Path(__file__).resolve().parents[1] / "src" / "carbon_rating" / "migrations"
INDUSTRIES = [
    ("4411", "MWh", 0.81),
    ("3120", "t", 1.9),
    ("2521", "t", 0.5),
    ("3011", "t", 0.85),
    ("4415", "MWh", 0.02),
]
N_ENTERPRISES = 1122
#: one fact in KEPT_EVERY is in a family rating keeps (compliance/ets/capex); env BENCH_KEPT_EVERY
KEPT_EVERY = int(os.environ.get("BENCH_KEPT_EVERY", "10"))
PERIODS = [f"{y}-{m:02d}" for y in (2023, 2024) for m in range(1, 13)]


def code(i: int) -> str:
    base = f"91140400MA{i:07d}"
    return base + uscc.calc_check_digit(base)


def env(e: object) -> Envelope:  # type: ignore[type-arg]
    return Envelope(data=e, source="/bench")  # type: ignore[arg-type]


async def main() -> None:
    rnd = random.Random(7)
    url = await fresh_database("rating_bench")
    await upgrade_head(MIGRATIONS, url)
    bus = InMemoryBus(partitions=6)
    settings = Settings(postgres={"url": url}, telemetry={"log_json": False, "log_level": "WARNING"})  # type: ignore[arg-type]
    c = bootstrap(settings, bus=bus)
    await c.start()
    if os.environ.get("BENCH_GC_TUNING", "1") != "0":
        tune_gc()  # what the services do after start-up (docs/performance-notes.md)
    await bus.start()
    try:
        ents, accts = [], []
        for i in range(N_ENTERPRISES):
            ind, unit, base = INDUSTRIES[i % len(INDUSTRIES)]
            ents.append(
                EnterpriseRegistered(
                    credit_code=code(i),
                    name=f"企业{i}",
                    region_code="140400",
                    industry_code=ind,
                    size_class="large",
                    transition_stage=rnd.choice(["early", "mid", "mature"]),
                    ets_participant=ind in ("4411", "3120", "3011"),
                )
            )
            level = base * rnd.uniform(0.7, 1.3)
            for k, p in enumerate(PERIODS):
                out = Decimal(rnd.randint(50_000, 150_000))
                inten = Decimal(str(round(level * (1 - 0.003 * k), 6)))
                accts.append(
                    AccountUpdated(
                        credit_code=code(i),
                        period=p,
                        industry_code=ind,
                        scope1_combustion_tco2=inten * out,
                        total_tco2=inten * out,
                        output_quantity=out,
                        output_unit=unit,
                        data_quality_score=Decimal(rnd.randint(1, 4)),
                        factor_set="cn@1",
                    )
                )
        await bus.publish([to_record(env(e)) for e in ents])
        await bus.drain(600)
        t0 = time.perf_counter()
        await bus.publish([to_record(env(a)) for a in accts])
        await bus.drain(600)
        t_acc = time.perf_counter() - t0
        print(
            f"accounts: {len(accts)} AccountUpdated consumed+rated in {t_acc:.2f}s = {len(accts) / t_acc:,.0f}/s"
        )

        facts = []
        for j in range(50_000):
            i = rnd.randrange(N_ENTERPRISES)
            kept = j % KEPT_EVERY == 0
            ind = (
                rnd.choice(["compliance.env_penalty", "finance.total_capex", "ets.surrendered"])
                if kept
                else "finance.revenue"  # on the credit-facts stream, read by lending only
            )
            facts.append(
                FactRecorded(
                    fact_id=f"f{j}",
                    fact_key=f"d/{j}",
                    credit_code=code(i),
                    department="d",
                    record_id=str(j),
                    indicator=ind,
                    period=rnd.choice(PERIODS[12:]),
                    value=Decimal(0 if ind == "compliance.env_penalty" else 100),
                    unit="t",
                    attributes={"severity": "minor", "on_time": True},
                    evidence_hash="0" * 64,
                    recorded_at=datetime.now(UTC),
                )
            )
        t0 = time.perf_counter()
        # ingest's copy on the credit-facts stream, the one rating subscribes to
        await bus.publish([dataclasses.replace(to_record(env(f)), topic=Topics.CREDIT_FACTS) for f in facts])
        await bus.drain(600)
        t_f = time.perf_counter() - t0
        print(
            f"facts: {len(facts)} FactRecorded (1 in {KEPT_EVERY} kept) consumed+rated in {t_f:.2f}s = {len(facts) / t_f:,.0f}/s"
        )

        changed = dataclasses.replace(
            c.methodology,
            weights={
                **c.methodology.weights,
                "mid": {
                    **c.methodology.weights["mid"],
                    "current_performance": Decimal("0.30"),
                    "improvement": Decimal("0.20"),
                },
            },
        )
        t0 = time.perf_counter()
        async with c.uow() as uow:
            issued = await rerate_enterprises(
                RerateEnterprises(None, "methodology_change", datetime.now(UTC)), uow, changed
            )
            await uow.commit()
        t_r = time.perf_counter() - t0
        print(f"full re-rating after a methodology change: {len(issued)} ratings issued in {t_r:.2f}s")

        app = create_app(container=c)
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://r") as client:
            times = []
            for i in range(40):
                t0 = time.perf_counter()
                resp = await client.get(f"/v1/ratings/{code(i)}/report", params={"lang": "zh"})
                times.append(time.perf_counter() - t0)
                assert resp.status_code == 200
            print(
                f"report HTML: p50 {statistics.median(times) * 1000:.0f} ms, max {max(times) * 1000:.0f} ms"
            )
    finally:
        await bus.stop()
        await c.stop()
        await drop_database(url)


if __name__ == "__main__":
    asyncio.run(main())
