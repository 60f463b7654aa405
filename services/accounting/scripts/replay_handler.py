"""Replay pilot-shaped ``FactRecorded`` events straight into the accounting batch handler (not a test).

    PG_URL_BASE=postgresql+asyncpg://postgres@127.0.0.1:55432 \\
        .venv/bin/python services/accounting/scripts/replay_handler.py [facts] [enterprises] [batch]

No bus: records are encoded once, then decoded and handed to ``batch_handler`` in consumer-sized
batches, in the order departments submit them (month by month, department by department), so an
enterprise-month is touched by several batches as in a real replay. The clock covers decode +
apply + commit of every batch (what the consumer does per ``getmany``); the outbox
relay, which runs beside the consumer, is timed separately. The CPU time of this process is printed
too: on a shared machine it is steadier than the wall clock (PostgreSQL's own CPU is not in it). ``PROFILE=1`` wraps the replay in
pyinstrument (async-aware) and prints the call tree. ``ORDER=month`` groups each enterprise's facts
together instead (the best case: each enterprise-month recomputed about once).
"""

from __future__ import annotations

import asyncio
import os
import sys
import time
import uuid
from collections import defaultdict
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

from stdnum.cn import uscc

import carbon_accounting
from carbon_accounting.adapters.consumer import batch_handler, decode_record
from carbon_accounting.bootstrap import bootstrap
from carbon_accounting.settings import Settings
from carbon_common.bus.memory import InMemoryBus
from carbon_common.bus.port import Decoded, Record, to_record
from carbon_common.db import tune_gc
from carbon_common.events import EnterpriseRegistered, Envelope, FactRecorded, Topics
from carbon_common.migrations import upgrade_head
from carbon_common.settings import PostgresSettings
from carbon_common.testing import drop_database, fresh_database

#: (department kind, indicator, unit, value): what a power plant's month looks like in the pilot
MONTH = [
    ("stats", "energy.raw_coal", "t", "41000"),
    ("stats", "energy.diesel", "t", "12.5"),
    ("stats", "heat.purchased", "GJ", "2000"),
    ("stats", "production.power_supplied", "MWh", "95000.5"),
    ("grid", "electricity.purchased", "MWh", "3100.25"),
    ("grid", "electricity.green_purchased", "MWh", "400"),
    ("tax", "finance.revenue", "10k CNY", "23000"),
    ("eeb", "emissions.verified", "tCO2", "81000"),
    ("eeb", "compliance.env_penalty", "count", "0"),
    ("ets", "ets.surrendered", "t", "0"),
]


def codes(n: int) -> list[str]:
    out = []
    for i in range(n):
        base = f"91140400{i:09d}"
        out.append(base + uscc.calc_check_digit(base))
    return out


def dataset(n: int, enterprises: int) -> tuple[list[Record], list[Record]]:
    ents = codes(enterprises)
    directory = [
        to_record(
            Envelope(
                data=EnterpriseRegistered(
                    credit_code=c,
                    name="长治测试电厂",
                    region_code="140400",
                    industry_code="4411",
                    size_class="large",
                    transition_stage="mid",
                ),
                source="/ingest",
            )
        )
        for c in ents
    ]
    periods = [f"{y}-{m:02d}" for y in range(2021, 2030) for m in range(1, 13)]
    now = datetime.now(UTC)
    facts: list[Record] = []
    for period in periods:
        for kind in ("stats", "grid", "tax", "eeb", "ets"):  # one submission per department and month
            for code in ents:
                for k, indicator, unit, value in MONTH:
                    if k != kind:
                        continue
                    rid = f"{code}-{period}-{indicator}"
                    dept = f"{kind}-140400"
                    event = FactRecorded(
                        fact_id=uuid.uuid4().hex,
                        fact_key=f"{dept}/{rid}",
                        credit_code=code,
                        department=dept,
                        record_id=rid,
                        indicator=indicator,
                        period=period,
                        value=Decimal(value),
                        unit=unit,
                        evidence_hash="sha256:" + uuid.uuid4().hex,
                        recorded_at=now,
                    )
                    facts.append(to_record(Envelope(data=event, source="/ingest")))
                    if len(facts) == n:
                        return directory, facts
    return directory, facts


