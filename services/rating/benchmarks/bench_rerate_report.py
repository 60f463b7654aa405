"""Full re-rating after a methodology change, and report rendering (HTML and PDF), at pilot scale.

Seeds a fresh database on the real PostgreSQL directly through the repository (no bus: this
measures the re-rating, not the consumers): 1,122 enterprises in 12 industries with 45 monthly
accounts (2021-01 .. 2024-09; a tenth of them stop reporting 1–5 months earlier, as late
reporters do, so the latest periods differ), plus compliance, ETS, capex and transition facts.
Then: a first full rating, a full re-rating under changed weights (what ``POST
/v1/admin/rerate`` runs: ``rerate_all`` in chunks of 200), and HTML / PDF reports over HTTP.

Run (about a minute): ``eval "$(.venv/bin/bureau stack env)"; .venv/bin/python
services/rating/benchmarks/bench_rerate_report.py [--profile]`` — ``--profile`` prints a
pyinstrument profile of the re-rating.
"""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import random
import statistics
import time
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path

import httpx
from stdnum.cn import uscc

from carbon_common.bus.memory import InMemoryBus
from carbon_common.migrations import upgrade_head
from carbon_common.testing import drop_database, fresh_database
from carbon_rating.bootstrap import bootstrap
from carbon_rating.domain.inputs import AccountMonth, ConductFact, EnterpriseProfile
from carbon_rating.entrypoints.app import create_app
from carbon_rating.service_layer.handlers import rerate_all
from carbon_rating.service_layer.ports import AccountRow, FactRow
from carbon_rating.settings import Settings

MIGRATIONS = Path(__file__).resolve().parents[1] / "src" / "carbon_rating" / "migrations"
INDUSTRIES = [  # code, output unit, typical intensity
    ("4411", "MWh", 0.81),
    ("3120", "t", 1.9),
    ("2521", "t", 0.5),
    ("3011", "t", 0.85),
    ("0610", "t", 0.1),
    ("2614", "t", 1.2),
    ("3216", "t", 9.0),
    ("4415", "MWh", 0.02),
    ("4419", "MWh", 0.3),
    ("4220", "t", 0.05),
    ("7514", "t", 0.01),
    ("3041", "t", 0.7),
]
N = 1122
PERIODS = [f"{y}-{m:02d}" for y in range(2021, 2025) for m in range(1, 13)][:45]


def code(i: int) -> str:
    base = f"91140400MA{i:07d}"
    return base + uscc.calc_check_digit(base)


def dataset(
    rnd: random.Random,
) -> tuple[list[tuple[EnterpriseProfile, int]], list[AccountRow], list[FactRow]]:
    ents, accts, facts = [], [], []
    for i in range(N):
        ind, unit, base = INDUSTRIES[i % len(INDUSTRIES)]
        c = code(i)
        ets = ind in ("4411", "3120", "3011", "3216") and i % 3 == 0
        ents.append(
            (
                EnterpriseProfile(
                    c, f"企业{i}", ind, "140400", "large", rnd.choice(["early", "mid", "mature"]), ets
                ),
                1,
            )
        )
        level, trend = base * rnd.uniform(0.7, 1.3), rnd.uniform(-0.006, 0.002)
        last = len(PERIODS) - (rnd.randint(1, 5) if i % 10 == 0 else 0)
        for k, p in enumerate(PERIODS[:last]):
            out = Decimal(rnd.randint(50_000, 150_000))
            total = Decimal(str(round(level * (1 + trend * k), 6))) * out
            rev = Decimal(rnd.randint(2_000, 9_000))
            month = AccountMonth(p, total, out, unit, rev, Decimal(rnd.randint(1, 4)))
            accts.append(AccountRow(c, ind, "cn@1", month))
        for k, p in enumerate(PERIODS[-24:]):
            if rnd.random() < 0.05:
                sev = rnd.choice(["minor", "minor", "major", "serious"])
                facts.append(_fact(c, f"pen/{i}/{k}", "compliance.env_penalty", p, "1", severity=sev))
            if k % 6 == 0:
                facts.append(_fact(c, f"capex/{i}/{k}", "finance.total_capex", p, "1000"))
                facts.append(
                    _fact(c, f"rcapex/{i}/{k}", "finance.reduction_capex", p, str(rnd.randint(0, 400)))
                )
            if k % 12 == 11:
                facts.append(_fact(c, f"msp/{i}/{k}", "transition.milestones_planned", p, "4"))
                facts.append(_fact(c, f"msm/{i}/{k}", "transition.milestones_met", p, str(rnd.randint(0, 4))))
                if ets:
                    facts.append(
                        _fact(c, f"ets/{i}/{k}", "ets.surrendered", p, "1000", on_time=rnd.random() > 0.1)
                    )
    return ents, accts, facts


