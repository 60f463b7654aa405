"""The plausibility statement (per checked month, the department's month totals over the window,
read one target at a time through ix_fact_heads_series) against its definition — the former
statement, which joined every target to the heads and grouped the batch's months, kept here as
the reference — on seeded random submissions against real PostgreSQL: several meters per month,
corrections that move a record to another month, indicator or enterprise, unit conversions that
change a value's scale, a record twice in one batch, spikes and zeros.

- every month's summary (total, count and median of the history) equals the definition's,
  numerics compared as text (same value *and* scale: the stored flag would differ otherwise);
- the quality flags, facts, heads, chain and events of a replay equal, byte for byte, those of the
  same replay through the reference statement (a second database).
"""

from __future__ import annotations

import itertools
import random
from collections.abc import Callable
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import asyncpg
import pytest
from sqlalchemy.ext.asyncio import AsyncSession

from carbon_common.bus.memory import InMemoryBus
from carbon_common.packed import pack
from carbon_ingest.adapters.repository import SqlRepository
from carbon_ingest.adapters.unit_of_work import SqlUnitOfWork
from carbon_ingest.bootstrap import Container, bootstrap
from carbon_ingest.domain.plausibility import PLAUSIBILITY, MonthSummary, period_of, targets_for
from carbon_ingest.domain.records import RawRecord
from carbon_ingest.service_layer.commands import RecordSubmission, RegisterEnterprise
from carbon_ingest.service_layer.enterprises import register_enterprise
from carbon_ingest.service_layer.submissions import Clock, append_to_chain, apply_submissions

from .conftest import _dsn, credit_code, make_settings

#: the definition: per target month, the department's heads summed per month over
#: [first_period, period], the month's own total and the median of the months before it (the
#: statement the check ran until migration 0002)
REFERENCE = """
WITH cleared AS (
    DELETE FROM quality_flags q
    USING unnest($1::varchar[], $2::varchar[], $3::varchar[], $4::varchar[]) AS c(credit_code, indicator, department, period)
    WHERE q."check" = $6 AND q.credit_code = c.credit_code AND q.indicator = c.indicator
      AND q.department = c.department AND q.period = c.period
), t AS (
    SELECT * FROM unnest($1::varchar[], $2::varchar[], $3::varchar[], $4::varchar[], $5::varchar[])
         AS t(credit_code, indicator, department, period, first_period)
), months AS (
    SELECT t.credit_code, t.indicator, t.department, t.period, h.period AS month, sum(h.value) AS total
    FROM t JOIN fact_heads h
      ON h.credit_code = t.credit_code AND h.indicator = t.indicator AND h.department = t.department
     AND h.period >= t.first_period AND h.period <= t.period
    GROUP BY 1, 2, 3, 4, 5
), agg AS (
    SELECT credit_code, indicator, department, period,
           sum(total) FILTER (WHERE month = period) AS total,
           array_agg(total ORDER BY total) FILTER (WHERE month < period) AS history
    FROM months GROUP BY 1, 2, 3, 4
)
SELECT credit_code, indicator, department, period, total,
       coalesce(cardinality(history), 0) AS months,
       (history[(cardinality(history) + 1) / 2] + history[(cardinality(history) + 2) / 2]) / 2 AS median
FROM agg WHERE total IS NOT NULL
"""

NOW = datetime(2024, 6, 15, 8, 30, tzinfo=UTC)
ENTERPRISES = [credit_code(n) for n in (501, 502)]
#: (indicator, department kinds, units): three ruled indicators, one without a rule
INDICATORS = [
    ("energy.raw_coal", ("stats", "self"), ("t", "kt")),
    ("electricity.purchased", ("grid", "self"), ("MWh", "kWh")),
    ("finance.revenue", ("tax",), ("10k CNY", "CNY")),
    ("finance.value_added", ("stats",), ("10k CNY",)),
]
DEPARTMENTS = {"stats": "stats-140400", "grid": "grid-140400", "tax": "tax-140400"}


class ReferenceRepository(SqlRepository):
    async def month_summaries_for_recheck(self, targets: Any) -> list[MonthSummary]:
        rows = await (await self._driver()).fetch(REFERENCE, *_target_args(targets), PLAUSIBILITY)
        return [MonthSummary(*r) for r in rows]