async def backend_cpu(url: str) -> dict[int, float]:
    """CPU seconds used so far by each PostgreSQL backend of the bench database (Linux ``/proc``;
    empty when the server's processes are not visible from here)."""
    import asyncpg

    dsn = url.replace("postgresql+asyncpg://", "postgresql://")
    conn = await asyncpg.connect(dsn)
    try:
        pids = [
            r["pid"]
            for r in await conn.fetch(
                "SELECT pid FROM pg_stat_activity WHERE datname = current_database() AND pid <> pg_backend_pid()"
            )
        ]
    finally:
        await conn.close()
    out: dict[int, float] = {}
    for pid in pids:
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        out[pid] = (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    return out


def statement_timings(engine: Any) -> dict[str, list[float]]:
    """Wall time per SQL statement (first 70 characters), via SQLAlchemy cursor events."""
    from sqlalchemy import event

    totals: dict[str, list[float]] = defaultdict(lambda: [0, 0.0])

    @event.listens_for(engine.sync_engine, "before_cursor_execute")
    def _before(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        conn.info["t0"] = time.perf_counter()

    @event.listens_for(engine.sync_engine, "after_cursor_execute")
    def _after(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        entry = totals[" ".join(statement.split())[:70]]
        entry[0] += 1
        entry[1] += time.perf_counter() - conn.info["t0"]

    return totals


async def main(n: int, enterprises: int, batch: int) -> None:
    url = await fresh_database("acct_replay")
    await upgrade_head(Path(carbon_accounting.__file__).parent / "migrations", url)
    directory, facts = dataset(n, enterprises)
    if os.environ.get("ORDER") == "month":  # every enterprise-month's facts together (best case)
        facts.sort(key=lambda r: r.key or b"")
    bus = InMemoryBus()
    relay_beside = os.environ.get("RELAY", "1") != "0"  # RELAY=0: relay after the replay, not during
    settings = Settings(postgres=PostgresSettings(url=url), run_workers=relay_beside)  # type: ignore[arg-type]
    container = bootstrap(settings, bus=bus)
    await container.start()
    tune_gc()
    handle = batch_handler(container.uow, container.factor_sets)
    decode = decode_record

    async def replay(records: list[Record]) -> None:
        for i in range(0, len(records), batch):
            await handle([Decoded(r, decode(r)) for r in records[i : i + batch]])

    await replay(directory)
    timings = statement_timings(container.runtime.engine) if os.environ.get("SQL_TIMING") else None
    profiler = None
    if os.environ.get("PROFILE"):
        from pyinstrument import Profiler

        profiler = Profiler(async_mode="enabled")
        profiler.start()
    pg0 = await backend_cpu(url)
    t0, c0 = time.perf_counter(), time.process_time()
    await replay(facts)
    t1, c1 = time.perf_counter(), time.process_time()
    pg1 = await backend_cpu(url)
    pg_cpu = sum(v - pg0.get(pid, 0.0) for pid, v in pg1.items())
    if profiler is not None:
        profiler.stop()
        profiler.print(show_all=False)
    if timings is not None:
        for stmt, (count, secs) in sorted(timings.items(), key=lambda kv: -kv[1][1]):
            print(f"{secs:7.2f}s {count:5d}x  {stmt}")
    while await container.runtime.relay.relay_once():  # the relay runs beside the handler; finish it
        pass
    relayed = len(bus.records(Topics.ACCOUNTS))
    t2 = time.perf_counter()
    print(
        f"{len(facts)} facts, {enterprises} enterprises, batch {batch}: handler {t1 - t0:.2f}s ="
        f" {len(facts) / (t1 - t0):,.0f} facts/s (this process's CPU {c1 - c0:.2f}s ="
        f" {(c1 - c0) / len(facts) * 1e6:.0f} µs/fact; PostgreSQL backends {pg_cpu:.2f}s ="
        f" {pg_cpu / len(facts) * 1e6:.0f} µs/fact); {relayed} AccountUpdated published (relay finished {t2 - t1:.2f}s later)"
    )
    await container.stop()
    await drop_database(url)


if __name__ == "__main__":
    args = [int(a) for a in sys.argv[1:]]
    asyncio.run(main(*(args + [50_000, 1_100, Settings().max_batch][len(args) :])))
