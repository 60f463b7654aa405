"""Fact-to-rating latency under a steady, paced load (after the replay has settled).

The load: every enterprise's valid records of the dataset's last month, re-sent as the
following months (new record ids; activity and output values varied by ±15 %, each record on its
own, as real months vary), one enterprise-month at a time in a shuffled order, paced to ``rate``
facts/s in ticks of 100 ms (one POST per department per tick). With the values re-sent unchanged,
a new month often left the rating's outcome unchanged (nothing material: no ``RatingIssued``), and
the measurement then waited for a later month's rating: the quick run's p99 was 2.26 s while its
fact-to-account p99 was 0.3 s.
An enterprise-month's latency is from the start of its tick to the first ``RatingIssued`` for
that enterprise with ``as_of_period`` ≥ that month (Kafka timestamp, i.e. produced by rating's
outbox relay); likewise to the first ``AccountUpdated`` of that month.
"""

from __future__ import annotations

import asyncio
import random
import time
from collections import defaultdict
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import Any

import orjson

from carbon_bureau.pilot.rawhttp import HttpError, RawHttpPool

from .observer import Seen, TopicObserver
from .stats import percentile, rounded

TICK = 0.1


def _next_period(period: str, k: int) -> str:
    y, m = int(period[:4]), int(period[5:7]) - 1 + k
    return f"{y + m // 12:04d}-{m % 12 + 1:02d}"


@dataclass(slots=True)
class Unit:
    code: str
    period: str
    records: list[tuple[str, dict[str, Any]]]  # (department, record)
    sent_at: float = 0.0
    accepted: int = 0


def build_units(dataset: Any, months: int, seed: int = 7) -> list[Unit]:
    """Enterprise-months for the paced load, ``months`` months after the dataset's last."""
    last = dataset.params["periods"][1]
    bad = {(m["department"], m["record_id"]) for m in dataset.expectations["malformed"]}
    final: dict[tuple[str, str], dict[str, Any]] = {}
    for batch in dataset.submissions:
        for rec in batch["records"]:
            if rec.get("period") == last and (batch["department"], rec["record_id"]) not in bad:
                final[(batch["department"], rec["record_id"])] = rec
    per_code: dict[str, list[tuple[str, dict[str, Any]]]] = defaultdict(list)
    for (dept, _), rec in sorted(final.items()):
        per_code[rec["credit_code"]].append((dept, rec))
    codes = sorted(per_code)
    rng = random.Random(seed)
    units = []
    for k in range(1, months + 1):
        period = _next_period(last, k)
        order = codes[:]
        rng.shuffle(order)
        for code in order:
            recs = [
                (d, {**r, "period": period, "record_id": f"{r['record_id']}~bench{period}",
                     "value": _varied(r, rng)})
                for d, r in per_code[code]
            ]  # fmt: skip
            units.append(Unit(code, period, recs))
    return units


#: indicator families whose monthly values vary (activity and output); counts, compliance events,
#: ETS and finance figures are re-sent as they were
VARIED_FAMILIES = ("energy.", "electricity.", "heat.", "process.", "production.")


def _varied(record: dict[str, Any], rng: random.Random) -> Any:
    """The record's value × a factor in [0.85, 1.15] if its family varies month to month (within
    every plausibility rule: those flag ×10); the value unchanged otherwise."""
    value = record.get("value")
    if not str(record.get("indicator", "")).startswith(VARIED_FAMILIES) or not isinstance(value, str):
        return value
    try:
        number = Decimal(value)
    except InvalidOperation:
        return value
    if not number.is_finite():
        return value
    return str((number * Decimal(str(round(rng.uniform(0.85, 1.15), 4)))).quantize(Decimal("0.000001")))