class ReferenceUnitOfWork(SqlUnitOfWork):
    def _bind(self, session: AsyncSession) -> None:
        self.repo = ReferenceRepository(session)


def _target_args(targets: Any) -> list[list[str]]:
    return [
        [t.credit_code for t in targets],
        [t.indicator for t in targets],
        [t.department for t in targets],
        [t.period for t in targets],
        [t.first_period for t in targets],
    ]


def _value(rng: random.Random) -> str:
    """Values of several scales (``12``, ``1.5``, ``0.250``), now and then a spike or a zero."""
    roll = rng.random()
    if roll < 0.05:
        return "0"
    base = Decimal(rng.randint(50, 150) * (60 if roll > 0.93 else 1))
    return str(base / Decimal(10) ** rng.choice([0, 0, 1, 2, 3]))


def random_groups(seed: int) -> tuple[list[list[RecordSubmission]], int]:
    """Groups of submissions (one transaction each) and how many records move to another month."""
    rng = random.Random(seed)
    periods = [period_of(2022 * 12 + m) for m in range(24)]
    known: dict[tuple[str, str], tuple[str, str, str]] = {}  # (dept, record id) -> month key
    moves = 0
    groups: list[list[RecordSubmission]] = []
    for _ in range(70):
        group = []
        for _ in range(rng.randint(1, 3)):
            code = rng.choice(ENTERPRISES)
            indicator, kinds, units = rng.choice(INDICATORS)
            kind = rng.choice(kinds)
            dept = f"self-{code}" if kind == "self" else DEPARTMENTS[kind]
            records = []
            for _ in range(rng.randint(1, 6)):
                period = rng.choice(periods)
                if rng.random() < 0.3 and any(k[0] == dept for k in known):
                    rid = rng.choice(sorted(k[1] for k in known if k[0] == dept))  # a correction
                else:
                    rid = f"r{rng.randint(0, 60)}"
                moves += (dept, rid) in known and known[(dept, rid)] != (code, indicator, period)
                known[(dept, rid)] = (code, indicator, period)
                records.append(RawRecord(rid, code, indicator, period, _value(rng), rng.choice(units)))
            group.append(RecordSubmission(dept, records, channel="kafka"))
        groups.append(group)
    return groups, moves


async def _start(url: str, uow_class: type[SqlUnitOfWork]) -> tuple[Container, Callable[[], SqlUnitOfWork]]:
    ids = itertools.count()
    clock = Clock(now=lambda: NOW, new_id=lambda: f"00000000-0000-4000-8000-{next(ids):012d}")
    container = bootstrap(make_settings(url), bus=InMemoryBus(), clock=clock)
    await container.start()
    runtime = container.runtime
    return container, lambda: uow_class(runtime.sessions, runtime.name)


async def _replay(container: Container, uow: Callable[[], SqlUnitOfWork], groups: Any) -> None:
    for code in ENTERPRISES:
        await register_enterprise(
            RegisterEnterprise(code, "长治市测试钢铁有限公司", "140400", "3120", "large", "mid"), uow()
        )
    for group in groups:
        async with uow() as u:
            applied = await apply_submissions(
                group, u, container.catalogue, container.clock, [None] * len(group)
            )
            await append_to_chain(u, container.catalogue, [a for _, a in applied])
            await u.commit()


async def _rows(conn: asyncpg.Connection, sql: str) -> list[tuple[Any, ...]]:
    return [tuple(r) for r in await conn.fetch(sql)]


_HEAD_MONTHS = (
    "SELECT credit_code, indicator, department, period, sum(value)::text FROM fact_heads"
    " GROUP BY 1, 2, 3, 4 ORDER BY 1, 2, 3, 4"
)
_RESULTS = [
    'SELECT credit_code, period, indicator, "check", department, value::text, reference_departments,'
    " reference_value::text, relative_difference::text, tolerance::text FROM quality_flags ORDER BY 1, 2, 3, 4, 5",
    "SELECT fact_id, department, record_id, revision, credit_code, indicator, period, value::text, unit,"
    " content_hash, evidence_hash FROM facts ORDER BY fact_id",
    "SELECT department, record_id, revision, fact_id, period, value::text FROM fact_heads ORDER BY 1, 2",
    "SELECT seq, fact_id, prev_hash, entry_hash FROM evidence ORDER BY seq",
    "SELECT o.topic, o.copy_topic, r.key, r.value, r.copied FROM outbox_batches o CROSS JOIN LATERAL"
    ' unnest(o.keys, o."values", o.copies) WITH ORDINALITY AS r(key, value, copied, n)'
    " WHERE o.topic LIKE '%facts%' ORDER BY o.id, r.n",
]


