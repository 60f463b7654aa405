"""The SQL repository agrees with the domain; the app builds and stops its own container; the
migrate entrypoint upgrades a database to head."""

from __future__ import annotations

import asyncio
import os
import sys
from decimal import Decimal
from pathlib import Path

import httpx
from alembic.script import ScriptDirectory
from sqlalchemy import text
from sqlalchemy.ext.asyncio import create_async_engine

import carbon_rating
from carbon_common.bus.memory import InMemoryBus
from carbon_common.testing import drop_database, fresh_database
from carbon_rating.adapters import statements as sql
from carbon_rating.bootstrap import bootstrap
from carbon_rating.domain.inputs import AccountMonth
from carbon_rating.domain.intensity import peer_intensity, totals
from carbon_rating.domain.periods import window
from carbon_rating.entrypoints.app import create_app
from carbon_rating.service_layer.ports import AccountRow
from carbon_rating.settings import Settings


async def test_industry_totals_in_sql_match_the_domain(harness, ev) -> None:
    periods = window("2024-06", 12)
    rows = {
        ev.code(40): [
            AccountMonth(p, Decimal("800.5"), Decimal(1000), "MWh", Decimal(50), Decimal(2)) for p in periods
        ],
        ev.code(41): [
            AccountMonth(p, Decimal(700), Decimal(900), "MWh", None, Decimal(3)) for p in periods[:6]
        ]
        + [AccountMonth(p, Decimal(700), Decimal(900), "GWh", None, Decimal(3)) for p in periods[6:]],
    }
    async with harness.container.uow() as uow:
        await uow.repo.upsert_accounts(
            [AccountRow(c, "4411", "f@1", m) for c, months in rows.items() for m in months]
        )
        got = {t.credit_code: t for t in await uow.repo.industry_totals("4411", periods)}
        await uow.commit()
    for c, months in rows.items():
        expected = totals(c, months, set(periods))
        assert got[c] == expected
        for basis in ("per_output:MWh", "per_revenue"):
            assert peer_intensity(got[c], basis) == peer_intensity(expected, basis)
    assert got[ev.code(41)].output_unit is None  # mixed units: not comparable per output


async def test_peer_totals_for_many_groups_equal_one_query_per_group(harness, ev) -> None:
    """The batched peer query (one VALUES join) gives each group exactly what the per-group
    aggregate gives: industry from the directory when registered, else from the account."""
    await harness.publish(ev.enterprise(52, industry="3120"))  # the directory overrides the account's 4411
    await harness.settle()
    months = window("2024-06", 18)
    rows = [
        AccountRow(
            ev.code(i),
            "4411",
            "f@1",
            AccountMonth(p, Decimal(100 + i + k), Decimal(10 + k), unit, None, Decimal(2)),
        )
        for i, unit in ((50, "MWh"), (51, "MWh"), (52, "t"), (53, "t"))
        for k, p in enumerate(months[: 12 + i - 50])
    ]
    groups = [
        (industry, window(last, 12)[0], last)
        for industry in ("4411", "3120", "2521")
        for last in ("2024-01", "2024-03", "2024-06")
    ]
    async with harness.container.uow() as uow:
        await uow.repo.upsert_accounts(rows)
        batched = await uow.repo.peer_totals(groups)
        conn = await uow.repo._driver()
        # planned with hash joins only (its plan was erratic), the setting restored right after
        assert await conn.fetchval("SHOW enable_nestloop") == "on"
        await conn.execute(sql.HASH_JOINS_ONLY)
        g = sorted(set(groups))
        plan = "\n".join(
            r[0]
            for r in await conn.fetch(
                "EXPLAIN " + sql.PEER_TOTALS, [x[0] for x in g], [x[1] for x in g], [x[2] for x in g],
                min(x[1] for x in g), max(x[2] for x in g),
            )
        )  # fmt: skip
        await conn.execute(sql.NESTED_LOOPS_AGAIN)
        assert "Nested Loop" not in plan and "Hash" in plan, plan
        for industry, _, last in groups:
            assert batched[(industry, last)] == await uow.repo.industry_totals(industry, window(last, 12))
        await uow.commit()
    assert len(batched) == 9
    assert {t.credit_code for t in batched[("4411", "2024-03")]} == {ev.code(50), ev.code(51), ev.code(53)}
    assert [t.credit_code for t in batched[("3120", "2024-03")]] == [ev.code(52)]
    assert batched[("2521", "2024-06")] == ()


