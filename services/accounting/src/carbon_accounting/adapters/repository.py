"""Every query of the accounting service (PostgreSQL via SQLAlchemy core, async).

The hot path is set-based: a batch's facts are written with ONE ``INSERT … ON CONFLICT`` into
``fact_history`` (the only fact table: the current facts are its highest revision per
``fact_key``), the current facts of all touched enterprise-months are read with ONE query (an
index scan per touched pair), and accounts are upserted in bulk.
"""

from __future__ import annotations

import dataclasses
import re
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from decimal import Decimal
from itertools import groupby
from operator import itemgetter
from typing import Any, NamedTuple

import orjson
from sqlalchemy import TextClause, func, select, text, update
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from carbon_accounting.adapters.orm import (
    accounts,
    enterprises,
    fact_history,
    factor_set_changes,
    factor_sets,
)
from carbon_accounting.domain.factors import FactorSet
from carbon_accounting.domain.model import NO_ATTRIBUTES, AccountFigures, CrossCheck, Enterprise, Fact
from carbon_accounting.domain.rollup import MonthlyAccount
from carbon_accounting.service_layer.ports import AccountState, FactorSetChange, Pair, StoredAccount
from carbon_common.db import TracedConnection, traced_connection
from carbon_common.events import AccountUpdated


class _Raw(NamedTuple):
    """A fixed statement for asyncpg directly: ``:name`` parameters turned into ``$n``."""

    sql: str
    names: tuple[str, ...]


def _raw(statement: TextClause) -> _Raw:
    names: list[str] = []

    def number(m: re.Match[str]) -> str:
        if m.group(1) not in names:
            names.append(m.group(1))
        return f"${names.index(m.group(1)) + 1}"

    return _Raw(re.sub(r"(?<![:\w]):(\w+)", number, str(statement)), tuple(names))


#: advisory-lock key serialising a factor-set restatement against consumer batches ("ACCT")
ACCOUNTS_LOCK_KEY = 0x41434354
#: advisory-lock key serialising factor-set changes and their audit entries ("FSET")
FACTOR_SETS_LOCK_KEY = 0x46534554
_CHANGE_COLUMNS = (
    "changed_at", "actor", "actor_org", "action", "set_id", "version", "digest",
    "previous_set_id", "previous_version", "reason",
)  # fmt: skip

_FIGURE_COLUMNS = (
    "scope1_combustion_tco2",
    "scope1_process_tco2",
    "scope2_location_tco2",
    "scope2_market_tco2",
    "scope3_tco2",
    "total_tco2",
    "output_quantity",
    "output_unit",
    "intensity_per_output",
    "revenue_10k_cny",
    "intensity_per_revenue",
    "value_added_10k_cny",
    "intensity_per_value_added",
    "data_quality_score",
    "fact_count",
    "factor_set",
)

#: the columns of ``Fact`` in its field order, so a row becomes a Fact positionally (``Fact(*row)``):
#: per-name attribute access on SQLAlchemy rows was a seventh of the consumer's CPU
_FACT_FIELDS = (
    "fact_key", "fact_id", "revision", "credit_code", "department", "record_id", "indicator",
    "period", "value", "unit", "evidence_hash", "authoritative", "attributes",
)  # fmt: skip
if Fact._fields != _FACT_FIELDS:  # pragma: no cover - guards the positional mapping
    raise ImportError("Fact's fields changed: update _FACT_FIELDS in the accounting repository")
