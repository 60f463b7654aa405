"""Lending consumer CPU per 1,000 events, per event type, on a pilot-like mix (issue 6; not a test).

Usage (from the repo root, with ``eval "$(.venv/bin/bureau stack env)"``):

    .venv/bin/python services/lending/bench/bench_consumer.py [--enterprises 300] [--months 12]
        [--batch 50,2000] [--loans 0] [--profile out.txt]

A fresh database on the shared PostgreSQL, migrated to head. The records are encoded up front
the way Kafka delivers them (CloudEvents headers, a W3C ``traceparent``, key = credit code),
then handed to ``carbon_common.bus.processing.process_batch`` with lending's own subscription
(decoder + batch handler, exactly what the bus runs), one topic per call, in batches of the
given size. The pilot-like mix, per enterprise-month (the full pilot: 423k facts, 167k
``AccountUpdated`` and 109k ``RatingIssued`` for 50k enterprise-months):

* facts, on the facts topic the build subscribes to (``ingest.credit-facts.v1`` since the
  credit stream; ``ingest.facts.v1`` for an older build): ``finance.revenue`` and
  ``finance.value_added`` every month, ``finance.total_capex``/``reduction_capex`` every quarter,
  ``total_debt``/``total_equity`` every December, transition milestones planned in January and
  met in December, ETS allocation/verification/surrender every December for a third of the
  enterprises, a compliance fact now and then (≈ 2.7 per enterprise-month: the credit stream,
  134k of the pilot's 423k facts); ``--mix all`` adds 6 account-family facts a month
  (≈ 8.7, the whole facts stream, what lending read before the credit stream);
* 3 ``AccountUpdated`` (calculation versions 1-3: restatements as facts arrive);
* 2 ``RatingIssued`` (the label changes about one time in five).

Every id is derived from the seed, so two builds get the same input: ``--digest`` prints a
digest of the stored read model, loans and outbox payloads (ids and clock columns left out) to
compare them.

The collector is tuned as the service tunes it after start-up (``carbon_common.db.tune_gc``),
with the pre-encoded records frozen too: without it, full collections walking the ~10^6 objects
of the stream were a third of the measured CPU, a cost the service does not have.

Reported per phase (facts, then accounts, then ratings): process CPU seconds per 1,000 events
(the primary figure: the box is shared, wall-clock varies), PostgreSQL backend CPU per 1,000
(the bench's single pooled connection, read from /proc), and wall time. ``--loans N`` books N
carbon-linked loans (a third KPI-linked) first, so repricing work is part of the figures.
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import os
import random
import time
import uuid
from collections.abc import Sequence
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import orjson
from sqlalchemy import insert, text

import carbon_lending
import carbon_lending.bootstrap as lending_bootstrap
from carbon_common.bus.memory import InMemoryBus
from carbon_common.bus.port import Record, Subscription, to_record
from carbon_common.bus.processing import process_batch
from carbon_common.db import tune_gc
from carbon_common.events import (
    AccountUpdated,
    EnterpriseRegistered,
    Envelope,
    FactRecorded,
    RatingIssued,
    Topics,
)
from carbon_common.migrations import upgrade_head
from carbon_common.settings import KafkaSettings, PostgresSettings
from carbon_common.testing import drop_database, fresh_database
from carbon_lending.adapters.orm import loans, quotes
from carbon_lending.bootstrap import Container, bootstrap
from carbon_lending.service_layer import consumers as lending_consumers
from carbon_lending.settings import Settings

MIGRATIONS = Path(carbon_lending.__file__).parent / "migrations"
NON_FINANCE = [
    ("energy.raw_coal", "t"),
    ("energy.natural_gas", "1e4 Nm3"),
    ("electricity.purchased", "MWh"),
    ("heat.purchased", "GJ"),
    ("production.output", "t"),
    ("process.clinker", "t"),
]
LABELS = ["dark_green", "light_green", "yellow", "red"]
T0 = datetime(2024, 1, 1, tzinfo=UTC)


def periods(n: int) -> list[str]:
    return [f"{2021 + i // 12}-{i % 12 + 1:02d}" for i in range(n)]


def traceparent() -> str:
    return f"00-{uuid.uuid4().hex}-{uuid.uuid4().hex[:16]}-01"


def envelope(data: Any, source: str) -> Record:
    return to_record(Envelope(data=data, source=source, traceparent=traceparent()))


def facts_topic() -> str:
    """The facts topic this build of lending reads."""
    subscribed = getattr(lending_consumers, "TOPICS", ())
    return Topics.CREDIT_FACTS if Topics.CREDIT_FACTS in subscribed else Topics.FACTS


def credit_extras(rng: random.Random, i: int, month: int) -> list[tuple[str, str, str]]:
    """The conduct, ETS and transition facts of enterprise ``i`` this month (pilot-like rates)."""
    out = []
    if month == 1:
        out.append(("transition.milestones_planned", "count", "ndrc"))
    if month == 12:
        out.append(("transition.milestones_met", "count", "ndrc"))
        if i % 3 == 0:
            out += [(f"ets.{k}", "t", "ets") for k in ("allocated", "verified", "surrendered")]
    if rng.random() < 0.008:
        out.append(("compliance.env_penalty", "count", "eeb"))
    return out


def dataset(n_ent: int, n_months: int, seed: int = 6, mix: str = "credit") -> dict[str, list[Record]]:
    """Records per phase, in a pilot-like order (month by month, enterprises interleaved)."""
    rng = random.Random(seed)
    topic = facts_topic()

    def uid() -> str:
        return uuid.UUID(int=rng.getrandbits(128)).hex

    codes = [f"91140400{i:09d}X" for i in range(n_ent)]
    directory = [
        envelope(
            EnterpriseRegistered(
                credit_code=c,
                name=f"企业{i}",
                region_code="140400",
                industry_code="4411",
                size_class="large",
                transition_stage="mid",
            ),
            "/ingest",
        )
        for i, c in enumerate(codes)
    ]
    facts: list[Record] = []
    accounts: list[Record] = []
    ratings: list[Record] = []
    label = {c: rng.choice(LABELS[:3]) for c in codes}
    for m, period in enumerate(periods(n_months)):
        month = int(period[5:])
        recorded = T0 + timedelta(days=m)
        for i, c in enumerate(codes):
            inds = [(ind, u, "stats") for ind, u in NON_FINANCE] if mix == "all" else []
            inds += [("finance.revenue", "10k CNY", "tax"), ("finance.value_added", "10k CNY", "stats")]
            if month % 3 == 0:
                inds += [
                    ("finance.total_capex", "10k CNY", "ndrc"),
                    ("finance.reduction_capex", "10k CNY", "ndrc"),
                ]
            if month == 12:
                inds += [("finance.total_debt", "10k CNY", "tax"), ("finance.total_equity", "10k CNY", "tax")]
            inds += credit_extras(rng, i, month)
            for ind, unit, dept in inds:
                rid = uid()
                rec = envelope(
                    FactRecorded(
                        fact_id=rid,
                        fact_key=f"{dept}-140400/{rid}",
                        credit_code=c,
                        department=f"{dept}-140400",
                        record_id=rid,
                        indicator=ind,
                        period=period,
                        value=Decimal(rng.randint(100, 10**6)) / 100,
                        unit=unit,
                        evidence_hash=uid() * 2,
                        recorded_at=recorded,
                    ),
                    "/ingest",
                )
                facts.append(Record(topic, rec.key, rec.value, rec.headers))
        for version in (1, 2, 3):
            for c in codes:
                total = Decimal(rng.randint(10**4, 10**7)) / 1000
                accounts.append(
                    envelope(
                        AccountUpdated(
                            credit_code=c,
                            period=period,
                            industry_code="4411",
                            scope1_combustion_tco2=total,
                            total_tco2=total,
                            output_quantity=Decimal(rng.randint(100, 10**5)),
                            output_unit="t",
                            data_quality_score=Decimal(2),
                            fact_count=8,
                            factor_set="cn-default@1",
                            calculation_version=version,
                        ),
                        "/accounting",
                    )
                )
        for k in (0, 1):
            for c in codes:
                previous = label[c]
                if rng.random() < 0.2:
                    label[c] = rng.choice(LABELS)
                ratings.append(
                    envelope(
                        RatingIssued(
                            rating_id=uid(),
                            credit_code=c,
                            as_of_period=period,
                            score=Decimal(rng.randint(300, 950)) / 10,
                            label=label[c],  # type: ignore[arg-type]
                            previous_label=previous,  # type: ignore[arg-type]
                            transition_stage="mid",
                            confidence=Decimal("0.85"),
                            methodology_version="v1",
                            sub_scores={"level": Decimal("60.5"), "trend": Decimal("70.1")},
                            issued_at=T0 + timedelta(days=m, hours=k),
                        ),
                        "/rating",
                    )
                )
    return {"directory": directory, "facts": facts, "accounts": accounts, "ratings": ratings}


async def seed_loans(container: Container, codes: Sequence[str]) -> None:
    """Carbon-linked loans straight into the tables (a third with a KPI target)."""
    async with container.runtime.engine.begin() as conn:
        qrows, lrows = [], []
        for i, c in enumerate(codes):
            qid, lid = f"q-{i}", f"l-{i}"
            doc: dict[str, Any] = {}
            qrows.append(
                {
                    "quote_id": qid,
                    "bank_id": "bench-bank",
                    "idempotency_key": qid,
                    "request_hash": "x",
                    "credit_code": c,
                    "product": "carbon_linked_loan",
                    "amount_cny": Decimal(10**7),
                    "term_months": 36,
                    "annual_rate_pct": Decimal("3.5"),
                    "approval_track": "standard",
                    "rating_id": None,
                    "quoted_at": T0,
                    "valid_until": T0 + timedelta(days=30),
                    "document": doc,
                }
            )
            kpi = [{"metric": "total_tco2", "target": "5000"}] if i % 3 == 0 else []
            lrows.append(
                {
                    "loan_id": lid,
                    "bank_id": "bench-bank",
                    "bank_loan_ref": lid,
                    "quote_id": qid,
                    "credit_code": c,
                    "product": "carbon_linked_loan",
                    "industry_code": "4411",
                    "principal_cny": Decimal(10**7),
                    "outstanding_cny": Decimal(10**7),
                    "drawn_on": date(2024, 1, 15),
                    "term_months": 36,
                    "rate_pct": Decimal("3.5"),
                    "base_rate_pct": Decimal("3.0"),
                    "approval_sla_days": 15,
                    "components": {},
                    "origin_label": "light_green",
                    "current_label": "light_green",
                    "rating_id": None,
                    "approval_track": "standard",
                    "status": "performing",
                    "kpi_targets": kpi,
                }
            )
        await conn.execute(insert(quotes), qrows)
        await conn.execute(insert(loans), lrows)


def subscription_of(container: Container, bus: InMemoryBus) -> Subscription[Any]:
    """Lending's consumer subscription; an older build (the "before" runs) only registered it."""
    make = getattr(lending_bootstrap, "consumer_subscription", None)
    if make is not None:
        sub: Subscription[Any] = make(container)
        return sub
    return bus._subs[0]