def _fact(c: str, key: str, indicator: str, period: str, value: str, **attrs: object) -> FactRow:
    return FactRow(key, 1, c, ConductFact(indicator, period, Decimal(value), dict(attrs)))


async def main(profile: bool, reports: int) -> None:
    rnd = random.Random(11)
    url = await fresh_database("rating_bench")
    await upgrade_head(MIGRATIONS, url)
    settings = Settings(postgres={"url": url}, telemetry={"log_json": False, "log_level": "WARNING"})  # type: ignore[arg-type]
    c = bootstrap(settings, bus=InMemoryBus())
    await c.start()
    try:
        ents, accts, facts = dataset(rnd)
        t0 = time.perf_counter()
        async with c.uow() as uow:
            await uow.repo.upsert_enterprises(ents)
            for s in range(0, len(accts), 5000):
                await uow.repo.upsert_accounts(accts[s : s + 5000])
            await uow.repo.upsert_facts(facts)
            await uow.commit()
        print(
            f"seeded {len(ents)} enterprises, {len(accts)} accounts, {len(facts)} facts in {time.perf_counter() - t0:.1f}s"
        )

        t0 = time.perf_counter()
        considered, issued = await rerate_all(c.uow, c.methodology, "periodic_cycle", datetime.now(UTC))
        print(
            f"first full rating: {considered} enterprises, {issued} ratings in {time.perf_counter() - t0:.2f}s"
        )

        m = c.methodology
        changed = dataclasses.replace(
            m,
            weights={
                **m.weights,
                "mid": {
                    **m.weights["mid"],
                    "current_performance": Decimal("0.30"),
                    "improvement": Decimal("0.20"),
                },
            },
        )
        profiler = None
        if profile:
            from pyinstrument import Profiler

            profiler = Profiler(async_mode="enabled")
            profiler.start()
        t0 = time.perf_counter()
        considered, issued = await rerate_all(c.uow, changed, "methodology_change", datetime.now(UTC))
        took = time.perf_counter() - t0
        if profiler is not None:
            profiler.stop()
            print(profiler.output_text(unicode=True, color=False, show_all=False))
        print(
            f"FULL RE-RATING after a methodology change: {considered} enterprises, {issued} ratings in {took:.2f}s"
        )

        app = create_app(container=c)
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://r") as client:
            for fmt in ("html", "pdf"):
                times = []
                for i in range(reports):
                    t0 = time.perf_counter()
                    resp = await client.get(
                        f"/v1/ratings/{code(i * 7)}/report", params={"lang": "zh", "format": fmt}
                    )
                    times.append(time.perf_counter() - t0)
                    assert resp.status_code == 200, resp.text
                times.sort()
                print(
                    f"report {fmt.upper()}: n={reports} p50 {statistics.median(times) * 1000:.0f} ms, "
                    f"p90 {times[int(len(times) * 0.9) - 1] * 1000:.0f} ms, max {times[-1] * 1000:.0f} ms"
                )
    finally:
        await c.stop()
        await drop_database(url)


if __name__ == "__main__":
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--profile", action="store_true")
    ap.add_argument("--reports", type=int, default=30)
    args = ap.parse_args()
    asyncio.run(main(args.profile, args.reports))