#: the attributes come back as JSON text (decoded with orjson, and not at all when empty: most
#: facts have none) instead of through the driver's jsonb codec (the standard ``json`` module)
_FACT_SELECT = ", ".join(f"f.{c}" for c in _FACT_FIELDS[:-1]) + ", f.attributes::text"
#: one index scan (``ix_fact_history_credit_code_period``) per touched pair, whatever the
#: table's size: with a plain join against ``unnest`` the planner switched to hashing the whole
#: table at some sizes (a sequential scan per batch, ≈ 10 µs per row read instead of ≈ 0.8);
#: ``OFFSET 0`` keeps the subquery from being pulled up into such a join. Only current revisions
#: (``superseded`` is set when a higher revision is stored, ``upsert_facts``).
_PAIR_FACTS = (
    " FROM {pairs} CROSS JOIN LATERAL (SELECT * FROM fact_history f WHERE f.credit_code = p.credit_code"
    " AND f.period = p.period AND NOT f.superseded OFFSET 0) f"
)
_UNNEST_PAIRS = "unnest(CAST(:codes AS varchar[]), CAST(:periods AS varchar[])) AS p(credit_code, period)"
#: the hot path's pairs travel as ONE jsonb parameter (``[[code, period], ...]``, ``_pairs``)
#: instead of two varchar arrays: asyncpg's array codec checks every element against the
#: ``Iterable``/``Sized`` ABCs (see ``_UPSERT_FACTS_CTE``)
_JSON_PAIRS = "(SELECT j->>0 AS credit_code, j->>1 AS period FROM jsonb_array_elements(CAST(:pairs AS jsonb)) AS j) AS p"
_FACTS_FOR_PAIRS = text(f"SELECT {_FACT_SELECT}{_PAIR_FACTS.format(pairs=_UNNEST_PAIRS)}")
#: the consumer's read: only the columns ``domain.calculation.account_figures`` reads, at their
#: ``Fact`` positions (the others NULL: they cost nothing to send or decode), the attributes NULL
#: when empty (most facts) and otherwise decoded by the connection's jsonb codec; then each
#: pair's directory entry. No ``Fact`` is built per row (a fifth of the recomputation's CPU).
_FIGURE_ROWS_AND_ENTERPRISES = text(
    "SELECT f.fact_key, NULL, NULL, f.credit_code, f.department, NULL, f.indicator, f.period, f.value,"
    " NULL, NULL, f.authoritative, NULLIF(f.attributes, '{}'::jsonb),"
    f" e.industry_code, e.region_code, e.ets_participant, e.revision{_PAIR_FACTS.format(pairs=_JSON_PAIRS)}"
    " LEFT JOIN enterprises e ON e.credit_code = p.credit_code"
)
#: the enterprise-months that have current facts, and those whose account lost every fact to a
#: correction that moved it (a zero account, ``fact_count`` 0): restatements recompute both
_FACT_PAIRS = (
    "SELECT credit_code, period FROM fact_history WHERE NOT superseded{codes}"
    " UNION SELECT credit_code, period FROM accounts WHERE fact_count = 0{codes} ORDER BY 1, 2"
)
_CODES = " AND credit_code = ANY(CAST(:codes AS varchar[]))"
_N_FACT = len(_FACT_FIELDS)
_UPSERT_COLUMNS = (
    "fact_key", "fact_id", "revision", "credit_code", "department", "record_id", "indicator",
    "period", "value", "unit", "evidence_hash", "authoritative", "attributes",
)  # fmt: skip
_COLS = ", ".join(_UPSERT_COLUMNS)
# The batch travels as ONE jsonb parameter (an array of rows; numerics as decimal strings, cast
# server-side, so Decimal stays exact): asyncpg's array codec checks every element of every
# array parameter against three ABCs, which cost ~5 µs per fact (docs/performance-notes.md).
# With ``lock_accounts`` the same statement takes the shared accounts lock (the UNION ALL row
# makes sure it runs even when no fact changed): two round trips in one. Taking the lock here
# rather than before the upsert is safe: what it guards is the factor-set read and the
# recomputation, both in later statements.
#
# ONE table written per fact revision: ``fact_history``, whose key (fact_key, revision) is also
# the idempotency record, and whose ``superseded`` flag says whether a higher revision of the
# fact is stored (the current facts are the rows without it). Per input row, one probe of the
# primary key gives the stored revisions' range (``known``); the row is inserted superseded if a
# higher revision exists (a stale correction arriving late), and a new current revision marks
# its predecessors superseded (only corrections do: ``older``). All sub-statements see the
# statement's starting snapshot, so ``older`` never touches the rows being inserted. The
# statement returns the months of the inserted current revisions: a redelivered revision
# conflicts and returns nothing, a stale one returns nothing, so no month is recomputed and
# nothing is emitted; a correction also returns the month of the revision it superseded
# (``older``'s RETURNING), which differs when the correction moved the fact. There used to be
# an inbox row per event and a second table of current facts (an upsert): three heaps and four
# indexes per fact where there are now one and two (docs/performance-notes.md).
_UPSERT_FACTS_CTE = (
    "WITH input AS (SELECT e->>0 AS fact_key, e->>1 AS fact_id, (e->>2)::int AS revision,"
    " e->>3 AS credit_code, e->>4 AS department, e->>5 AS record_id, e->>6 AS indicator,"
    " e->>7 AS period, (e->>8)::numeric AS value, e->>9 AS unit, e->>10 AS evidence_hash,"
    " (e->>11)::boolean AS authoritative, e->12 AS attributes"
    " FROM jsonb_array_elements(CAST(:facts AS jsonb)) AS e),"
    " known AS (SELECT i.*, coalesce(k.hi > i.revision, false) AS superseded,"
    " coalesce(k.lo < i.revision, false) AS has_older FROM input i CROSS JOIN LATERAL"
    " (SELECT min(n.revision) AS lo, max(n.revision) AS hi FROM fact_history n"
    " WHERE n.fact_key = i.fact_key) k),"
    f" inserted AS (INSERT INTO fact_history ({_COLS}, superseded) SELECT {_COLS}, superseded FROM known"
    " ON CONFLICT DO NOTHING RETURNING fact_key, credit_code, period, superseded),"
    " older AS (UPDATE fact_history h SET superseded = true WHERE h.fact_key = ANY(ARRAY("
    "SELECT i.fact_key FROM inserted i JOIN known k USING (fact_key) WHERE k.has_older AND NOT i.superseded))"
    " AND NOT h.superseded RETURNING h.credit_code, h.period)"
)
#: the months that gained a current revision and the months of the revisions it superseded: a
#: correction may name another period or credit code than its predecessor (ingest accepts it as
#: new content), and the month it left must be recomputed too. ``older`` returns rows only for
#: corrections, so the common batch pays nothing for it.
_CHANGED = (
    " SELECT credit_code, period FROM inserted WHERE NOT superseded"
    " UNION ALL SELECT credit_code, period FROM older"
)
_UPSERT_FACTS = text(_UPSERT_FACTS_CTE + _CHANGED)
_UPSERT_FACTS_LOCKED = text(
    _UPSERT_FACTS_CTE.replace(
        "WITH ", "WITH lock AS MATERIALIZED (SELECT pg_advisory_xact_lock_shared(:lock_key)), ", 1
    )
    + _CHANGED
    + " UNION ALL SELECT NULL, NULL FROM lock"
)