def backend_cpu(pid: int) -> float:
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return float("nan")
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


#: per table, the columns compared (ids drawn from uuid4 and clock columns left out)
DIGESTED = {
    "enterprises": "credit_code, name, industry_code, region_code, size_class, transition_stage, "
    "ets_participant, revision",
    "ratings": "rating_id, credit_code, score, label, confidence, methodology_version, issued_at, "
    "as_of_period, transition_stage, vetoes, previous_label",
    "current_ratings": "rating_id, credit_code, score, label, confidence, methodology_version, issued_at, "
    "as_of_period, transition_stage, vetoes",
    "enterprise_emissions": "credit_code, period, total_tco2, output_quantity, output_unit, "
    "data_quality_score, calculation_version",
    "enterprise_finance": "credit_code, indicator, period, value, unit, authoritative, recorded_at, fact_id",
    "loans": "loan_id, current_label, rating_id, ratchet_bp, rate_pct, status",
    "loan_rate_changes": "loan_id, effective_from, rate_pct, ratchet_bp, rating_id",
    "loan_events": "loan_id, kind, payload",
    "outbox": "topic, key, value",
}
_VOLATILE = ("event_id", "alert_id")


def _stable(v: Any) -> Any:
    """A row value without the parts drawn at random or from the wall clock."""
    if isinstance(v, bytes | memoryview):
        try:
            v = orjson.loads(bytes(v))
        except orjson.JSONDecodeError:
            return bytes(v).hex()
    if isinstance(v, dict):
        return {k: _stable(x) for k, x in sorted(v.items()) if k not in _VOLATILE and not k.endswith("_at")}
    if isinstance(v, list):
        return [_stable(x) for x in v]
    return str(v)


