"""``fact_history`` is the only fact table (migration 0004): the current facts are the rows not
``superseded``, on a real PostgreSQL. A correction supersedes its predecessor (also when it moves
the fact to another month), a stale revision arriving late is kept but superseded, a redelivery
changes nothing; the ``facts`` view shows the highest revision of every fact_key; and the
migration turns an existing ``facts`` table into that view without losing a row."""

from __future__ import annotations

import asyncio
from decimal import Decimal
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import asyncpg
from alembic import command
from sqlalchemy import text

import carbon_accounting
from carbon_accounting.adapters.consumer import to_fact
from carbon_common.migrations import alembic_config, upgrade_head
from carbon_common.testing import drop_database, fresh_database

MIGRATIONS = Path(carbon_accounting.__file__).resolve().parent / "migrations"
Service = tuple[Any, Any]

#: the highest revision of every fact_key, computed independently of the flag
_HIGHEST = (
    "SELECT DISTINCT ON (fact_key) fact_key, revision, period, value::text FROM fact_history"
    " WHERE credit_code = :c ORDER BY fact_key, revision DESC"
)


async def test_corrections_supersede_and_stale_revisions_stay_superseded(
    service: Service, b: SimpleNamespace
) -> None:
    container, _ = service
    code = b.credit_code()
    rev1 = to_fact(b.fact(code, "energy.raw_coal", "10", "t", record_id="k", period="2024-03"))
    other = to_fact(b.fact(code, "energy.diesel", "2", "t", record_id="d", period="2024-03"))
    rev2 = rev1._replace(revision=2, value=Decimal("11"))
    rev3 = rev1._replace(revision=3, value=Decimal("12"), period="2024-04")  # moved to April
    async with container.uow() as uow:
        repo = uow.repo
        assert await repo.upsert_facts([rev1, other]) == {(code, "2024-03")}
        # the month it left changed too (March loses the fact, April gains it)
        assert await repo.upsert_facts([rev3]) == {(code, "2024-03"), (code, "2024-04")}
        assert await repo.upsert_facts([rev2]) == set()  # stale: kept in the history only
        assert await repo.upsert_facts([rev3, other]) == set()  # redelivery
        # a correction within its month: only that month
        assert await repo.upsert_facts([other._replace(revision=2, value=Decimal("3"))]) == {
            (code, "2024-03")
        }
        march = await repo.facts_for([(code, "2024-03"), (code, "2024-04")])
        assert [(f.fact_key, f.revision) for f in march[(code, "2024-03")]] == [(other.fact_key, 2)]
        assert [(f.revision, f.value) for f in march[(code, "2024-04")]] == [(3, Decimal("12"))]
        rows, enterprises = await repo.figure_rows_and_enterprises([(code, "2024-03"), (code, "2024-04")])
        # the consumer's rows: Fact positions, the columns the figures read (attributes None when empty)
        assert {k: [(r[0], r[4], r[6], r[8], r[11], r[12]) for r in v] for k, v in rows.items()} == {
            (code, "2024-03"): [
                (other.fact_key, other.department, "energy.diesel", Decimal("3"), True, None)
            ],
            (code, "2024-04"): [
                (rev1.fact_key, rev1.department, "energy.raw_coal", Decimal("12"), True, None)
            ],
        }
        assert enterprises == {}  # no directory entry for this code
        assert await repo.fact_pairs([code]) == [(code, "2024-03"), (code, "2024-04")]
        history = [(f.revision, f.value) for f in await repo.fact_history(rev1.fact_key)]
        assert history == [(1, Decimal("10")), (2, Decimal("11")), (3, Decimal("12"))]
        flags = (
            await uow.session.execute(
                text("SELECT revision, superseded FROM fact_history WHERE fact_key = :k ORDER BY 1"),
                {"k": rev1.fact_key},
            )
        ).all()
        assert [tuple(r) for r in flags] == [(1, True), (2, True), (3, False)]
        view = (
            await uow.session.execute(
                text(
                    "SELECT fact_key, revision, period, value::text FROM facts WHERE credit_code = :c"
                    " ORDER BY fact_key"
                ),
                {"c": code},
            )
        ).all()
        highest = (await uow.session.execute(text(_HIGHEST), {"c": code})).all()
        assert [tuple(r) for r in view] == [tuple(r) for r in highest]
        assert len(view) == 2
        await uow.commit()