def _json_default(value: Any) -> Any:
    """orjson's fallback: a Fact (a NamedTuple) as its fields, Decimal as its exact string,
    read-only mappings (``NO_ATTRIBUTES``) as dicts."""
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, tuple):
        return tuple(value)
    if isinstance(value, Mapping):
        return dict(value)
    raise TypeError(f"not JSON serialisable: {type(value).__name__}")


def _json(value: Any) -> str:
    return orjson.dumps(value, default=_json_default, option=orjson.OPT_NON_STR_KEYS).decode()


#: the contract's fields in its declaration order (the order ``model_dump_json`` writes them)
_EVENT_FIELDS = tuple(AccountUpdated.model_fields)
if _EVENT_FIELDS != (
    "credit_code", "period", "industry_code", "scope1_combustion_tco2", "scope1_process_tco2",
    "scope2_location_tco2", "scope2_market_tco2", "scope3_tco2", "total_tco2", "output_quantity",
    "output_unit", "intensity_per_output", "revenue_10k_cny", "intensity_per_revenue",
    "data_quality_score", "fact_count", "factor_set", "calculation_version",
):  # fmt: skip  # pragma: no cover - a field added to the contract must be written here too
    raise ImportError("AccountUpdated's fields changed: update account_payload in the accounting repository")