async def digest(container: Container) -> dict[str, str]:
    """sha256 (first 16 hex digits) of each table's sorted, stable rows; events in their order per
    loan (outbox: per key)."""
    out = {}
    async with container.runtime.engine.connect() as conn:
        for table, cols in DIGESTED.items():
            # events in their order per loan (per Kafka key): the order across loans is the
            # query plan's, not a contract
            order = {"loan_events": "ORDER BY loan_id, id", "outbox": "ORDER BY key, id"}.get(table, "")
            rows = (await conn.execute(text(f"SELECT {cols} FROM {table} {order}"))).all()
            stable = [orjson.dumps([_stable(v) for v in r]) for r in rows]
            if not order:
                stable.sort()
            out[table] = f"{len(rows)}:{hashlib.sha256(b'|'.join(stable)).hexdigest()[:16]}"
    return out


async def run_once(
    records: dict[str, list[Record]], batch: int, n_loans: int, profile: str | None, show_digest: bool
) -> None:
    url = await fresh_database("lending_bench")
    try:
        await upgrade_head(MIGRATIONS, url)
        bus = InMemoryBus()
        settings = Settings(
            postgres=PostgresSettings(url=url, pool_size=1, max_overflow=0),  # type: ignore[arg-type]
            kafka=KafkaSettings(bootstrap_servers=""),
        )
        container = bootstrap(settings, bus=bus)
        sub = subscription_of(container, bus)
        await container.runtime.engine.dispose()
        async with container.runtime.engine.connect() as conn:
            pid = (await conn.execute(text("SELECT pg_backend_pid()"))).scalar_one()
        codes = sorted({r.key.decode() for r in records["directory"] if r.key})
        if n_loans:
            await seed_loans(container, codes[:n_loans])

        async def publish(rs: Sequence[Record]) -> None:
            raise AssertionError(f"dead-lettered: {[dict(r.headers).get('dlq_reason') for r in rs]}")

        sampler = None
        if profile:
            import pyinstrument

            sampler = pyinstrument.Profiler(interval=0.0005)
        results = []
        for phase in ("directory", "facts", "accounts", "ratings"):
            rs = records[phase]
            c0, b0, w0 = time.process_time(), backend_cpu(pid), time.perf_counter()
            if sampler is not None and phase != "directory":
                sampler.start()
            for i in range(0, len(rs), batch):
                await process_batch(sub, rs[i : i + batch], publish)
            if sampler is not None and phase != "directory":
                sampler.stop()
            c1, b1, w1 = time.process_time(), backend_cpu(pid), time.perf_counter()
            results.append((phase, len(rs), c1 - c0, b1 - b0, w1 - w0))
        async with container.runtime.engine.connect() as conn:
            outbox = (await conn.execute(text("SELECT count(*) FROM outbox"))).scalar_one()
            counts = {
                t: (await conn.execute(text(f"SELECT count(*) FROM {t}"))).scalar_one()
                for t in ("inbox", "enterprise_finance", "enterprise_emissions", "ratings", "current_ratings")
            }
        print(f"batch {batch:>5}  rows: {counts}")
        for phase, n, cpu, pg, wall in results:
            print(
                f"batch {batch:>5}  {phase:<9} {n:>7,} events  CPU {cpu:6.2f} s = {cpu / n * 1000:6.3f} s/1k"
                f"  PG {pg:6.2f} s = {pg / n * 1000:6.3f} s/1k  wall {wall:6.2f} s"
            )
        total = sum(r[1] for r in results[1:])
        cpu = sum(r[2] for r in results[1:])
        pg = sum(r[3] for r in results[1:])
        print(
            f"batch {batch:>5}  {'all':<9} {total:>7,} events  CPU {cpu:6.2f} s = {cpu / total * 1000:6.3f} s/1k"
            f"  PG {pg:6.2f} s = {pg / total * 1000:6.3f} s/1k  outbox rows {outbox}",
            flush=True,
        )
        if show_digest:
            print(f"batch {batch:>5}  digest {await digest(container)}")
        if sampler is not None and profile:
            Path(profile).write_text(sampler.output_text(unicode=True, show_all=False))
        await container.runtime.engine.dispose()
    finally:
        await drop_database(url)


async def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--enterprises", type=int, default=300)
    p.add_argument("--months", type=int, default=12)
    p.add_argument("--batch", default="50,2000")
    p.add_argument("--loans", type=int, default=0)
    p.add_argument("--profile")
    p.add_argument("--mix", choices=("credit", "all"), default="credit")
    p.add_argument("--digest", action="store_true")
    a = p.parse_args()
    print(
        f"carbon_lending from {Path(carbon_lending.__file__).parent}; {a.enterprises} enterprises x {a.months} months"
    )
    records = dataset(a.enterprises, a.months, mix=a.mix)
    # as the service after start-up (carbon_common.runtime): the start-up heap, and here also the
    # pre-encoded stream (the bench's, not the service's), out of the collector's full passes
    tune_gc()
    print(f"facts on {facts_topic()} ({a.mix} mix)")
    for b in (int(x) for x in a.batch.split(",")):
        await run_once(records, b, a.loans, a.profile, a.digest)


if __name__ == "__main__":
    asyncio.run(main())
