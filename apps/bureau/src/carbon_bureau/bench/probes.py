"""Read-only looks into the four service databases (progress, completion, verification).

The bench is an operator tool, not a service: reading the services' tables read-only to verify
them is allowed (services themselves never do). Every query is restricted to the dataset's
credit codes, because the broker and the consumer groups are shared with other stacks.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from decimal import Decimal

import asyncpg

from carbon_accounting.domain.units import ACCOUNTED_EXACT, ACCOUNTED_PREFIXES
from carbon_common.outbox import PENDING_ROWS_SQL

from .verify import Observed

#: the indicator families accounting applies (the others are rating's: compliance, ETS, ...)
_ACCOUNTED = "(indicator = ANY($2) OR indicator LIKE ANY($3))"
_FAMILIES = (sorted(ACCOUNTED_EXACT), [p + "%" for p in ACCOUNTED_PREFIXES])


def dsn(sqlalchemy_url: str) -> str:
    return re.sub(r"^postgresql\+asyncpg://", "postgresql://", sqlalchemy_url)


@dataclass(slots=True)
class Progress:
    ingest_accepted: int
    ingest_accounted: int
    accounted_revisions: int
    accounting_accounts: int
    accounting_versions: int
    rating_accounts: int
    rating_versions: int
    rated: int
    lending_in_step: int
    outbox_pending: int
    #: (facts, Σ revision) of ingest's heads in accounting's families and of accounting's current
    #: facts: equal once accounting holds the latest revision of every fact (it may apply fewer
    #: revisions than ingest accepted: within a batch only a fact's correction is applied)
    ingest_current: tuple[int, int] = (0, 0)
    accounting_current: tuple[int, int] = (0, 0)

    def accounted(self) -> bool:
        return self.accounting_current == self.ingest_current

    def complete(self, expected_accepted: int, enterprises: int) -> bool:
        return (
            self.ingest_accepted == expected_accepted
            and self.accounted()
            and self.outbox_pending == 0
            and self.rating_accounts == self.accounting_accounts
            and self.rating_versions == self.accounting_versions
            and self.rated == enterprises
            and self.lending_in_step == enterprises
        )


#: the probe's connections, told apart from the services' (the per-service PostgreSQL CPU)
PROBE_APP = "carbon-bench-probe"


class Probe:
    """One small pool per service database; ``codes`` is the dataset's enterprises."""

    def __init__(self, urls: dict[str, str], codes: list[str]) -> None:
        self.urls = urls
        self.codes = codes
        self.pools: dict[str, asyncpg.Pool] = {}
        #: counts that reached their final value, for the expectation they were taken under (``progress``)
        self._settled_for: int | None = None
        self._ingest_settled: tuple[int, int, tuple[int, int]] | None = None
        self._accounting_settled: tuple[int, tuple[int, int]] | None = None

    async def open(self) -> None:
        for name, url in self.urls.items():
            self.pools[name] = await asyncpg.create_pool(
                dsn(url), min_size=1, max_size=2, server_settings={"application_name": PROBE_APP}
            )

    async def backend_pids(self) -> dict[str, list[int]]:
        """Per service: the PostgreSQL backends serving its database (the probe's own excluded)."""
        out: dict[str, list[int]] = {}
        for name, pool in self.pools.items():
            rows = await pool.fetch(
                "SELECT pid FROM pg_stat_activity WHERE datname = current_database() "
                "AND backend_type = 'client backend' AND application_name IS DISTINCT FROM $1",
                PROBE_APP,
            )
            out[name] = [int(r[0]) for r in rows]
        return out

    async def close(self) -> None:
        for pool in self.pools.values():
            await pool.close()

    async def _val(self, db: str, sql: str, *args: object) -> int:
        return int(await self.pools[db].fetchval(sql, *args) or 0)

    async def _accounted(self, table: str) -> int:
        sql = f"SELECT count(*) FROM {table} WHERE credit_code = ANY($1) AND {_ACCOUNTED}"
        return await self._val("ingest", sql, self.codes, *_FAMILIES)

    async def _accounted_current(self) -> tuple[int, int]:
        """(facts, Σ revision) of ingest's heads in accounting's families."""
        row = await self.pools["ingest"].fetchrow(
            f"SELECT count(*), coalesce(sum(revision), 0) FROM fact_heads WHERE credit_code = ANY($1) AND {_ACCOUNTED}",
            self.codes,
            *_FAMILIES,
        )
        return int(row[0]), int(row[1])

    async def _accounting_current(self) -> tuple[int, int]:
        """(facts, Σ revision) of accounting's current facts (its ``facts`` view)."""
        row = await self.pools["accounting"].fetchrow(
            "SELECT count(*), coalesce(sum(revision), 0) FROM facts WHERE credit_code = ANY($1)", self.codes
        )
        return int(row[0]), int(row[1])

    async def estimate(self) -> tuple[int, int]:
        """(facts ingest inserted, fact revisions accounting inserted) from PostgreSQL's statistics
        (up to a second behind): the progress bars while the replay sends. The exact counts scan
        the tables; polled every 5 s they cost the server 13 CPU-s of a 110 s full-pilot replay."""
        sql = "SELECT coalesce(sum(n_tup_ins), 0) FROM pg_stat_user_tables WHERE relname = $1"
        return await self._val("ingest", sql, "facts"), await self._val("accounting", sql, "fact_history")

    async def server_version(self) -> str:
        return str(await self.pools["ingest"].fetchval("SHOW server_version"))

    async def progress(self, expect_accepted: int | None = None) -> Progress:
        """The pipeline's counts. With ``expect_accepted``, ingest's counts are taken again only
        until its accepted facts reach it, and accounting's only until its current facts equal
        ingest's: those tables only grow, so a count that has reached its final value stays there,
        and the drain phase's polling (every 0.5 s) stops costing the server table scans. Without
        it (the later phases add facts) every count is taken afresh. The verification recounts all."""
        c = self.codes
        if expect_accepted is None or expect_accepted != self._settled_for:
            self._settled_for, self._ingest_settled, self._accounting_settled = expect_accepted, None, None
        pending = 0
        for db in ("ingest", "accounting", "rating"):
            pending += await self._val(db, PENDING_ROWS_SQL)
        rating = await self.rating_current()
        lending = await self.lending_current()
        acc = await self.pools["accounting"].fetchrow(
            "SELECT count(*), coalesce(sum(calculation_version), 0) FROM accounts WHERE credit_code = ANY($1)",
            c,
        )
        rat = await self.pools["rating"].fetchrow(
            "SELECT count(*), coalesce(sum(calculation_version), 0) FROM accounts WHERE credit_code = ANY($1)",
            c,
        )
        if self._ingest_settled is not None:
            accepted, accounted, current = self._ingest_settled
        else:
            accepted = await self._val("ingest", "SELECT count(*) FROM facts WHERE credit_code = ANY($1)", c)
            accounted = await self._accounted("facts")
            current = await self._accounted_current()
            if expect_accepted is not None and accepted == expect_accepted:
                self._ingest_settled = (accepted, accounted, current)
        if self._accounting_settled is not None:
            applied, acc_current = self._accounting_settled
        else:
            applied = await self._val(
                "accounting", "SELECT count(*) FROM fact_history WHERE credit_code = ANY($1)", c
            )
            acc_current = await self._accounting_current()
            if self._ingest_settled is not None and acc_current == current:
                self._accounting_settled = (applied, acc_current)
        return Progress(
            ingest_accepted=accepted,
            ingest_accounted=accounted,
            accounted_revisions=applied,
            accounting_accounts=int(acc[0]),
            accounting_versions=int(acc[1]),
            rating_accounts=int(rat[0]),
            rating_versions=int(rat[1]),
            rated=len(rating),
            lending_in_step=sum(1 for k, v in rating.items() if lending.get(k) == v),
            outbox_pending=pending,
            ingest_current=current,
            accounting_current=acc_current,
        )

    async def rating_current(self) -> dict[str, str]:
        rows = await self.pools["rating"].fetch(
            "SELECT credit_code, rating_id FROM ratings WHERE is_current AND credit_code = ANY($1)",
            self.codes,
        )
        return {r[0]: r[1] for r in rows}

    async def lending_current(self) -> dict[str, str]:
        rows = await self.pools["lending"].fetch(
            "SELECT credit_code, rating_id FROM current_ratings WHERE credit_code = ANY($1)", self.codes
        )
        return {r[0]: r[1] for r in rows}

    async def observed(self) -> Observed:
        c = self.codes
        acc_current = await self._accounting_current()
        rows = await self.pools["accounting"].fetch(
            "SELECT credit_code, period, scope1_combustion_tco2, scope1_process_tco2, scope2_location_tco2,"
            " total_tco2 FROM accounts WHERE credit_code = ANY($1)",
            c,
        )
        accounts: dict[str, dict[str, tuple[Decimal, Decimal, Decimal, Decimal]]] = {}
        for r in rows:
            accounts.setdefault(r[0], {})[r[1]] = (Decimal(r[2]), Decimal(r[3]), Decimal(r[4]), Decimal(r[5]))
        return Observed(
            ingest_accepted=await self._val(
                "ingest", "SELECT count(*) FROM facts WHERE credit_code = ANY($1)", c
            ),
            ingest_facts=await self._val(
                "ingest", "SELECT count(*) FROM fact_heads WHERE credit_code = ANY($1)", c
            ),
            ingest_accounted_revisions=await self._accounted("facts"),
            ingest_accounted_facts=await self._accounted("fact_heads"),
            accounted_revisions=await self._val(
                "accounting", "SELECT count(*) FROM fact_history WHERE credit_code = ANY($1)", c
            ),
            accounted_facts=acc_current[0],
            accounted_revision_sum=acc_current[1],
            ingest_accounted_revision_sum=(await self._accounted_current())[1],
            accounts=accounts,
            rating_current=await self.rating_current(),
            lending_current=await self.lending_current(),
        )

    async def accounting_span(self) -> float | None:
        """Seconds between the first and the last fact accounting applied (its commit clock)."""
        row = await self.pools["accounting"].fetchrow(
            "SELECT extract(epoch FROM max(received_at) - min(received_at)) FROM fact_history"
            " WHERE credit_code = ANY($1)",
            self.codes,
        )
        return float(row[0]) if row and row[0] is not None else None
