"""Rating's consumer throughput on the generated pilot, replayed in the pipeline's order (issue 6).

Run (about a minute; PG from ``bureau stack env``)::

    eval "$(.venv/bin/bureau stack env)"
    .venv/bin/python services/rating/benchmarks/bench_replay.py [--warm 24] [--months 6] [--batch 500]

What it does:

1. Generates the pilot (``carbon_bureau.pilot.generator``, seed 2021: 1,122 enterprises × 45
   months, 425k records). This is a *script*: services never import apps, but a benchmark outside
   the package may (import-linter only checks the packages themselves).
2. Turns the stream into rating's inputs the way the pipeline does: every accepted record is a
   ``FactRecorded`` (corrections are new revisions of the same ``fact_key``, duplicates and
   malformed records produce nothing), and accounting is emulated batch by batch: each chunk of
   500 accepted facts (accounting's consumer batch) emits one ``AccountUpdated`` per
   (enterprise, period) it touched, with the running account of that period (scope 1 combustion
   and process, grid scope 2 and heat from the pilot's factor table; output = the profile's
   production indicator; revenue = ``finance.revenue``) and ``calculation_version`` + 1. That
   gives ≈ 3.3 account updates per enterprise-month, as accounting's own replay does.
3. Fresh database on the shared PostgreSQL, rating bootstrapped with its outbox relay running on an
   in-process bus. Arrival slots ``< --warm`` are loaded directly through the repository (not
   timed) and rated once (``rerate_all``), so the timed part runs with a realistic 24-month history.
4. Timed: the next ``--months`` slots, in stream order (each accounting chunk's facts, then its
   account updates), cut into consumer batches of ``--batch`` events, each decoded with the
   subscription's decoder (``rating_decoder``) and put through rating's real batch handler (with the
   container's input cache: upserts, re-rating of the enterprises whose inputs changed, outbox;
   code versions before the third pass also claim every event in the inbox). Before timing, the benchmark's
   own heap (the stream, the warm-up's objects) is frozen out of the cyclic collector: a service
   process has no such heap, and one full collection over it cost ~0.65 s of the timed part.

Facts go to the facts topic the code under test subscribes to (``ingest.credit-facts.v1`` since
the fifth pass; ``ingest.facts.v1`` before). ``--stream all`` (default) replays every fact, as
the old stream carried them, so that rating's own CPU can be compared with code from before the
credit stream on the same input; ``--stream credit`` replays only the credit families
(``compliance.``, ``ets.``, ``transition.``, ``finance.``), as ``ingest.credit-facts.v1`` carries
them: fewer inputs, other batches, so other intermediate ratings and another digest.

The built stream is cached as encoded records in ``--cache-dir`` (``/tmp``; ~450 MB; delete it
after a generator change).

Prints inputs/s, ratings/s, CPU seconds of this process (handler + relay) per 1,000 inputs and
PostgreSQL backend CPU when readable (``/proc`` of the backends), the statements' execution time of
the bench database over the timed part from ``pg_stat_statements`` (total and the most expensive
statements: ``BENCH_STATEMENTS`` of them, default 8), the input cache's counters, and a digest of every rating issued (ids, scores, labels,
details, issued_at) so that two code versions can be checked to rate bit for bit the same.
``--profile out.html`` wraps the timed part in pyinstrument.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import hashlib
import os
import pickle
import time
from collections import Counter, defaultdict
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import asyncpg
import orjson

from carbon_bureau.pilot.catalogue import CATALOGUE, GRID, department_kind, to_canonical
from carbon_bureau.pilot.factors import COMBUSTION, FACTORS, PROCESS, grid_factor
from carbon_bureau.pilot.generator import generate
from carbon_bureau.pilot.industries import INDUSTRIES, PROFILES
from carbon_common.bus.memory import InMemoryBus
from carbon_common.bus.port import Decoded, Record, envelope_decoder, to_record
from carbon_common.events import AccountUpdated, EnterpriseRegistered, Envelope, FactRecorded, Topics
from carbon_common.migrations import upgrade_head
from carbon_common.testing import drop_database, fresh_database
from carbon_rating.bootstrap import bootstrap
from carbon_rating.service_layer.consumers import _account, _enterprise, _fact, keeps, make_batch_handler

try:  # the subscription's decoder; older code versions (a base to compare with) decode everything
    from carbon_rating.service_layer.consumers import rating_decoder
except ImportError:  # pragma: no cover
    rating_decoder = envelope_decoder
from carbon_rating.service_layer.handlers import rerate_all
from carbon_rating.settings import Settings

try:  # the facts stream the code under test subscribes to (before: every fact on ingest.facts.v1)
    from carbon_rating.bootstrap import CONSUMED_TOPICS

    FACT_TOPIC = getattr(Topics, "CREDIT_FACTS", Topics.FACTS)
    FACT_TOPIC = FACT_TOPIC if FACT_TOPIC in CONSUMED_TOPICS else Topics.FACTS
except ImportError:  # pragma: no cover
    FACT_TOPIC = Topics.FACTS
#: the indicator families ingest copies to ``ingest.credit-facts.v1``
CREDIT_FAMILIES = ("compliance.", "ets.", "transition.", "finance.")


def credit_family(r: Record) -> bool:
    return str(orjson.loads(r.value or b"{}").get("indicator", "")).startswith(CREDIT_FAMILIES)


MIGRATIONS = Path(__file__).resolve().parents[1] / "src" / "carbon_rating" / "migrations"
ACCOUNTING_BATCH = 500
T0 = datetime(2026, 1, 1, tzinfo=UTC)
PROFILE_OF = {i.code: i.profile for i in INDUSTRIES}


class AccountingEmulator:
    """Running monthly accounts per (enterprise, period) from the accepted facts seen so far."""

    def __init__(self, industry: dict[str, str]) -> None:
        self.industry = industry
        self.facts: dict[tuple[str, str], dict[str, tuple[str, Decimal]]] = defaultdict(dict)
        self.version: Counter[tuple[str, str]] = Counter()

    def apply(self, fact_key: str, code: str, period: str, indicator: str, dept: str, value: Decimal) -> bool:
        relevant = (
            indicator in COMBUSTION
            or indicator in PROCESS
            or indicator in ("heat.purchased", "electricity.purchased", "finance.revenue")
            or indicator.startswith("production.")
        )
        if relevant:
            self.facts[(code, period)][fact_key] = (
                indicator,
                value
                if indicator != "electricity.purchased" or department_kind(dept) == GRID
                else Decimal(-1),
            )
        return relevant

    def account(self, code: str, period: str) -> AccountUpdated:
        s1c = s1p = s2 = Decimal(0)
        output = revenue = Decimal(0)
        has_output = False
        prod = PROFILES[PROFILE_OF[self.industry[code]]].output
        for indicator, value in self.facts[(code, period)].values():
            if indicator in COMBUSTION:
                s1c += value * FACTORS[indicator].value
            elif indicator in PROCESS:
                s1p += value * FACTORS[indicator].value
            elif indicator == "heat.purchased":
                s2 += value * FACTORS[indicator].value
            elif indicator == "electricity.purchased":
                if value >= 0:  # grid-metered only
                    s2 += value * grid_factor(int(period[:4])).value
            elif indicator == "finance.revenue":
                revenue += value
            elif indicator == prod:
                output += value
                has_output = True
        self.version[(code, period)] += 1
        total = s1c + s1p + s2
        return AccountUpdated(
            credit_code=code,
            period=period,
            industry_code=self.industry[code],
            scope1_combustion_tco2=s1c,
            scope1_process_tco2=s1p,
            scope2_location_tco2=s2,
            total_tco2=total,
            output_quantity=output if has_output else None,
            output_unit=prod.split(".", 1)[1] if has_output and prod else None,
            revenue_10k_cny=revenue or None,
            data_quality_score=Decimal(2) if has_output else Decimal(3),
            fact_count=len(self.facts[(code, period)]),
            factor_set="pilot@1",
            calculation_version=self.version[(code, period)],
        )


def build_stream(seed: int) -> tuple[list[EnterpriseRegistered], list[list[Envelope[Any]]], dict[str, int]]:
    """Enterprises, and per arrival slot the events rating consumes, in pipeline order."""
    ds = generate(seed)
    bad = {(m["department"], m["record_id"]) for m in ds.expectations["malformed"]}
    ents = [EnterpriseRegistered(**e) for e in ds.enterprises]
    acc = AccountingEmulator({e.credit_code: e.industry_code for e in ents})
    seen: dict[tuple[str, str], dict[str, Any]] = {}
    revision: Counter[str] = Counter()
    by_slot: dict[int, list[tuple[str, str, str, str, Decimal, FactRecorded]]] = defaultdict(list)
    n = 0
    for slot, batch in zip(ds.slots, ds.submissions, strict=True):
        dept = batch["department"]
        for rec in batch["records"]:
            key = (dept, rec["record_id"])
            if key in bad or seen.get(key) == rec:
                continue
            seen[key] = rec
            fact_key = f"{dept}/{rec['record_id']}"
            revision[fact_key] += 1
            ind = rec["indicator"]
            value = to_canonical(ind, Decimal(rec["value"]), rec["unit"])
            n += 1
            f = FactRecorded(
                fact_id=f"f{n}",
                fact_key=fact_key,
                revision=revision[fact_key],
                credit_code=rec["credit_code"],
                department=dept,
                record_id=rec["record_id"],
                indicator=ind,
                period=rec["period"],
                value=value,
                unit=next(iter(CATALOGUE[ind].units)),
                attributes=rec.get("attributes") or {},
                evidence_hash="0" * 64,
                recorded_at=T0 + timedelta(seconds=n / 1000),
            )
            by_slot[slot].append((fact_key, rec["credit_code"], rec["period"], dept, value, f))
    slots: list[list[Envelope[Any]]] = []
    counts: Counter[str] = Counter()
    clock = 0
    for slot in range(max(by_slot) + 1):
        out: list[Envelope[Any]] = []
        rows = by_slot.get(slot, [])
        for start in range(0, len(rows), ACCOUNTING_BATCH):
            touched: set[tuple[str, str]] = set()
            for fact_key, code, period, dept, value, f in rows[start : start + ACCOUNTING_BATCH]:
                clock += 1
                out.append(Envelope(data=f, source="/ingest", time=T0 + timedelta(milliseconds=clock)))
                counts["facts"] += 1
                counts["facts_kept"] += keeps(f.indicator)
                if acc.apply(fact_key, code, period, f.indicator, dept, value):
                    touched.add((code, period))
            for code, period in sorted(touched):
                clock += 1
                out.append(
                    Envelope(
                        data=acc.account(code, period),
                        source="/accounting",
                        time=T0 + timedelta(milliseconds=clock),
                    )
                )
                counts["accounts"] += 1
        slots.append(out)
    return ents, slots, dict(counts)


async def backend_cpu(dsn: str) -> float | None:
    """CPU seconds of every backend connected to the bench database (None if /proc is not ours)."""
    conn = await asyncpg.connect(dsn)
    try:
        pids = [
            r[0]
            for r in await conn.fetch("SELECT pid FROM pg_stat_activity WHERE datname = current_database()")
        ]
    finally:
        await conn.close()
    total = 0.0
    tick = os.sysconf("SC_CLK_TCK")
    for pid in pids:
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            return None
        total += (int(fields[11]) + int(fields[12])) / tick
    return total


async def statements_ms(dsn: str) -> dict[str, tuple[int, float]] | None:
    """Per statement of the bench database: (calls, total execution time in ms) from
    ``pg_stat_statements`` (read through the ``postgres`` database, where the stack installs the
    extension), or None when it is not readable."""
    base, _, name = dsn.rpartition("/")
    try:
        conn = await asyncpg.connect(f"{base}/postgres")
    except (OSError, asyncpg.PostgresError):
        return None
    try:
        rows = await conn.fetch(
            "SELECT s.query, sum(s.calls), sum(s.total_exec_time) FROM pg_stat_statements s "
            "JOIN pg_database d ON d.oid = s.dbid WHERE d.datname = $1 GROUP BY s.query",
            name,
        )
        return {r[0]: (int(r[1]), float(r[2])) for r in rows}
    except asyncpg.PostgresError:
        return None
    finally:
        await conn.close()


def statements_delta(
    before: dict[str, tuple[int, float]], after: dict[str, tuple[int, float]]
) -> list[tuple[float, int, str]]:
    """(ms, calls, query) of what ran in between, most expensive first."""
    out = []
    for q, (calls, ms) in after.items():
        c0, m0 = before.get(q, (0, 0.0))
        if calls > c0:
            out.append((ms - m0, calls - c0, " ".join(q.split())))
    return sorted(out, reverse=True)


async def main(args: argparse.Namespace) -> None:
    t_gen = time.perf_counter()
    # cached as encoded records (bytes): unpickling the pydantic envelopes took ~45 s per run
    cache = Path(args.cache_dir) / f"rating-replay-records-{args.seed}.pickle" if args.cache_dir else None
    slots: list[list[Record]]
    if cache is not None and cache.exists():
        ents, slots, counts = pickle.loads(cache.read_bytes())
    else:
        ents, envelopes, counts = build_stream(args.seed)
        slots = [[to_record(e) for e in s] for s in envelopes]
        del envelopes
        if cache is not None:
            cache.write_bytes(pickle.dumps((ents, slots, counts), protocol=pickle.HIGHEST_PROTOCOL))
    print(
        f"stream: {len(ents):,} enterprises, {counts['facts']:,} FactRecorded "
        f"({counts['facts_kept']:,} in rating's families), {counts['accounts']:,} AccountUpdated, "
        f"{len(slots)} slots; built in {time.perf_counter() - t_gen:.1f}s"
    )
    url = await fresh_database("rating_replay")
    dsn = url.replace("postgresql+asyncpg://", "postgresql://")
    await upgrade_head(MIGRATIONS, url)
    bus = InMemoryBus(partitions=6)
    settings = Settings(
        postgres={"url": url},  # type: ignore[arg-type]
        telemetry={"log_json": False, "log_level": "WARNING", "traces_enabled": False},  # type: ignore[arg-type]
        rerate_interval_seconds=0,
    )
    c = bootstrap(settings, bus=bus)
    await c.start()
    await bus.start()
    decode = envelope_decoder()
    try:
        # --- warm state, not timed: slots < warm straight into the read model, then one full rating
        t_w = time.perf_counter()
        warm = [decode(r) for s in slots[: args.warm] for r in s]
        async with c.uow() as uow:
            await uow.repo.upsert_enterprises([_enterprise(e) for e in ents])
            await uow.commit()
        accts = [_account(e.data) for e in warm if isinstance(e.data, AccountUpdated)]
        facts = [_fact(e.data) for e in warm if isinstance(e.data, FactRecorded) and keeps(e.data.indicator)]
        for rows, write in ((accts, "upsert_accounts"), (facts, "upsert_facts")):
            for i in range(0, len(rows), 5000):
                async with c.uow() as uow:
                    await getattr(uow.repo, write)(rows[i : i + 5000])
                    await uow.commit()
        await rerate_all(c.uow, c.methodology, "bench_warm_up", T0)
        print(
            f"warm-up: slots 0..{args.warm - 1} ({len(accts):,} accounts, {len(facts):,} kept facts) "
            f"loaded and rated in {time.perf_counter() - t_w:.1f}s"
        )

        # --- timed: the next slots through the batch handler, in consumer batches
        handle = make_batch_handler(c.uow, lambda: c.methodology, c.inputs)
        consume = rating_decoder()  # the subscription's decoder (bootstrap), decoding inside the timing
        timed = [r for s in slots[args.warm : args.warm + args.months] for r in s]
        timed = [
            Record(FACT_TOPIC, r.key, r.value, r.headers) if r.topic == Topics.FACTS else r
            for r in timed
            if args.stream == "all" or r.topic != Topics.FACTS or credit_family(r)
        ]
        records = [Record(r.topic, r.key, r.value, r.headers, i % 6, i) for i, r in enumerate(timed)]
        # The stream and the warm-up's objects are the benchmark's, not the service's: keep them out
        # of the cyclic collector's full passes (a service process has no such heap; with it, one
        # full collection took ~0.65 s of the timed part)
        del warm, accts, facts, timed
        gc.collect()
        gc.freeze()
        conn = await asyncpg.connect(dsn)
        n_ratings0 = await conn.fetchval("SELECT count(*) FROM ratings")
        pg0 = await backend_cpu(dsn)
        ms0 = await statements_ms(dsn)
        profiler = None
        if args.profile:
            from pyinstrument import Profiler

            profiler = Profiler(async_mode="enabled")
            profiler.start()
        cpu0, t0 = time.process_time(), time.perf_counter()
        for i in range(0, len(records), args.batch):
            await handle([Decoded(r, consume(r)) for r in records[i : i + args.batch]])
        t_handled = time.perf_counter() - t0
        for _ in range(6000):  # the relay publishes what the batches left in the outbox
            if not await conn.fetchval("SELECT count(*) FROM outbox WHERE published_at IS NULL"):
                break
            await asyncio.sleep(0.05)
        wall, cpu = time.perf_counter() - t0, time.process_time() - cpu0
        if profiler is not None:
            profiler.stop()
            out = Path(args.profile)
            out.write_text(
                profiler.output_text(show_all=False) if out.suffix == ".txt" else profiler.output_html()
            )
        pg1 = await backend_cpu(dsn)
        ms1 = await statements_ms(dsn)
        issued = await conn.fetchval("SELECT count(*) FROM ratings") - n_ratings0
        digest = hashlib.sha256()
        for r in await conn.fetch(
            "SELECT rating_id, credit_code, seq, as_of_period, score::text, label, stage, confidence::text, "
            "vetoes::text, details::text, account_ref, issued_at::text FROM ratings ORDER BY credit_code, seq"
        ):
            digest.update(repr(tuple(r)).encode())
        await conn.close()
        n = len(records)
        n_acc = sum(1 for r in records if r.topic.startswith("accounting"))
        print(
            f"timed: slots {args.warm}..{args.warm + args.months - 1}: {n:,} inputs "
            f"({n_acc:,} AccountUpdated, {n - n_acc:,} FactRecorded on {FACT_TOPIC}, stream "
            f"{args.stream!r}) in batches of {args.batch}"
        )
        print(f"  handler wall {t_handled:.2f}s, incl. outbox relay drained {wall:.2f}s")
        print(f"  {n / wall:,.0f} inputs/s, {issued:,} ratings issued = {issued / wall:,.0f} ratings/s")
        print(f"  CPU (this process): {cpu:.2f}s = {cpu / n * 1000:.3f} CPU-s per 1,000 inputs")
        if pg0 is not None and pg1 is not None:
            print(f"  CPU (PostgreSQL backends): {pg1 - pg0:.2f}s")
        if ms0 is not None and ms1 is not None:
            delta = statements_delta(ms0, ms1)
            total_ms = sum(d[0] for d in delta)
            print(
                f"  PostgreSQL statements (pg_stat_statements total_exec_time): {total_ms / 1000:.2f}s "
                f"= {total_ms / n:.3f} s per 1,000 inputs"
            )
            for ms, calls, q in delta[: int(os.environ.get("BENCH_STATEMENTS", "8"))]:
                print(f"    {ms / 1000:6.2f}s {calls:6,} calls  {q[:110]}")
        inputs = c.inputs
        print(
            f"  input cache: account rows {inputs.hits:,} hits / {inputs.misses:,} read; "
            f"versions known from stamp {getattr(inputs, 'stamp_hits', 0):,}; "
            f"peer months {getattr(inputs, 'peer_hits', 0):,} hits / {getattr(inputs, 'peer_misses', 0):,} read; "
            f"conduct parts {getattr(inputs, 'conduct_hits', 0):,} reused / {getattr(inputs, 'conduct_misses', 0):,} computed"
        )
        print(f"  load average: {os.getloadavg()[0]:.2f}")
        print(f"  ratings digest: {digest.hexdigest()}")
    finally:
        await bus.stop()
        await c.stop()
        if not args.keep:
            await drop_database(url)


if __name__ == "__main__":
    p = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    p.add_argument("--seed", type=int, default=2021)
    p.add_argument("--warm", type=int, default=24, help="arrival slots loaded before timing")
    p.add_argument("--months", type=int, default=6, help="arrival slots replayed while timing")
    p.add_argument("--batch", type=int, default=500, help="consumer batch size (events)")
    p.add_argument(
        "--stream",
        choices=("all", "credit"),
        default="all",
        help="facts in the timed part: every fact (the old ingest.facts.v1, to compare rating's own "
        "CPU with code before the credit stream) or only the credit families (ingest.credit-facts.v1); "
        "either way on the facts topic the code under test subscribes to",
    )
    p.add_argument(
        "--profile", help="write a pyinstrument profile of the timed part here (.txt: text, else HTML)"
    )
    p.add_argument(
        "--cache-dir",
        default="/tmp",
        help="where the built stream is cached between runs (a pickle; '' to rebuild every time)",
    )
    p.add_argument("--keep", action="store_true", help="keep the database")
    asyncio.run(main(p.parse_args()))