@pytest.mark.parametrize("seed", [1, 2, 3])
async def test_the_statement_gives_the_summaries_and_flags_of_the_definition(
    seed: int, db_url: str, other_db_url: str
) -> None:
    groups, moves = random_groups(seed)
    assert moves > 0  # the data exercises corrections that leave a month
    new, new_uow = await _start(db_url, SqlUnitOfWork)
    ref, ref_uow = await _start(other_db_url, ReferenceUnitOfWork)
    a = await asyncpg.connect(_dsn(db_url))
    b = await asyncpg.connect(_dsn(other_db_url))
    try:
        await _replay(new, new_uow, groups)
        await _replay(ref, ref_uow, groups)
        months = await _rows(a, _HEAD_MONTHS)
        assert any("." in m[4] for m in months) and len(months) > 100
        # every month's summary equals the definition's, on the same data
        # every month with heads, and months without (no row: nothing to check)
        keys = [(m[0], m[1], m[2], m[3]) for m in months] + [(m[0], m[1], m[2], "2024-03") for m in months]
        targets = targets_for(keys, new.catalogue.plausibility_rules)
        assert {t.indicator for t in targets} == {
            "energy.raw_coal",
            "electricity.purchased",
            "finance.revenue",
        }
        tr = a.transaction()  # both statements delete the flags they recompute: rolled back
        await tr.start()
        got = sorted(
            _text(r) for r in await a.fetch(_statement(), *pack(*_target_args(targets)), PLAUSIBILITY)
        )
        want = sorted(_text(r) for r in await a.fetch(REFERENCE, *_target_args(targets), PLAUSIBILITY))
        await tr.rollback()
        assert got == want
        assert sum(r[5] >= 3 and r[6] is not None for r in got) > 50  # medians were compared
        # the replays agree byte for byte: flags (some raised), facts, heads, chain, events
        for sql in _RESULTS:
            assert await _rows(a, sql) == await _rows(b, sql), sql
        assert await a.fetchval("SELECT count(*) FROM quality_flags WHERE \"check\" = 'plausibility'") > 0
    finally:
        await a.close()
        await b.close()
        await new.stop()
        await ref.stop()


def _statement() -> str:
    from carbon_ingest.adapters import repository

    return repository._MONTH_SUMMARIES_FOR_RECHECK


def _text(row: tuple[Any, ...]) -> tuple[Any, ...]:
    """Numerics as text: ``Decimal('2.0') == Decimal('2')``, but the stored flag would differ."""
    return tuple(str(v) if isinstance(v, Decimal) else v for v in row)


async def test_the_recheck_statements_are_planned_for_their_arrays_not_from_a_cached_guess(
    db_url: str,
) -> None:
    """Both flag deletions join the table with arrays; a cached generic plan assumes 10 elements and
    chose, in the pilot replay, a nested loop rescanning the array for every flag (quadratic). The
    recheck statements run with custom plans, for the rest of their transaction only."""
    container, uow = await _start(db_url, SqlUnitOfWork)
    try:
        months = [(ENTERPRISES[0], "energy.raw_coal", "2024-01")]
        async with uow() as u:
            conn = await u.repo._driver()
            assert await conn.fetchval("SHOW plan_cache_mode") == "auto"
            await u.repo.source_values_for_recheck(months)
            assert await conn.fetchval("SHOW plan_cache_mode") == "force_custom_plan"
            await u.repo.source_values_for_recheck(months)  # set once per transaction
            await u.commit()
        async with uow() as u:
            conn = await u.repo._driver()
            assert await conn.fetchval("SHOW plan_cache_mode") == "auto"  # SET LOCAL: gone at commit
            targets = targets_for(
                [(ENTERPRISES[0], "energy.raw_coal", "stats-140400", "2024-01")],
                container.catalogue.plausibility_rules,
            )
            assert targets
            await u.repo.month_summaries_for_recheck(targets)
            assert await conn.fetchval("SHOW plan_cache_mode") == "force_custom_plan"
            await u.commit()
    finally:
        await container.stop()