async def test_app_lifespan_builds_and_stops_its_own_container(db_url: str) -> None:
    app = create_app(Settings(postgres={"url": db_url}, run_workers=False))  # type: ignore[arg-type]
    async with app.router.lifespan_context(app):
        assert app.state.container is not None
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://r") as c:
            ready = await c.get("/readyz")
            assert ready.status_code == 200 and ready.json()["checks"]["database"] is True
            openapi = (await c.get("/openapi.json")).json()
            op = openapi["paths"]["/v1/ratings/{credit_code}"]["get"]
            assert op["summary"] and "404" in op["responses"]
    assert app.state.container is None


async def test_migrate_entrypoint_upgrades_to_head() -> None:
    url = await fresh_database("rating_mig")
    try:
        env = {**os.environ, "RATING_POSTGRES__URL": url}
        proc = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "carbon_rating.entrypoints.migrate",
            env=env,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
        )
        _, stderr = await asyncio.wait_for(proc.communicate(), timeout=120)
        assert proc.returncode == 0, stderr.decode()
        engine = create_async_engine(url)
        async with engine.connect() as conn:
            version = (await conn.execute(text("SELECT version_num FROM alembic_version"))).scalar_one()
        await engine.dispose()
        head = ScriptDirectory(str(Path(carbon_rating.__file__).parent / "migrations")).get_current_head()
        assert version == head == "0004"
    finally:
        await drop_database(url)


async def test_rerate_cli_shows_progress(harness, ev, db_url: str) -> None:
    await harness.publish(ev.enterprise(42), ev.account(42, "2024-06", "80000"))
    await harness.settle()
    env = {**os.environ, "RATING_POSTGRES__URL": db_url, "RATING_TELEMETRY__LOG_LEVEL": "WARNING"}
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "carbon_rating.entrypoints.rerate",
        "--chunk",
        "1",
        env=env,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, err = await asyncio.wait_for(proc.communicate(), timeout=120)
    assert proc.returncode == 0, err.decode()
    lines = out.decode().splitlines()
    assert "re-rated 1/1 enterprises, 0 new ratings" in lines
    assert lines[-1].startswith("done: 1 enterprises, 0 ratings issued under v1")


async def test_periodic_cycle_brings_earlier_ratings_in_line_with_peers(harness, ev, db_url: str) -> None:
    """Peers that arrive after an enterprise was rated change its percentile on the next cycle."""
    await harness.publish(ev.enterprise(43), ev.account(43, "2024-06", "80000"))
    await harness.settle()
    peers = range(44, 50)
    await harness.publish(
        *[ev.enterprise(i) for i in peers],
        *[ev.account(i, "2024-06", str(70000 + 2000 * (i - 44))) for i in peers],
    )
    await harness.settle()
    async with harness.container.uow() as uow:
        before = (await uow.repo.current_ratings([ev.code(43)]))[ev.code(43)]
    assert "benchmark" in before.details["sub_scores"]["current_performance"]["note"]

    settings = Settings(postgres={"url": db_url}, rerate_interval_seconds=0.05)  # type: ignore[arg-type]
    cycler = bootstrap(settings, bus=InMemoryBus())
    await cycler.start()
    try:
        for _ in range(100):
            async with cycler.uow() as uow:
                now = (await uow.repo.current_ratings([ev.code(43)]))[ev.code(43)]
            if now.seq > before.seq:
                break
            await asyncio.sleep(0.05)
    finally:
        await cycler.stop()
    assert now.reason == "periodic_cycle"
    assert now.details["sub_scores"]["current_performance"]["note"] == "percentile among 7 peers"
