"""The per-enterprise input stamps (account_stamps, fact_stamps; kept by statement triggers,
migration 0003) always equal the aggregate over the tables, whoever writes and however: the
consumer's upserts, the repository directly, plain SQL (insert, restatement, delete, a fact moved
to another enterprise), a rolled-back write. And a restatement written in plain SQL behind the
input cache's back is still seen by the next batch."""

from __future__ import annotations

from decimal import Decimal

from sqlalchemy import text

from carbon_rating.domain.periods import window

PERIODS = window("2024-12", 24)

_MISMATCHES = """
    SELECT (SELECT count(*) FROM (
              SELECT coalesce(s.credit_code, a.credit_code), s.n, s.total, a.n, a.total
              FROM (SELECT * FROM account_stamps WHERE n > 0) AS s
              FULL JOIN (SELECT credit_code, count(*) AS n, sum(calculation_version) AS total
                         FROM accounts GROUP BY credit_code) AS a ON a.credit_code = s.credit_code
              WHERE s.n IS DISTINCT FROM a.n OR s.total IS DISTINCT FROM a.total) AS x),
           (SELECT count(*) FROM (
              SELECT coalesce(s.credit_code, f.credit_code)
              FROM (SELECT * FROM fact_stamps WHERE n > 0) AS s
              FULL JOIN (SELECT credit_code, count(*) AS n, sum(revision) AS total
                         FROM conduct_facts GROUP BY credit_code) AS f ON f.credit_code = s.credit_code
              WHERE s.n IS DISTINCT FROM f.n OR s.total IS DISTINCT FROM f.total) AS y),
           (SELECT count(*) FROM account_stamps WHERE n > 0),
           (SELECT count(*) FROM fact_stamps WHERE n > 0)
"""


async def _check(harness) -> tuple[int, int]:
    """(enterprises with accounts, with facts), after asserting every stamp equals the aggregate."""
    async with harness.container.uow() as uow:
        bad_accounts, bad_facts, n_accounts, n_facts = (await uow.session.execute(text(_MISMATCHES))).one()
    assert (bad_accounts, bad_facts) == (0, 0)
    return n_accounts, n_facts


async def _sql(harness, statement: str, **params: object) -> None:
    async with harness.container.uow() as uow:
        await uow.session.execute(text(statement), params)
        await uow.commit()


async def test_stamps_equal_the_tables_after_every_kind_of_write(harness, ev) -> None:
    await harness.publish(
        *[ev.enterprise(i) for i in range(1, 5)],
        *[ev.account(i, p, "1000", "1000") for i in range(1, 5) for p in PERIODS[:6]],
        *[ev.fact(i, "compliance.permit_violation", p, "0") for i in range(1, 4) for p in PERIODS[:3]],
    )
    await harness.settle()
    assert await _check(harness) == (4, 3)

    # restatements and a duplicate (older) version through the consumer: only higher versions count
    await harness.publish(
        ev.account(1, PERIODS[0], "2000", "1000", version=3),
        ev.account(1, PERIODS[0], "1500", "1000", version=2),
        ev.account(2, PERIODS[6], "1000", "1000"),
        ev.fact(1, "compliance.permit_violation", PERIODS[0], "1", revision=2),
    )
    await harness.settle()
    await _check(harness)

    c1, c2, c3 = ev.code(1), ev.code(2), ev.code(3)
    # plain SQL: a restatement, a new month, a deleted month, a fact moved to another enterprise
    await _sql(
        harness,
        "UPDATE accounts SET calculation_version = calculation_version + 5 WHERE credit_code = :c",
        c=c2,
    )
    await _sql(
        harness,
        "INSERT INTO accounts (credit_code, period, total_tco2, data_quality_score, factor_set, "
        "calculation_version) VALUES (:c, '2030-01', 1, 1, 'x', 7)",
        c=ev.code(9),
    )
    await _sql(harness, "DELETE FROM accounts WHERE credit_code = :c AND period = :p", c=c3, p=PERIODS[1])
    await _sql(
        harness,
        "UPDATE conduct_facts SET credit_code = :to, revision = revision + 1 WHERE credit_code = :c",
        c=c3,
        to=c1,
    )
    assert await _check(harness) == (5, 2)

    # every month of an enterprise deleted: no stamp, as the aggregate has no group
    await _sql(harness, "DELETE FROM accounts WHERE credit_code = :c", c=c3)
    assert await _check(harness) == (4, 2)

    # a rolled-back write leaves the stamps as they were
    async with harness.container.uow() as uow:
        await uow.session.execute(text("UPDATE accounts SET calculation_version = calculation_version + 1"))
        # not committed: leaving the unit of work rolls it back
    assert await _check(harness) == (4, 2)


async def test_restatement_in_plain_sql_behind_the_cache_is_read(harness, ev) -> None:
    """Not through the repository: a plain UPDATE of a cached month (higher version, new figures)
    changes the enterprise's stamp, so the next batch reads the month instead of using the cache."""
    c = ev.code(1)
    await harness.publish(
        *[ev.enterprise(i) for i in range(1, 8)],
        *[ev.account(i, p, "1000", "1000") for i in range(1, 8) for p in PERIODS],
    )
    await harness.settle()
    cache = harness.container.inputs
    assert cache._months[c]["2024-12"].month.total_tco2 == Decimal(1000)

    await _sql(
        harness,
        "UPDATE accounts SET total_tco2 = 13000, calculation_version = 2 "
        "WHERE credit_code = :c AND period = '2024-12'",
        c=c,
    )
    await harness.publish(ev.fact(1, "compliance.permit_violation", "2024-12", "0"))
    await harness.settle()
    async with harness.container.uow() as uow:
        details = (await uow.repo.current_ratings([c]))[c].details
    # (11 × 1000 + 13000) / (12 × 1000): the restated month, not the cached one
    assert Decimal(details["intensity"]) == Decimal(2)
    assert cache._months[c]["2024-12"].month.calculation_version == 2