async def test_migration_0004_turns_the_facts_table_into_the_view() -> None:
    url = await fresh_database("acct_mig")
    try:
        cfg = alembic_config(MIGRATIONS, url)
        await asyncio.to_thread(command.upgrade, cfg, "0003")  # type: ignore[arg-type]
        conn = await asyncpg.connect(url.replace("postgresql+asyncpg://", "postgresql://"))
        try:
            cols = "fact_key, fact_id, revision, credit_code, department, record_id, indicator, period, value, unit, evidence_hash, authoritative"
            row = "'{k}', 'f{r}', {r}, '91140400000000001X', 'stats', 'r', 'energy.raw_coal', '{p}', {v}, 't', 'h', true"
            history = [("a", 1, "2024-01", 1), ("a", 2, "2024-01", 2), ("b", 1, "2024-01", 5), ("c", 1, "2024-01", 7), ("c", 2, "2024-02", 8)]  # fmt: skip
            for k, r, p, v in history:
                await conn.execute(
                    f"INSERT INTO fact_history ({cols}) VALUES ({row.format(k=k, r=r, p=p, v=v)})"
                )
            for k, r, p, v in [("a", 2, "2024-01", 2), ("b", 1, "2024-01", 5), ("c", 2, "2024-02", 8)]:
                await conn.execute(f"INSERT INTO facts ({cols}) VALUES ({row.format(k=k, r=r, p=p, v=v)})")
            before = await conn.fetch("SELECT fact_key, revision, period, value FROM facts ORDER BY 1")
            await upgrade_head(MIGRATIONS, url)
            after = await conn.fetch("SELECT fact_key, revision, period, value FROM facts ORDER BY 1")
            flags = await conn.fetch("SELECT fact_key, revision, superseded FROM fact_history ORDER BY 1, 2")
            kind = await conn.fetchval("SELECT relkind::text FROM pg_class WHERE relname = 'facts'")
        finally:
            await conn.close()
        assert [tuple(r) for r in after] == [tuple(r) for r in before]
        assert [tuple(r) for r in flags] == [
            ("a", 1, True), ("a", 2, False), ("b", 1, False), ("c", 1, True), ("c", 2, False),
        ]  # fmt: skip
        assert kind == "v"
        await asyncio.to_thread(command.downgrade, cfg, "0003")  # type: ignore[arg-type]
        conn = await asyncpg.connect(url.replace("postgresql+asyncpg://", "postgresql://"))
        try:
            restored = await conn.fetch("SELECT fact_key, revision, period, value FROM facts ORDER BY 1")
        finally:
            await conn.close()
        assert [tuple(r) for r in restored] == [tuple(r) for r in before]
    finally:
        await drop_database(url)


async def test_the_consumers_rows_give_the_reference_figures(service: Service, b: SimpleNamespace) -> None:
    """The recomputation's read (attributes decoded only when present, unused columns NULL) fed to
    ``account_figures`` gives the figures ``compute_account`` gives on the full facts."""
    from carbon_accounting.adapters.factor_files import load_packaged
    from carbon_accounting.domain.calculation import account_figures, compute_account
    from carbon_accounting.domain.model import Enterprise

    container, _ = service
    code = b.credit_code()
    facts = [
        to_fact(b.fact(code, "electricity.purchased", "1200.5", "MWh", "2023-04", department="grid-140400",
                       attributes={"grid_region": "shanxi"})),
        to_fact(b.fact(code, "electricity.purchased", "10", "MWh", "2023-04", department="self-140400",
                       authoritative=False)),
        to_fact(b.fact(code, "process.carbonate", "300.25", "t", "2023-04",
                       attributes={"carbonate_type": "dolomite", "note": "kiln 2"})),
        to_fact(b.fact(code, "energy.raw_coal", "1000", "t", "2023-04")),
        to_fact(b.fact(code, "emissions.verified", "3000", "tCO2", "2023-04", department="eeb-140400")),
    ]  # fmt: skip
    async with container.uow() as uow:
        assert await uow.repo.upsert_facts(facts) == {(code, "2023-04")}
        rows, _ = await uow.repo.figure_rows_and_enterprises([(code, "2023-04")])
        stored = (await uow.repo.facts_for([(code, "2023-04")]))[(code, "2023-04")]
    by_key = {r[0]: r for r in rows[(code, "2023-04")]}
    assert by_key[facts[0].fact_key][12] == {"grid_region": "shanxi"}
    assert by_key[facts[2].fact_key][12] == {"carbonate_type": "dolomite", "note": "kiln 2"}
    assert by_key[facts[3].fact_key][12] is None
    ent = Enterprise(code, "3011", "140400")
    fs = load_packaged()
    fast = account_figures(code, "2023-04", rows[(code, "2023-04")], ent, fs)
    reference = compute_account(code, "2023-04", stored, ent, fs).figures
    assert fast == reference and [repr(x) for x in fast] == [repr(x) for x in reference]
    assert fast.scope1_process_tco2 != 0 and fast.cross_check is not None and fast.fact_count == 4
