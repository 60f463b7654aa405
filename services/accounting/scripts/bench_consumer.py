"""Accounting consumer throughput and CPU per fact on a real PostgreSQL with the in-process bus (not a test).

    PG_URL_BASE=postgresql+asyncpg://postgres@127.0.0.1:55432 \\
        .venv/bin/python services/accounting/scripts/bench_consumer.py [facts] [enterprises] [batch]

Publishes pilot-shaped facts (keyed by credit code, 8 indicators per enterprise-month from 4
departments), then times from the first delivery until the consumer has drained them and the
outbox is flushed. ``ORDER=dept`` (the default, the pilot's order): month by month, one
department's submission after the other, so an enterprise-month's facts arrive in up to four
places in the stream; ``ORDER=month``: each enterprise-month's facts together (the best case).
``batch`` is the subscription's ``max_batch`` (default: the service's setting).

Prints wall-clock facts/s and, the steadier figures on a shared machine, this process's CPU and
the CPU of the PostgreSQL backends serving it (Linux ``/proc``) per fact, and the number of
``AccountUpdated`` published per enterprise-month. ``VARIED=1`` mixes industries, families,
values, attributes, self-declared facts and corrections; ``DIGEST=1`` prints digests of the
stored accounts and the published events (compare base and new on the same input). ``PROFILE=1`` wraps the consume phase in
pyinstrument and prints the call tree.
"""

from __future__ import annotations

import asyncio
import hashlib
import itertools
import os
import random
import sys
import time
import uuid
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import orjson
from stdnum.cn import uscc

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

#: (department kind, indicator, unit): a power plant's month; the last family is not accounted
INDICATORS = [
    ("stats", "energy.raw_coal", "t"),
    ("stats", "energy.natural_gas", "1e4 Nm3"),
    ("stats", "energy.diesel", "t"),
    ("stats", "heat.purchased", "GJ"),
    ("stats", "production.power_supplied", "MWh"),
    ("grid", "electricity.purchased", "MWh"),
    ("tax", "finance.revenue", "10k CNY"),
    ("eeb", "compliance.env_penalty", "count"),
]
DEPARTMENTS = ("stats", "grid", "tax", "eeb")
#: ``VARIED=1``: industries of every method, other families, random values, grid regions,
#: self-declared facts and corrections (the input for result digests, ``DIGEST=1``)
VARIED_INDUSTRIES = ("4411", "3120", "2521", "3011", "3216", "2614")
VARIED_EXTRA = [
    ("stats", "production.crude_steel", "t"),
    ("stats", "production.clinker", "t"),
    ("stats", "process.carbonate", "t"),
    ("grid", "electricity.exported", "MWh"),
    ("grid", "electricity.green_purchased", "MWh"),
    ("stats", "heat.exported", "GJ"),
    ("stats", "finance.value_added", "10k CNY"),
    ("eeb", "emissions.verified", "tCO2"),
]


def codes(n: int) -> list[str]:
    out = []
    for i in range(n):
        base = f"91140400{i:09d}"
        out.append(base + uscc.calc_check_digit(base))
    return out


