"""Benchmark (not a test): ingest's PostgreSQL cost per statement over a pilot replay.

Replays ``generate(seed, enterprises, months)`` through the service layer in Kafka-sized batches
(submissions grouped until ``--batch`` records, one transaction each: ``apply_submissions`` +
``append_to_chain``, as the Kafka consumer does), with a pinned clock and (by default) sequential ids, then
prints pg_stat_statements' exec time per statement of this run's database (a diff of two
snapshots: the shared statistics are never reset; the ANALYZE the bench runs every
``--analyze-every`` transactions, standing in for autovacuum, left out; only when pg_stat_statements is loaded),
the process's and the database backends' CPU µs per record, and a digest of the results (facts, chain, heads,
quality flags, the ``ingest.facts.v1`` and directory events) to compare two versions of the code byte for byte;
then checks the credit stream (every credit-family event copied exactly, nothing else;
``--no-extra-streams`` publishes the main stream only, to see what the copies cost). Needs ``PG_URL_BASE``.
Usage::

    PG_URL_BASE=postgresql+asyncpg://postgres@127.0.0.1:55432 \
        .venv/bin/python services/ingest/bench/bench_pg_replay.py --enterprises 200 --months 45
"""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import hashlib
import itertools
import logging
import re
import resource
import time
from datetime import UTC, datetime
from pathlib import Path

import asyncpg

import carbon_ingest
from carbon_bureau.pilot.generator import generate
from carbon_common.bus.memory import InMemoryBus
from carbon_common.db import new_id
from carbon_common.migrations import upgrade_head
from carbon_common.settings import PostgresSettings
from carbon_common.testing import drop_database, fresh_database
from carbon_ingest.bootstrap import bootstrap
from carbon_ingest.domain.records import RawRecord
from carbon_ingest.service_layer.commands import RecordSubmission, RegisterEnterprise
from carbon_ingest.service_layer.enterprises import register_enterprise
from carbon_ingest.service_layer.submissions import Clock, append_to_chain, apply_submissions
from carbon_ingest.settings import Settings

RECORD_FIELDS = ("record_id", "credit_code", "indicator", "period", "value", "unit", "attributes")
NOW = datetime(2026, 1, 15, 8, 0, tzinfo=UTC)
_SNAPSHOT = """
SELECT queryid, calls, total_exec_time, rows, shared_blks_hit + shared_blks_read, query FROM pg_stat_statements s
JOIN pg_database d ON d.oid = s.dbid WHERE d.datname = $1
"""
#: the results that must not change, in a stable order (ids are sequential: same input, same ids)
_DIGEST = [
    "SELECT fact_id, department, record_id, revision, credit_code, indicator, period, value::text, unit,"
    " original_value, original_unit, attributes::text, authoritative, content_hash, evidence_hash"
    " FROM facts ORDER BY fact_id",
    "SELECT seq, fact_id, prev_hash, entry_hash FROM evidence ORDER BY seq",
    "SELECT department, record_id, revision, content_hash, fact_id, credit_code, indicator, period,"
    " value::text, authoritative FROM fact_heads ORDER BY department, record_id",
    'SELECT credit_code, period, indicator, "check", department, value::text, reference_departments,'
    " reference_value::text, relative_difference::text, tolerance::text FROM quality_flags"
    ' ORDER BY credit_code, period, indicator, "check", department',
    # the ingest.facts.v1 stream and the directory's events (comparable with the code from before the
    # credit stream existed); the credit stream is checked against it below
    "SELECT topic, key, value FROM outbox WHERE topic <> 'ingest.credit-facts.v1' ORDER BY id",
]
#: the credit stream's rows that are not an exact copy (id, key, value, headers) of a fact event of
#: the credit families, and the fact events of those families without their copy (both must be 0)
_CREDIT_MISMATCH = """
WITH f AS (SELECT event_id, key, value, headers FROM outbox WHERE topic = 'ingest.facts.v1'
           AND convert_from(value, 'UTF8')::jsonb ->> 'indicator' ~ '^(compliance|ets|transition|finance)[.]'),
     c AS (SELECT event_id, key, value, headers FROM outbox WHERE topic = 'ingest.credit-facts.v1')
SELECT (SELECT count(*) FROM (SELECT * FROM c EXCEPT ALL SELECT * FROM f) x),
       (SELECT count(*) FROM (SELECT * FROM f EXCEPT ALL SELECT * FROM c) y),
       (SELECT count(*) FROM c)
"""


def _dsn(url: str) -> str:
    return re.sub(r"^postgresql\+asyncpg://", "postgresql://", url)


async def _snapshot(conn: asyncpg.Connection, db: str) -> dict[int, tuple[int, float, int, int, str]]:
    return {r[0]: (r[1], r[2], r[3], r[4], r[5]) for r in await conn.fetch(_SNAPSHOT, db)}


async def _backend_cpu(conn: asyncpg.Connection, db: str) -> float:
    """User+system CPU seconds of the database's backends (from /proc: the server is local)."""
    total = 0.0
    for (pid,) in await conn.fetch("SELECT pid FROM pg_stat_activity WHERE datname = $1", db):
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()
        except OSError:
            continue
        total += (int(fields[11]) + int(fields[12])) / 100
    return total