async def paced_load(ingest: str, units: list[Unit], rate: float, seconds: float) -> dict[str, Any]:
    """Send units at ``rate`` facts/s for ``seconds``; returns what was sent and accepted.

    The POSTs go through :class:`RawHttpPool` (64 keep-alive connections), not httpx: the load
    generator shares the two cores with the system it measures and must not be what queues."""
    per_tick = rate * TICK
    inflight: set[asyncio.Task[None]] = set()
    errors: list[str] = []
    pool = RawHttpPool(ingest, size=64)
    sem = asyncio.Semaphore(64)  # the pool's size: time spent waiting here is client-side queueing
    sent_units: list[Unit] = []
    facts = 0
    #: per POST: seconds from its tick to the answer (queueing in this client included) and the
    #: request's own round trip (server time as this client sees it)
    answered: list[float] = []
    round_trip: list[float] = []

    async def post(dept: str, batch: list[tuple[Unit, dict[str, Any]]]) -> None:
        queued = time.monotonic()
        body = orjson.dumps({"department": dept, "records": [x[1] for x in batch]})
        async with sem:
            t0 = time.monotonic()
            try:
                status, payload = await pool.post_json("/v1/submissions", body)
            except (HttpError, TimeoutError) as exc:
                errors.append(f"{type(exc).__name__}: {exc}")
                return
            round_trip.append(time.monotonic() - t0)
            answered.append(time.monotonic() - queued)
            if status >= 400:
                errors.append(f"HTTP {status}: {payload[:200]!r}")
                return
            rejected = {x["record_id"] for x in orjson.loads(payload).get("rejected", [])}
            for unit, rec in batch:
                if rec["record_id"] not in rejected:
                    unit.accepted += 1

    start = time.monotonic()
    it = iter(units)
    tick = 0
    debt = 0.0
    exhausted = False
    while not exhausted and time.monotonic() - start < seconds:
        due = start + tick * TICK
        if due > time.monotonic():
            await asyncio.sleep(due - time.monotonic())
        tick += 1
        debt += per_tick
        by_dept: dict[str, list[tuple[Unit, dict[str, Any]]]] = defaultdict(list)
        now = time.time()
        while debt > 0:
            unit = next(it, None)
            if unit is None:
                exhausted = True
                break
            unit.sent_at = now
            sent_units.append(unit)
            debt -= len(unit.records)
            facts += len(unit.records)
            for dept, rec in unit.records:
                by_dept[dept].append((unit, rec))
        for dept, batch in by_dept.items():
            task = asyncio.create_task(post(dept, batch))
            inflight.add(task)
            task.add_done_callback(inflight.discard)
    elapsed = time.monotonic() - start
    await asyncio.gather(*inflight)
    await pool.close()
    return {
        "units": sent_units,
        "facts_sent": facts,
        "facts_accepted": sum(u.accepted for u in sent_units),
        "seconds": elapsed,
        "offered_rate": facts / elapsed if elapsed else 0.0,
        "errors": errors,
        "posts": len(answered),
        "post_answered_p50_s": rounded(percentile(answered, 50)),
        "post_answered_p99_s": rounded(percentile(answered, 99)),
        "post_round_trip_p50_s": rounded(percentile(round_trip, 50)),
        "post_round_trip_p99_s": rounded(percentile(round_trip, 99)),
    }


def latencies(units: list[Unit], seen: list[Seen], *, exact_period: bool) -> tuple[list[float], int]:
    """Per accepted unit: seconds to the first event for its enterprise and month (or later
    month for ratings, ``exact_period=False``). Returns (latencies, units never answered)."""
    by_code: dict[str, list[Seen]] = defaultdict(list)
    for s in seen:
        by_code[s.code].append(s)
    for events in by_code.values():
        events.sort(key=lambda s: s.ts)
    out: list[float] = []
    missing = 0
    for u in units:
        if not u.accepted:
            continue
        hit = next(
            (
                s.ts
                for s in by_code.get(u.code, ())
                if (s.period == u.period if exact_period else s.period >= u.period)
                and s.ts >= u.sent_at - 0.05
            ),
            None,
        )
        if hit is None:
            missing += 1
        else:
            out.append(max(0.0, hit - u.sent_at))
    return out, missing


def summarise(load: dict[str, Any], observer: TopicObserver, mark: dict[str, int]) -> dict[str, Any]:
    units: list[Unit] = load["units"]
    rat, rat_missing = latencies(units, observer.since("ratings", mark), exact_period=False)
    acc, acc_missing = latencies(units, observer.since("accounts", mark), exact_period=True)
    return {
        "target_rate_facts_per_s": None,
        "offered_rate_facts_per_s": rounded(load["offered_rate"], 1),
        "seconds": rounded(load["seconds"], 1),
        "enterprise_months": len(units),
        "facts_sent": load["facts_sent"],
        "facts_accepted": load["facts_accepted"],
        "http_errors": len(load["errors"]),
        #: where the time goes: a POST's wait for an answer (from its tick) vs. the request itself
        "ingest_posts": load["posts"],
        "ingest_post_answered_p50_s": load["post_answered_p50_s"],
        "ingest_post_answered_p99_s": load["post_answered_p99_s"],
        "ingest_post_round_trip_p50_s": load["post_round_trip_p50_s"],
        "ingest_post_round_trip_p99_s": load["post_round_trip_p99_s"],
        "fact_to_rating_p50_s": rounded(percentile(rat, 50)),
        "fact_to_rating_p99_s": rounded(percentile(rat, 99)),
        "fact_to_rating_max_s": rounded(max(rat) if rat else None),
        "fact_to_account_p50_s": rounded(percentile(acc, 50)),
        "fact_to_account_p99_s": rounded(percentile(acc, 99)),
        #: rating re-issues only when the outcome (score, label, vetoes, stage) changes
        "not_reissued_enterprise_months": rat_missing,
        "unaccounted_enterprise_months": acc_missing,
        "samples": len(rat),
    }