def _dec(value: Decimal | None) -> str | None:
    return None if value is None else str(value)  # pydantic writes a Decimal as str(value)


def account_json(account: StoredAccount) -> tuple[bytes, tuple[Any, ...]]:
    """One stored account → its ``AccountUpdated`` JSON (``account_payload``) and its row for the
    accounts upsert, from ONE conversion of each figure to its exact decimal string (they were
    converted twice: for the event and, through the JSON encoder's fallback, for the row)."""
    f = account.figures
    version = account.calculation_version
    s1c, s1p, s2l, s2m = (str(f.scope1_combustion_tco2), str(f.scope1_process_tco2),
                          str(f.scope2_location_tco2), str(f.scope2_market_tco2))  # fmt: skip
    s3, total, quality = str(f.scope3_tco2), str(f.total_tco2), str(f.data_quality_score)
    output, per_output = _dec(f.output_quantity), _dec(f.intensity_per_output)
    revenue, per_revenue = _dec(f.revenue_10k_cny), _dec(f.intensity_per_revenue)
    payload = orjson.dumps(
        {
            "credit_code": f.credit_code,
            "period": f.period,
            "industry_code": f.industry_code,
            "scope1_combustion_tco2": s1c,
            "scope1_process_tco2": s1p,
            "scope2_location_tco2": s2l,
            "scope2_market_tco2": s2m,
            "scope3_tco2": s3,
            "total_tco2": total,
            "output_quantity": output,
            "output_unit": f.output_unit,
            "intensity_per_output": per_output,
            "revenue_10k_cny": revenue,
            "intensity_per_revenue": per_revenue,
            "data_quality_score": quality,
            "fact_count": f.fact_count,
            "factor_set": f.factor_set,
            "calculation_version": version,
        }
    )
    check = f.cross_check
    row = (
        f.credit_code, f.period, f.industry_code, f.method, version, s1c, s1p, s2l, s2m, s3, total, output,
        f.output_unit, per_output, revenue, per_revenue, _dec(f.value_added_10k_cny),
        _dec(f.intensity_per_value_added), quality, f.fact_count, f.factor_set,
        *((None, None, None, None) if check is None else
          (str(check.verified_tco2), check.verified_by, check.computed_from, str(check.tolerance))),
    )  # fmt: skip
    return payload, row


def account_payload(figures: AccountFigures, calculation_version: int) -> bytes:
    """``AccountUpdated(...).model_dump_json().encode()`` for these figures, without the model."""
    return account_json(StoredAccount(figures, calculation_version))[0]


_ACCOUNT_TYPES = {
    "credit_code": "varchar",
    "period": "varchar",
    "industry_code": "varchar",
    "method": "varchar",
    "calculation_version": "int",
    **{c: "numeric" for c in _FIGURE_COLUMNS},
    "output_unit": "varchar",
    "fact_count": "int",
    "factor_set": "varchar",
    "verified_tco2": "numeric",
    "verified_by": "varchar",
    "computed_from": "varchar",
    "verification_tolerance": "numeric",
}
_ACCOUNT_COLUMNS = tuple(_ACCOUNT_TYPES)
#: the changed accounts travel as ONE jsonb array of rows (numerics as exact decimal strings, cast
#: server-side; see ``_UPSERT_FACTS_CTE`` for why not arrays); ``account_json`` writes a row
_UPSERT_ACCOUNTS = text(
    f"INSERT INTO accounts ({', '.join(_ACCOUNT_COLUMNS)}) SELECT "
    + ", ".join(
        f"e->>{i}" if t == "varchar" else f"(e->>{i})::{t}" for i, t in enumerate(_ACCOUNT_TYPES.values())
    )
    + " FROM jsonb_array_elements(CAST(:rows AS jsonb)) AS e"
    + " ON CONFLICT (credit_code, period) DO UPDATE SET "
    + ", ".join(f"{c} = excluded.{c}" for c in _ACCOUNT_COLUMNS if c not in ("credit_code", "period"))
    + ", updated_at = now()"
)
if (
    "credit_code", "period", "industry_code", "method", "calculation_version", *_FIGURE_COLUMNS,
    "verified_tco2", "verified_by", "computed_from", "verification_tolerance",
) != _ACCOUNT_COLUMNS:  # fmt: skip  # pragma: no cover - account_json writes the rows positionally
    raise ImportError("the accounts upsert's columns changed: update account_json")