def facts(n: int, enterprises: int) -> tuple[list[EnterpriseRegistered], list[FactRecorded]]:
    ents = codes(enterprises)
    directory = [
        EnterpriseRegistered(
            credit_code=c,
            name="e",
            region_code="140400",
            industry_code="4411",
            size_class="large",
            transition_stage="mid",
        )
        for c in ents
    ]
    by_dept = os.environ.get("ORDER", "dept") != "month"
    out: list[FactRecorded] = []
    now = datetime.now(UTC)
    periods = [f"{y}-{m:02d}" for y in range(2021, 2040) for m in range(1, 13)]

    varied = bool(os.environ.get("VARIED"))
    rng = random.Random(7)
    if varied:  # every accounting method, and a deterministic mix of the cases the figures branch on
        directory = [
            d.model_copy(update={"industry_code": VARIED_INDUSTRIES[i % 6]}) for i, d in enumerate(directory)
        ]
    indicators = INDICATORS + VARIED_EXTRA if varied else INDICATORS

    def fact(code: str, period: str, kind: str, indicator: str, unit: str, revision: int = 1) -> FactRecorded:
        rid = f"{code}-{period}-{indicator}"
        dept = f"{kind}-140400"
        value, attributes, authoritative = Decimal("123.45"), {}, True
        if varied:
            value = Decimal(f"{rng.randint(0, 10**6)}.{rng.randint(0, 999):03d}")
            if indicator.startswith("electricity.") and rng.random() < 0.5:
                attributes = {"grid_region": rng.choice(["shanxi", "north_china", "national"])}
            if kind == "stats" and rng.random() < 0.1:
                dept, authoritative = "self-140400", False
        return FactRecorded(
            fact_id=uuid.uuid4().hex,
            fact_key=f"{dept}/{rid}",
            revision=revision,
            credit_code=code,
            department=dept,
            record_id=rid,
            indicator=indicator,
            period=period,
            value=value,
            unit=unit,
            attributes=attributes,
            evidence_hash=uuid.uuid4().hex,
            authoritative=authoritative,
            recorded_at=now,
        )

    for period in periods:
        start = len(out)
        if by_dept:  # one submission per department and month, as departments report
            for kind in DEPARTMENTS:
                for code in ents:
                    out.extend(fact(code, period, k, ind, u) for k, ind, u in indicators if k == kind)
        else:
            for code in ents:
                out.extend(fact(code, period, k, ind, u) for k, ind, u in indicators)
        if varied:  # a few corrections of this month's facts, late (with the next month)
            month = out[start:]
            out.extend(
                f.model_copy(update={"revision": 2, "value": f.value + 1, "fact_id": uuid.uuid4().hex})
                for f in rng.sample(month, len(month) // 50)
            )
        if len(out) >= n:
            break
    return directory, out[:n]


async def backend_cpu(url: str) -> dict[int, float]:
    """CPU seconds used so far by each PostgreSQL backend of the bench database (``/proc``)."""
    import asyncpg

    conn = await asyncpg.connect(url.replace("postgresql+asyncpg://", "postgresql://"))
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


def _asyncpg_url(url: str) -> str:
    return url.replace("postgresql+asyncpg://", "postgresql://")


async def pgss(url: str, reset: bool) -> list[tuple[float, int, int, str]]:
    """This database's pg_stat_statements (exec ms, calls, rows, query), after an optional reset."""
    import asyncpg

    conn = await asyncpg.connect(_asyncpg_url(url))
    try:
        await conn.execute("CREATE EXTENSION IF NOT EXISTS pg_stat_statements")
        dbid = await conn.fetchval("SELECT oid FROM pg_database WHERE datname = current_database()")
        if reset:
            await conn.execute("SELECT pg_stat_statements_reset(0, $1, 0)", dbid)
            return []
        rows = await conn.fetch(
            "SELECT total_exec_time, calls, rows, query FROM pg_stat_statements WHERE dbid = $1"
            " ORDER BY total_exec_time DESC",
            dbid,
        )
    finally:
        await conn.close()
    return [(r[0], r[1], r[2], r[3]) for r in rows]


async def digests(url: str, records: list[Any]) -> str:
    """md5 of every column of ``accounts`` but ``updated_at`` (ordered by key), and md5 of the
    ``AccountUpdated`` records (key and value bytes, per key by period and version): equal digests on the same
    input are the proof that a change kept the results (``DIGEST=1``)."""
    import asyncpg

    conn = await asyncpg.connect(_asyncpg_url(url))
    try:
        accounts = await conn.fetchval(
            "SELECT md5(string_agg(t::text, '|' ORDER BY t.credit_code, t.period)) FROM"
            " (SELECT credit_code, period, industry_code, method, calculation_version, scope1_combustion_tco2,"
            " scope1_process_tco2, scope2_location_tco2, scope2_market_tco2, scope3_tco2, total_tco2,"
            " output_quantity, output_unit, intensity_per_output, revenue_10k_cny, intensity_per_revenue,"
            " value_added_10k_cny, intensity_per_value_added, data_quality_score, fact_count, factor_set,"
            " verified_tco2, verified_by, computed_from, verification_tolerance FROM accounts) t"
        )
        n_accounts = await conn.fetchval("SELECT count(*) FROM accounts")
    finally:
        await conn.close()
    # in (period, calculation_version) order per key: the bench's final relay_once loop runs beside
    # the background relay, and two relays (SKIP LOCKED) may publish a key's events out of order
    by_key: dict[bytes, list[tuple[str, int, bytes]]] = {}
    for r in records:
        body = orjson.loads(r.value or b"{}")
        by_key.setdefault(r.key or b"", []).append(
            (body["period"], body["calculation_version"], r.value or b"")
        )
    events = hashlib.md5()
    # restatements: an event equal to the month's previous one but for the version would be waste
    # (there should be none); an event whose fact count did not grow is a correction's
    repeated = same_count = 0
    for key in sorted(by_key):
        ordered = sorted(by_key[key])
        events.update(key + b"\0" + b"\0".join(v for _, _, v in ordered) + b"\n")
        for (p0, _, v0), (p1, _, v1) in itertools.pairwise(ordered):
            if p0 == p1:
                a, b = orjson.loads(v0), orjson.loads(v1)
                same_count += a["fact_count"] == b["fact_count"]
                a.pop("calculation_version"), b.pop("calculation_version")
                repeated += a == b
    return (
        f"accounts {n_accounts} {accounts}; events {len(records)} {events.hexdigest()}"
        f" (repeated unchanged: {repeated}; same fact count as the previous: {same_count})"
    )


async def main(n: int, enterprises: int, batch: int) -> None:
    url = await fresh_database("acct_bench")
    await upgrade_head(Path(carbon_accounting.__file__).parent / "migrations", url)
    ents, fs = facts(n, enterprises)
    months = len({(f.credit_code, f.period) for f in fs})
    bus = InMemoryBus(partitions=6)
    settings = Settings(postgres=PostgresSettings(url=url), max_batch=batch)  # type: ignore[arg-type]
    container = bootstrap(settings, bus=bus)
    await container.start()
    if os.environ.get("BENCH_GC_TUNING", "1") != "0":
        tune_gc()  # what the services do after start-up (docs/performance-notes.md)
    await bus.publish([to_record(Envelope(data=e, source="/ingest")) for e in ents])
    await bus.start()
    await bus.drain(timeout=3600)  # the directory first, not timed
    await bus.publish([to_record(Envelope(data=f, source="/ingest")) for f in fs])
    profiler = None
    if os.environ.get("PROFILE"):
        from pyinstrument import Profiler

        profiler = Profiler(async_mode="enabled")
        profiler.start()
    use_pgss = bool(os.environ.get("PGSS"))
    if use_pgss:
        await pgss(url, reset=True)
    pg0 = await backend_cpu(url)
    t0, c0 = time.perf_counter(), time.process_time()
    await bus.drain(timeout=3600)
    while await container.runtime.relay.relay_once():
        pass
    t1, c1 = time.perf_counter(), time.process_time()
    pg1 = await backend_cpu(url)
    if profiler is not None:
        profiler.stop()
        profiler.print(show_all=False)
    pg_cpu = sum(v - pg0.get(pid, 0.0) for pid, v in pg1.items())
    if use_pgss:
        stats = [s for s in await pgss(url, reset=False) if "pg_stat_statements" not in s[3]]
        total = sum(s[0] for s in stats)
        print(f"pg_stat_statements: total exec {total:.0f} ms = {total / n * 1000:.1f} µs/fact")
        for ms, calls, rows, query in stats[:8]:
            print(
                f"  {ms:8.0f} ms {ms / n * 1000:6.1f} µs/fact {calls:6d} calls {rows:8d} rows  {query[:90]}"
            )
    emitted = len(bus.records(Topics.ACCOUNTS))
    if os.environ.get("DIGEST"):
        print(f"digests: {await digests(url, bus.records(Topics.ACCOUNTS))}")
    print(
        f"ORDER={os.environ.get('ORDER', 'dept')} batch {batch}: {n} facts, {enterprises} enterprises,"
        f" {months} enterprise-months: consumed+relayed in {t1 - t0:.1f}s = {n / (t1 - t0):,.0f} facts/s;"
        f" CPU {(c1 - c0) / n * 1e6:.1f} µs/fact (PostgreSQL backends {pg_cpu / n * 1e6:.1f} µs/fact);"
        f" {emitted} AccountUpdated = {emitted / months:.2f} per enterprise-month"
    )
    await bus.stop()
    await container.stop()
    if os.environ.get("KEEP"):  # keep the database for EXPLAIN and the like
        print(f"kept {url}")
    else:
        await drop_database(url)


if __name__ == "__main__":
    args = [int(a) for a in sys.argv[1:]]
    asyncio.run(main(*(args + [50_000, 200, Settings().max_batch][len(args) :])))