async def main(args: argparse.Namespace) -> None:
    logging.disable(logging.INFO)
    data = generate(args.seed, args.enterprises, args.months)
    url = await fresh_database("ingest_pgbench")
    db = url.rpartition("/")[2]
    await upgrade_head(Path(carbon_ingest.__file__).parent / "migrations", url)
    admin = await asyncpg.connect(_dsn(url))
    await admin.execute("CREATE EXTENSION IF NOT EXISTS pg_stat_statements")
    try:  # without pg_stat_statements loaded, only the CPU figures and the digest
        await _snapshot(admin, db)
        statements = True
    except asyncpg.ObjectNotInPrerequisiteStateError:
        statements = False
        print("pg_stat_statements is not loaded (shared_preload_libraries): no per-statement figures")
    if args.no_autovacuum:  # the worst case of a replay: nothing vacuumed (no index-only scans)
        for (table,) in await admin.fetch("SELECT tablename FROM pg_tables WHERE schemaname = 'public'"):
            await admin.execute(f'ALTER TABLE "{table}" SET (autovacuum_enabled = false)')
    ids = itertools.count()
    # ids: sequential (reproducible: the results digest compares two versions of the code), the
    # service's own (time-ordered) or random version-4 ones (what the service used before)
    id_source = {"seq": lambda: f"{next(ids):036d}", "service": Clock().new_id, "uuid4": new_id}[args.ids]
    clock = Clock(now=lambda: NOW, new_id=id_source)
    bus = InMemoryBus()
    container = bootstrap(Settings(postgres=PostgresSettings(url=url)), bus=bus, clock=clock)
    catalogue = container.catalogue
    if args.no_extra_streams:  # what the credit stream's copies cost, on the same code
        catalogue = dataclasses.replace(catalogue, streams={})
    await container.start()
    await bus.start()
    try:
        for e in data.enterprises:
            await register_enterprise(RegisterEnterprise(**e), container.uow())
        groups: list[list[RecordSubmission]] = [[]]
        size = 0
        for s in data.submissions:
            if size >= args.batch:
                groups.append([])
                size = 0
            raw = [
                RawRecord(**{k: r.get(k) for k in RECORD_FIELDS}) for r in s["records"] if isinstance(r, dict)
            ]
            groups[-1].append(RecordSubmission(s["department"], raw, channel="kafka"))
            size += len(raw)
        records = sum(size for size in (len(c.records) for g in groups for c in g))
        before = await _snapshot(admin, db) if statements else {}
        cpu0 = await _backend_cpu(admin, db)
        ru0 = resource.getrusage(resource.RUSAGE_SELF)
        t0 = time.perf_counter()
        for n, g in enumerate(groups):
            if n % args.analyze_every == args.analyze_every - 1:
                await admin.execute("ANALYZE")  # what autovacuum would do: plans follow the data
            async with container.uow() as uow:
                applied = await apply_submissions(g, uow, catalogue, clock, [None] * len(g))
                await append_to_chain(uow, catalogue, [a for _, a in applied])
                await uow.commit()
        wall = time.perf_counter() - t0
        ru1 = resource.getrusage(resource.RUSAGE_SELF)
        cpu1 = await _backend_cpu(admin, db)
        after = await _snapshot(admin, db) if statements else {}
    finally:
        await bus.stop()
        await container.stop()
    rows = []
    for qid, (calls, ms, n, blocks, query) in after.items():
        c0, ms0, n0, b0, _ = before.get(qid, (0, 0.0, 0, 0, ""))
        if calls - c0 and not query.startswith("ANALYZE"):
            rows.append((ms - ms0, calls - c0, n - n0, blocks - b0, " ".join(query.split())[:90]))
    rows.sort(reverse=True)
    total = sum(r[0] for r in rows)
    print(f"records {records} in {len(groups)} transactions, wall {wall:.1f} s")
    client = ru1.ru_utime + ru1.ru_stime - ru0.ru_utime - ru0.ru_stime
    print(f"client CPU {client:.1f} s ({client / records * 1e6:.1f} µs per record), "
          f"backend CPU (pool backends alive at the end) {cpu1 - cpu0:.1f} s "
          f"({(cpu1 - cpu0) / records * 1e6:.1f} µs per record)")  # fmt: skip
    if statements:
        print(
            f"pg_stat_statements exec total {total / 1000:.2f} s ({total / records * 1000:.1f} ms per 1,000 records)"
        )
    for ms, calls, n, blocks, q in rows[:14]:
        print(
            f"{ms / 1000:7.2f} s {calls:5d} calls {ms / calls:7.2f} ms/call {n:7d} rows {blocks:8d} buffers  {q}"
        )
    digest = hashlib.sha256()
    for q in _DIGEST:
        for r in await admin.fetch(q):
            digest.update(repr(tuple(r)).encode())
    extra, missing, copies = await admin.fetchrow(_CREDIT_MISMATCH)
    print(
        f"credit stream: {copies} rows, {extra} not a copy of a credit-family fact event, {missing} missing"
    )
    flags = await admin.fetchval("SELECT count(*) FROM quality_flags WHERE \"check\" = 'plausibility'")
    print(f"plausibility flags {flags}; results digest {digest.hexdigest()}")
    await admin.close()
    if not args.keep:
        await drop_database(url)
    else:
        print(f"kept database {db}")


if __name__ == "__main__":
    p = argparse.ArgumentParser()
    p.add_argument("--seed", type=int, default=2021)
    p.add_argument("--enterprises", type=int, default=200)
    p.add_argument("--months", type=int, default=45)
    p.add_argument("--batch", type=int, default=500)
    p.add_argument("--keep", action="store_true")
    p.add_argument("--no-autovacuum", action="store_true")
    p.add_argument("--ids", choices=["seq", "service", "uuid4"], default="seq", help="fact/submission ids")
    p.add_argument(
        "--no-extra-streams",
        action="store_true",
        help="publish ingest.facts.v1 only (no credit-stream copies)",
    )
    p.add_argument("--analyze-every", type=int, default=20, help="ANALYZE after this many transactions")
    asyncio.run(main(p.parse_args()))