#: ``AccountFigures`` fields in order (then the cross-check and the version): rows map positionally
_ACCOUNT_READ = ("credit_code", "period", "industry_code", "method", *_FIGURE_COLUMNS)
_ACCOUNTS_FOR_PAIRS = text(
    f"SELECT {', '.join('a.' + c for c in _ACCOUNT_READ)}, a.verified_tco2, a.verified_by,"
    " a.computed_from, a.verification_tolerance, a.calculation_version"
    f" FROM {_JSON_PAIRS} CROSS JOIN LATERAL (SELECT * FROM accounts a WHERE a.credit_code = p.credit_code"
    " AND a.period = p.period OFFSET 0) a"  # one primary-key probe per pair (as ``_PAIR_FACTS``)
)
_N_FIGURES = len(_ACCOUNT_READ)
#: ``AccountFigures.comparable()`` starts with the columns ``_ACCOUNT_READ[2:_N_COMPARABLE]``
_N_COMPARABLE = _ACCOUNT_READ.index("fact_count") + 1
if _ACCOUNT_READ[2:4] != ("industry_code", "method") or _ACCOUNT_READ[-1] != "factor_set":  # pragma: no cover
    raise ImportError("the accounts read changed: update account_states")
#: the hot path's statements go to asyncpg directly (prepared once per connection): no SQLAlchemy
#: statement handling or row processing per call (``SqlRepository._driver``)
_RAW_UPSERT_FACTS = _raw(_UPSERT_FACTS)
_RAW_UPSERT_FACTS_LOCKED = _raw(_UPSERT_FACTS_LOCKED)
_RAW_FIGURE_ROWS_AND_ENTERPRISES = _raw(_FIGURE_ROWS_AND_ENTERPRISES)
_PAIR_OF_ROW = itemgetter(3, 7)  # (credit_code, period) of a row in ``Fact`` positions
_RAW_ACCOUNTS_FOR_PAIRS = _raw(_ACCOUNTS_FOR_PAIRS)
_RAW_UPSERT_ACCOUNTS = _raw(_UPSERT_ACCOUNTS)
_RAW_ACTIVE_FACTOR_SET = _raw(text("SELECT id, version FROM factor_sets WHERE active"))


def _row_fact(row: Any) -> Fact:
    """A ``_FACT_SELECT`` row → Fact (positionally; the attributes are JSON text)."""
    attrs = row[_N_FACT - 1]
    return Fact._make((*row[: _N_FACT - 1], NO_ATTRIBUTES if attrs == "{}" else orjson.loads(attrs)))


def _fact(row: Any) -> Fact:
    return Fact(
        fact_key=row.fact_key,
        fact_id=row.fact_id,
        revision=row.revision,
        credit_code=row.credit_code,
        department=row.department,
        record_id=row.record_id,
        indicator=row.indicator,
        period=row.period,
        value=row.value,
        unit=row.unit,
        evidence_hash=row.evidence_hash,
        authoritative=row.authoritative,
        attributes=row.attributes or {},
    )


def _cross_check(row: Any) -> CrossCheck | None:
    if row.verified_tco2 is None:
        return None
    return CrossCheck(
        verified_tco2=row.verified_tco2,
        verified_by=row.verified_by or "",
        computed_tco2=row.total_tco2,
        computed_from=row.computed_from or "",
        tolerance=row.verification_tolerance,
    )


def _pairs(pairs: Iterable[Pair]) -> dict[str, str]:
    return {"pairs": orjson.dumps(list(pairs)).decode()}


def _split(pairs: Iterable[Pair]) -> dict[str, list[str]]:
    ps = list(pairs)
    return {"codes": [c for c, _ in ps], "periods": [p for _, p in ps]}


class SqlRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def _driver(self) -> TracedConnection:
        """The asyncpg connection under the session, inside the unit of work's transaction (each
        statement a CLIENT span, like SQLAlchemy's)."""
        return await traced_connection(self.session)

    async def _fetch(self, query: _Raw, params: dict[str, Any]) -> list[Any]:
        return list(await (await self._driver()).fetch(query.sql, *[params[n] for n in query.names]))

    async def lock_accounts(self, *, exclusive: bool) -> None:
        fn = "pg_advisory_xact_lock" if exclusive else "pg_advisory_xact_lock_shared"
        await self.session.execute(text(f"SELECT {fn}(:k)"), {"k": ACCOUNTS_LOCK_KEY})

    # --- directory read model ------------------------------------------------------------------
    async def upsert_enterprises(self, items: Sequence[Enterprise]) -> set[str]:
        latest: dict[str, Enterprise] = {}
        for e in items:
            if e.credit_code not in latest or e.revision >= latest[e.credit_code].revision:
                latest[e.credit_code] = e
        before = await self.enterprises(latest)
        stmt = insert(enterprises)
        stmt = stmt.on_conflict_do_update(
            index_elements=[enterprises.c.credit_code],
            set_={
                "industry_code": stmt.excluded.industry_code,
                "region_code": stmt.excluded.region_code,
                "ets_participant": stmt.excluded.ets_participant,
                "revision": stmt.excluded.revision,
                "updated_at": func.now(),
            },
            where=enterprises.c.revision <= stmt.excluded.revision,
        )
        await self.session.execute(
            stmt,
            [
                {
                    "credit_code": e.credit_code,
                    "industry_code": e.industry_code,
                    "region_code": e.region_code,
                    "ets_participant": e.ets_participant,
                    "revision": e.revision,
                }
                for e in latest.values()
            ],
        )
        changed: set[str] = set()
        for code, new in latest.items():
            old = before.get(code)
            if old is None or (new.revision >= old.revision and new.industry_code != old.industry_code):
                changed.add(code)
        return changed

    async def enterprises(self, credit_codes: Iterable[str]) -> dict[str, Enterprise]:
        codes = list(credit_codes)
        if not codes:
            return {}
        rows = await self.session.execute(select(enterprises).where(enterprises.c.credit_code.in_(codes)))
        return {
            r.credit_code: Enterprise(
                r.credit_code, r.industry_code, r.region_code, r.ets_participant, r.revision
            )
            for r in rows
        }

    # --- facts -----------------------------------------------------------------------------------
    async def upsert_facts(self, items: Sequence[Fact], *, lock_accounts: bool = False) -> set[Pair]:
        """The revisions into ``fact_history`` in ONE statement: one jsonb array in (with
        ``lock_accounts``, the statement also takes the shared accounts lock).

        Returns the (credit_code, period) pairs whose current facts changed: the months of the
        new current revisions and of the revisions they superseded (a correction may move a
        fact to another month or enterprise: both months change). A redelivered or stale
        revision changes nothing, so its month is not recomputed. ``items`` hold at most
        one revision per fact_key (``handlers.latest_revisions``).
        """
        if not items:
            if lock_accounts:
                await self.lock_accounts(exclusive=False)
            return set()
        params: dict[str, Any] = {"facts": _json(items)}
        if lock_accounts:
            params["lock_key"] = ACCOUNTS_LOCK_KEY
        rows = await self._fetch(_RAW_UPSERT_FACTS_LOCKED if lock_accounts else _RAW_UPSERT_FACTS, params)
        return {(code, period) for code, period in rows if code is not None}

    async def figure_rows_and_enterprises(
        self, pairs: Iterable[Pair]
    ) -> tuple[dict[Pair, list[Any]], dict[str, Enterprise]]:
        """The current facts of each pair as rows for ``account_figures`` (``Fact`` positions,
        only the columns the figures read), and the directory entries of their enterprises."""
        by_pair: dict[Pair, list[Any]] = {}
        ents: dict[str, Enterprise] = {}
        n = _N_FACT
        rows = await self._fetch(_RAW_FIGURE_ROWS_AND_ENTERPRISES, _pairs(pairs))
        # a pair's rows come together (one index scan per pair); ``groupby`` does not rely on it
        for pair, group in groupby(rows, key=_PAIR_OF_ROW):
            found = by_pair.get(pair)
            if found is not None:
                found.extend(group)
                continue
            by_pair[pair] = members = list(group)
            row = members[0]
            if row[n + 3] is not None and pair[0] not in ents:
                ents[pair[0]] = Enterprise(pair[0], *row[n : n + 4])
        return by_pair, ents

    async def facts_for(self, pairs: Iterable[Pair]) -> dict[Pair, list[Fact]]:
        out: dict[Pair, list[Fact]] = defaultdict(list)
        result = await self.session.execute(_FACTS_FOR_PAIRS, _split(pairs))
        for row in result.tuples():
            f = _row_fact(row)
            out[(f.credit_code, f.period)].append(f)
        return out

    async def fact_pairs(self, credit_codes: Iterable[str] | None = None) -> list[Pair]:
        params: dict[str, Any] = {}
        if credit_codes is not None:
            params["codes"] = list(credit_codes)
        sql = _FACT_PAIRS.format(codes=_CODES if params else "")
        rows = await self.session.execute(text(sql), params)
        return [(code, period) for code, period in rows.tuples()]

    async def fact_history(self, fact_key: str) -> list[Fact]:
        rows = await self.session.execute(
            select(fact_history).where(fact_history.c.fact_key == fact_key).order_by(fact_history.c.revision)
        )
        return [_fact(r) for r in rows]

    # --- accounts --------------------------------------------------------------------------------
    async def accounts(self, pairs: Iterable[Pair]) -> dict[Pair, StoredAccount]:
        out: dict[Pair, StoredAccount] = {}
        n = _N_FIGURES
        for row in await self._fetch(_RAW_ACCOUNTS_FOR_PAIRS, _pairs(pairs)):
            verified, by, source, tolerance, version = row[n:]
            check = (
                None
                if verified is None
                else CrossCheck(verified, by or "", row[9], source or "", tolerance)  # row[9]: total
            )
            out[(row[0], row[1])] = StoredAccount(AccountFigures(*row[:n], cross_check=check), version)  # type: ignore[misc]
        return out

    async def account_states(self, pairs: Iterable[Pair]) -> dict[Pair, AccountState]:
        """What the recomputation compares a new figure with: ``accounts(pairs)``, reduced to
        ``AccountFigures.comparable()``, the factor-set label and the version, read straight
        from the rows (the ``comparable`` fields are the columns from ``industry_code`` to
        ``fact_count``, in that order)."""
        out: dict[Pair, AccountState] = {}
        n = _N_FIGURES
        for row in await self._fetch(_RAW_ACCOUNTS_FOR_PAIRS, _pairs(pairs)):
            verified, by, source, tolerance, version = row[n:]
            if verified is None:
                tail: tuple[Any, ...] = (None, None, None)
            else:  # row[9]: total
                tail = (
                    verified,
                    by or "",
                    CrossCheck(verified, by or "", row[9], source or "", tolerance).discrepancy,
                )
            out[(row[0], row[1])] = AccountState((*row[2:_N_COMPARABLE], *tail), row[n - 1], version)
        return out

    async def upsert_accounts(
        self, items: Sequence[StoredAccount], rows: Sequence[tuple[Any, ...]] | None = None
    ) -> None:
        """All changed accounts in ONE fixed statement (a jsonb array of rows in); ``rows``: the
        accounts' rows from ``account_json`` when the caller has them already."""
        if not items:
            return
        if rows is None:
            rows = [account_json(a)[1] for a in items]
        await self._fetch(_RAW_UPSERT_ACCOUNTS, {"rows": orjson.dumps(rows).decode()})

    async def account(self, credit_code: str, period: str) -> StoredAccount | None:
        return (await self.accounts([(credit_code, period)])).get((credit_code, period))

    async def monthly_accounts(self, credit_code: str, first: str, last: str) -> list[MonthlyAccount]:
        rows = await self.session.execute(
            select(accounts)
            .where(accounts.c.credit_code == credit_code, accounts.c.period.between(first, last))
            .order_by(accounts.c.period)
        )
        return [
            MonthlyAccount(
                period=r.period,
                scope1_combustion_tco2=r.scope1_combustion_tco2,
                scope1_process_tco2=r.scope1_process_tco2,
                scope2_location_tco2=r.scope2_location_tco2,
                scope2_market_tco2=r.scope2_market_tco2,
                scope3_tco2=r.scope3_tco2,
                total_tco2=r.total_tco2,
                output_quantity=r.output_quantity,
                output_unit=r.output_unit,
                revenue_10k_cny=r.revenue_10k_cny,
                value_added_10k_cny=r.value_added_10k_cny,
                data_quality_score=Decimal(r.data_quality_score),
                fact_count=r.fact_count,
                factor_set=r.factor_set,
                calculation_version=r.calculation_version,
                cross_check=_cross_check(r),
            )
            for r in rows
        ]

    # --- factor sets -----------------------------------------------------------------------------
    async def active_factor_set_ref(self) -> tuple[str, str] | None:
        # read once per consumer batch: straight to asyncpg (``_driver``)
        rows = await self._fetch(_RAW_ACTIVE_FACTOR_SET, {})
        return None if not rows else (rows[0][0], rows[0][1])

    async def factor_set(self, set_id: str, version: str) -> FactorSet | None:
        content = (
            await self.session.execute(
                select(factor_sets.c.content).where(
                    factor_sets.c.id == set_id, factor_sets.c.version == version
                )
            )
        ).scalar_one_or_none()
        return None if content is None else FactorSet.from_dict(content)

    async def factor_sets(self) -> list[tuple[str, str, bool, str]]:
        rows = await self.session.execute(
            select(
                factor_sets.c.id, factor_sets.c.version, factor_sets.c.active, factor_sets.c.title
            ).order_by(factor_sets.c.id, factor_sets.c.created_at)
        )
        return [(r.id, r.version, r.active, r.title) for r in rows]

    async def add_factor_set(self, factor_set: FactorSet) -> bool:
        stmt = (
            insert(factor_sets)
            .values(
                id=factor_set.id,
                version=factor_set.version,
                title=factor_set.title,
                content=factor_set.to_dict(),
            )
            .on_conflict_do_nothing()
            .returning(factor_sets.c.id)
        )
        return (await self.session.execute(stmt)).first() is not None

    async def activate_factor_set(self, set_id: str, version: str) -> None:
        await self.session.execute(update(factor_sets).where(factor_sets.c.active).values(active=False))
        await self.session.execute(
            update(factor_sets)
            .where(factor_sets.c.id == set_id, factor_sets.c.version == version)
            .values(active=True, activated_at=func.now())
        )

    # --- factor-set audit trail ------------------------------------------------------------------
    async def lock_factor_sets(self) -> None:
        await self.session.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": FACTOR_SETS_LOCK_KEY})

    async def add_factor_set_change(self, change: FactorSetChange) -> FactorSetChange:
        values = {c: getattr(change, c) for c in _CHANGE_COLUMNS}
        stmt = factor_set_changes.insert().values(**values).returning(factor_set_changes.c.id)
        new_id = (await self.session.execute(stmt)).scalar_one()
        return dataclasses.replace(change, id=new_id)

    async def factor_set_changes(self, limit: int, before: int | None = None) -> list[FactorSetChange]:
        stmt = select(factor_set_changes).order_by(factor_set_changes.c.id.desc()).limit(limit)
        if before is not None:
            stmt = stmt.where(factor_set_changes.c.id < before)
        rows = await self.session.execute(stmt)
        return [FactorSetChange(**{c: getattr(r, c) for c in _CHANGE_COLUMNS}, id=r.id) for r in rows]
