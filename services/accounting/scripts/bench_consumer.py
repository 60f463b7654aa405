"""Accounting consumer throughput on a real PostgreSQL with the in-process bus (not a test).

    PG_URL_BASE=postgresql+asyncpg://postgres@127.0.0.1:55999 \\
        .venv/bin/python services/accounting/scripts/bench_consumer.py [facts] [enterprises]

Publishes pilot-shaped facts (keyed by credit code, ~8 indicators per enterprise-month), then
times from the first delivery until the consumer has drained them and the outbox is flushed.
"""

from __future__ import annotations

import asyncio
import os
import sys
import time
import uuid
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path

import carbon_accounting
from carbon_accounting.bootstrap import bootstrap
from carbon_accounting.settings import Settings
from carbon_common.bus.memory import InMemoryBus
from carbon_common.bus.port import to_record
from carbon_common.db import tune_gc
from carbon_common.events import EnterpriseRegistered, Envelope, FactRecorded, Topics
from carbon_common.migrations import upgrade_head
from carbon_common.settings import PostgresSettings
from carbon_common.testing import drop_database, fresh_database

INDICATORS = [
    ("energy.raw_coal", "t"),
    ("energy.natural_gas", "1e4 Nm3"),
    ("energy.diesel", "t"),
    ("electricity.purchased", "MWh"),
    ("heat.purchased", "GJ"),
    ("production.power_supplied", "MWh"),
    ("finance.revenue", "10k CNY"),
    ("compliance.env_penalty", "count"),
]


def facts(n: int, enterprises: int) -> tuple[list[EnterpriseRegistered], list[FactRecorded]]:
    codes = [f"91140400{i:09d}X" for i in range(enterprises)]
    ents = [
        EnterpriseRegistered(
            credit_code=c,
            name="e",
            region_code="140400",
            industry_code="4411",
            size_class="large",
            transition_stage="mid",
        )
        for c in codes
    ]
    out: list[FactRecorded] = []
    now = datetime.now(UTC)
    i = 0
    periods = [f"{y}-{m:02d}" for y in (2021, 2022, 2023, 2024) for m in range(1, 13)]
    while len(out) < n:
        code = codes[i % enterprises]
        period = periods[(i // enterprises) % len(periods)]
        for ind, unit in INDICATORS:
            rid = f"{code}-{period}-{ind}"
            out.append(
                FactRecorded(
                    fact_id=uuid.uuid4().hex,
                    fact_key=f"stats-140400/{rid}",
                    credit_code=code,
                    department="stats-140400",
                    record_id=rid,
                    indicator=ind,
                    period=period,
                    value=Decimal("123.45"),
                    unit=unit,
                    evidence_hash=uuid.uuid4().hex,
                    recorded_at=now,
                )
            )
        i += 1
    return ents, out[:n]


async def main(n: int, enterprises: int) -> None:
    url = await fresh_database("acct_bench")
    await upgrade_head(Path(carbon_accounting.__file__).parent / "migrations", url)
    ents, fs = facts(n, enterprises)
    bus = InMemoryBus(partitions=6)
    container = bootstrap(Settings(postgres=PostgresSettings(url=url)), bus=bus)  # type: ignore[arg-type]
    await container.start()
    if os.environ.get("BENCH_GC_TUNING", "1") != "0":
        tune_gc()  # what the services do after start-up (docs/performance-notes.md)
    await bus.publish([to_record(Envelope(data=e, source="/ingest")) for e in ents])
    await bus.publish([to_record(Envelope(data=f, source="/ingest")) for f in fs])
    t0 = time.perf_counter()
    await bus.start()
    await bus.drain(timeout=3600)
    t1 = time.perf_counter()
    while await container.runtime.relay.relay_once():
        pass
    t2 = time.perf_counter()
    emitted = len(bus.records(Topics.ACCOUNTS))
    print(
        f"{n} facts, {enterprises} enterprises: consumed in {t1 - t0:.1f}s = {n / (t1 - t0):,.0f} facts/s;"
        f" {emitted} AccountUpdated; consumed+relayed {t2 - t0:.1f}s = {n / (t2 - t0):,.0f} facts/s"
    )
    await bus.stop()
    await container.stop()
    await drop_database(url)


if __name__ == "__main__":
    asyncio.run(
        main(
            int(sys.argv[1]) if len(sys.argv) > 1 else 50_000, int(sys.argv[2]) if len(sys.argv) > 2 else 200
        )
    )
