"""The consumer's bulk writes: one fixed ``INSERT … SELECT FROM unnest(…)`` statement per table,
sent straight to asyncpg on the unit of work's connection (``carbon_common.db.traced_connection``:
each statement still gets the CLIENT span SQLAlchemy's instrumentation would give it).

Each statement takes one array per column, so its text never depends on the batch size: asyncpg
prepares it once per connection (its statement cache), and a batch of 5,000 rows costs one round
trip. (A multi-row ``VALUES`` built per batch was compiled afresh for every batch, with one bound
parameter per value: 70 % of the consumer's CPU in the profile, and a batch of more than 32,767
values — 2,979 ratings — was refused by asyncpg. The same statements through SQLAlchemy's
``text()`` then still cost its execution context, parameter processing and result wrapping per
call, 15 % of the process in the pilot replay's profile; docs/performance-notes.md, lending.)
The consumer's two loan reads are here too, for the same reason, and the label sync rides on
the read of the loans a rating moves (one round trip).

Numeric columns travel as text arrays cast to ``numeric[]`` on the server: asyncpg's binary
numeric encoder takes ~0.8 µs per ``Decimal``, ``str`` plus the text codec ~0.25 µs; the value
stored is the same (the column's scale rounds it either way). JSON goes as text, cast to jsonb.

The callers coalesce first, so no statement touches one conflict key twice (``ON CONFLICT DO
UPDATE`` would refuse it).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from carbon_common.db import traced_connection


def _unnest(columns: Sequence[tuple[str, str]], *, ordinality: bool = False, first: int = 1) -> str:
    """``unnest($1::t1[], …) AS u(name1, …)``: numeric and jsonb columns arrive as text arrays;
    ``ordinality`` adds the row's position as ``n``; ``first`` is the first parameter's number."""
    args = []
    for i, (_, sql_type) in enumerate(columns, start=first):
        if sql_type in ("numeric", "jsonb"):
            args.append(f"CAST(${i}::text[] AS {sql_type}[])")
        else:
            args.append(f"${i}::{sql_type}[]")
    names = [n for n, _ in columns] + (["n"] if ordinality else [])
    with_ordinality = " WITH ORDINALITY" if ordinality else ""
    return f"unnest({', '.join(args)}){with_ordinality} AS u({', '.join(names)})"


def _names(columns: Sequence[tuple[str, str]]) -> str:
    return ", ".join(n for n, _ in columns)


_RATING = (
    ("rating_id", "varchar"),
    ("credit_code", "varchar"),
    ("score", "numeric"),
    ("label", "varchar"),
    ("confidence", "numeric"),
    ("methodology_version", "varchar"),
    ("issued_at", "timestamptz"),
    ("as_of_period", "varchar"),
    ("transition_stage", "varchar"),
    ("vetoes", "jsonb"),
)
_HISTORY = (*_RATING, ("previous_label", "varchar"))

#: every rating into the history ($1-$11: a rating id already there is kept) and, in the same
#: statement (one round trip), the newest per enterprise ($12-$21) into ``current_ratings``,
#: where only a newer (issued_at, rating_id) replaces the current one; returns the ratings that won
ADD_RATINGS = (
    f"WITH history AS (INSERT INTO ratings ({_names(_HISTORY)}) SELECT {_names(_HISTORY)} "
    f"FROM {_unnest(_HISTORY)} ON CONFLICT DO NOTHING) "
    f"INSERT INTO current_ratings ({_names(_RATING)}) SELECT {_names(_RATING)} "
    f"FROM {_unnest(_RATING, first=len(_HISTORY) + 1)} "
    "ON CONFLICT (credit_code) DO UPDATE SET "
    + ", ".join(f"{n} = excluded.{n}" for n, _ in _RATING if n != "credit_code")
    + ", updated_at = now() "
    "WHERE (current_ratings.issued_at, current_ratings.rating_id) < (excluded.issued_at, excluded.rating_id) "
    "RETURNING rating_id"
)

_ACCOUNT = (
    ("credit_code", "varchar"),
    ("period", "varchar"),
    ("total_tco2", "numeric"),
    ("output_quantity", "numeric"),
    ("output_unit", "varchar"),
    ("data_quality_score", "numeric"),
    ("calculation_version", "integer"),
)
#: the highest calculation_version per enterprise-month wins (a replayed older one changes nothing)
UPSERT_ACCOUNTS = (
    f"INSERT INTO enterprise_emissions ({_names(_ACCOUNT)}) SELECT {_names(_ACCOUNT)} FROM {_unnest(_ACCOUNT)} "
    "ON CONFLICT (credit_code, period) DO UPDATE SET "
    + ", ".join(f"{n} = excluded.{n}" for n, _ in _ACCOUNT[2:])
    + ", updated_at = now() "
    "WHERE enterprise_emissions.calculation_version <= excluded.calculation_version"
)

_FINANCE = (
    ("credit_code", "varchar"),
    ("indicator", "varchar"),
    ("period", "varchar"),
    ("value", "numeric"),
    ("unit", "varchar"),
    ("authoritative", "boolean"),
    ("recorded_at", "timestamptz"),
    ("fact_id", "varchar"),
)
#: the authoritative source wins; then the later record (a correction supersedes)
UPSERT_FINANCE = (
    f"INSERT INTO enterprise_finance ({_names(_FINANCE)}) SELECT {_names(_FINANCE)} FROM {_unnest(_FINANCE)} "
    "ON CONFLICT (credit_code, indicator, period) DO UPDATE SET "
    + ", ".join(f"{n} = excluded.{n}" for n, _ in _FINANCE[3:])
    + " WHERE (enterprise_finance.authoritative, enterprise_finance.recorded_at)"
    " <= (excluded.authoritative, excluded.recorded_at)"
)

_ENTERPRISE = (
    ("credit_code", "varchar"),
    ("name", "varchar"),
    ("industry_code", "varchar"),
    ("region_code", "varchar"),
    ("size_class", "varchar"),
    ("transition_stage", "varchar"),
    ("ets_participant", "boolean"),
    ("revision", "integer"),
)
#: the highest revision wins (an equal one is written again: a redelivery changes nothing)
UPSERT_ENTERPRISES = (
    f"INSERT INTO enterprises ({_names(_ENTERPRISE)}) SELECT {_names(_ENTERPRISE)} FROM {_unnest(_ENTERPRISE)} "
    "ON CONFLICT (credit_code) DO UPDATE SET "
    + ", ".join(f"{n} = excluded.{n}" for n, _ in _ENTERPRISE[1:])
    + ", updated_at = now() WHERE enterprises.revision <= excluded.revision"
)

_OBJECTION = (
    ("objection_id", "varchar"),
    ("credit_code", "varchar"),
    ("rating_id", "varchar"),
    ("state", "varchar"),
    ("open", "boolean"),
    ("sequence", "integer"),
    ("changed_at", "timestamptz"),
)
#: a change replaces the held one only if its (sequence, changed_at) is higher
UPSERT_OBJECTIONS = (
    f"INSERT INTO rating_objections ({_names(_OBJECTION)}) SELECT {_names(_OBJECTION)} FROM {_unnest(_OBJECTION)} "
    "ON CONFLICT (objection_id) DO UPDATE SET "
    + ", ".join(f"{n} = excluded.{n}" for n, _ in _OBJECTION[1:])
    + ", updated_at = now() "
    "WHERE (rating_objections.sequence, rating_objections.changed_at) < (excluded.sequence, excluded.changed_at)"
)

_RATE_CHANGE = (
    ("loan_id", "varchar"),
    ("effective_from", "date"),
    ("rate_pct", "numeric"),
    ("ratchet_bp", "numeric"),
    ("rating_id", "varchar"),
)
#: a repricing's rate change (a later observation before the date replaces the pending one)
SAVE_RATE_CHANGES = (
    f"INSERT INTO loan_rate_changes ({_names(_RATE_CHANGE)}) SELECT {_names(_RATE_CHANGE)} "
    f"FROM {_unnest(_RATE_CHANGE)} "
    "ON CONFLICT (loan_id, effective_from) DO UPDATE SET rate_pct = excluded.rate_pct, "
    "ratchet_bp = excluded.ratchet_bp, rating_id = excluded.rating_id"
)
_RATCHET = (("loan_id", "varchar"), ("ratchet_bp", "numeric"))
SET_RATCHETS = (
    f"UPDATE loans SET ratchet_bp = u.ratchet_bp, updated_at = now() FROM {_unnest(_RATCHET)} "
    "WHERE loans.loan_id = u.loan_id"
)
_LOAN_EVENT = (
    ("event_id", "varchar"),
    ("bank_id", "varchar"),
    ("loan_id", "varchar"),
    ("credit_code", "varchar"),
    ("kind", "varchar"),
    ("payload", "jsonb"),
)
#: in the order given (the events' sequence numbers follow it)
ADD_LOAN_EVENTS = (
    f"INSERT INTO loan_events ({_names(_LOAN_EVENT)}) SELECT {_names(_LOAN_EVENT)} "
    f"FROM {_unnest(_LOAN_EVENT, ordinality=True)} ORDER BY n"
)

#: a loan's state for repricing (``repository.loan_state_of`` reads it by position), with the rate
#: in force on $1 (the latest rate change already effective, else the origination rate)
_LOAN_STATE = (
    "l.loan_id, l.bank_id, l.credit_code, l.product, l.outstanding_cny, l.drawn_on, l.status, "
    "l.rate_pct, l.ratchet_bp, l.origin_label, l.current_label, l.allowance_quantity_t, "
    "l.margin_call_open, l.kpi_targets::text, l.rating_id, "
    "coalesce((SELECT c.rate_pct FROM loan_rate_changes AS c WHERE c.loan_id = l.loan_id "
    "AND c.effective_from <= $1 ORDER BY c.effective_from DESC LIMIT 1), l.rate_pct)"
)
_LABEL = (("credit_code", "varchar"), ("label", "varchar"), ("rating_id", "varchar"), ("vetoed", "boolean"))
#: every open loan of these enterprises ($2-$5, one row per enterprise) gets their new current
#: label and rating id; returns, as they were before (a data-modifying WITH is not seen by the
#: statement's own reads), the open loans the new rating can move or alert on: those whose label
#: is not already the rating's, and all of them when it carries vetoes
RELABEL_LOANS = (
    f"WITH u AS (SELECT * FROM {_unnest(_LABEL, first=2)}), "
    "synced AS (UPDATE loans SET current_label = u.label, rating_id = u.rating_id FROM u "
    "WHERE loans.credit_code = u.credit_code AND loans.status <> 'repaid') "
    f"SELECT {_LOAN_STATE} FROM loans AS l JOIN u ON l.credit_code = u.credit_code "
    "WHERE l.status <> 'repaid' AND (l.current_label IS DISTINCT FROM u.label OR u.vetoed)"
)
#: the open KPI-linked loans of the enterprises in $2
KPI_LOANS = (
    f"SELECT {_LOAN_STATE} FROM loans AS l "
    "WHERE l.credit_code = ANY($2::varchar[]) AND l.status <> 'repaid' AND l.kpi_targets IS NOT NULL"
)


def _text(values: Sequence[Any]) -> list[str | None]:
    """A numeric (or JSON-text) column as text: ``str`` of a ``Decimal`` is exact."""
    return [None if v is None else str(v) for v in values]


def columns(rows: Sequence[Sequence[Any]], names: Sequence[tuple[str, str]]) -> list[list[Any]]:
    """Positional rows → one list per column (the statements' array parameters, in order)."""
    cols: list[list[Any]] = [list(c) for c in zip(*rows, strict=True)] if rows else [[] for _ in names]
    if len(cols) != len(names):
        raise ValueError(f"rows have {len(cols)} columns, the statement {len(names)}")
    return [_text(c) if t in ("numeric", "jsonb") else c for c, (_, t) in zip(cols, names, strict=True)]


async def _execute(session: AsyncSession, statement: str, args: Sequence[Any]) -> None:
    await (await traced_connection(session)).execute(statement, *args)


async def _fetch(session: AsyncSession, statement: str, args: Sequence[Any]) -> list[Any]:
    rows: list[Any] = await (await traced_connection(session)).fetch(statement, *args)
    return rows


RatingRow = tuple[str, str, Decimal, str, Decimal, str, datetime, str, str, str]
"""(rating_id, credit_code, score, label, confidence, methodology_version, issued_at,
as_of_period, transition_stage, vetoes as a JSON text)"""


async def add_ratings(
    session: AsyncSession,
    history: Sequence[RatingRow],
    previous_labels: Sequence[str | None],
    newest: Sequence[RatingRow],
) -> set[str]:
    """All of ``history`` into the history, ``newest`` (at most one per enterprise) competing to
    become current; returns the ids of the ratings that became current."""
    args = [*columns(history, _RATING), list(previous_labels), *columns(newest, _RATING)]
    return {r[0] for r in await _fetch(session, ADD_RATINGS, args)}


async def upsert_accounts(session: AsyncSession, rows: Sequence[Sequence[Any]]) -> None:
    """Rows: (credit_code, period, total_tco2, output_quantity, output_unit, data_quality_score,
    calculation_version), at most one per enterprise-month."""
    await _execute(session, UPSERT_ACCOUNTS, columns(rows, _ACCOUNT))


async def upsert_finance(session: AsyncSession, rows: Sequence[Sequence[Any]]) -> None:
    """Rows: (credit_code, indicator, period, value, unit, authoritative, recorded_at, fact_id),
    at most one per (enterprise, indicator, period)."""
    await _execute(session, UPSERT_FINANCE, columns(rows, _FINANCE))


async def upsert_enterprises(session: AsyncSession, rows: Sequence[Sequence[Any]]) -> None:
    """Rows: (credit_code, name, industry_code, region_code, size_class, transition_stage,
    ets_participant, revision), at most one per enterprise."""
    await _execute(session, UPSERT_ENTERPRISES, columns(rows, _ENTERPRISE))


async def upsert_objections(session: AsyncSession, rows: Sequence[Sequence[Any]]) -> None:
    """Rows: (objection_id, credit_code, rating_id, state, open, sequence, changed_at), at most
    one per objection."""
    await _execute(session, UPSERT_OBJECTIONS, columns(rows, _OBJECTION))


async def save_rate_changes(session: AsyncSession, rows: Sequence[Sequence[Any]]) -> None:
    """Rows: (loan_id, effective_from, rate_pct, ratchet_bp, rating_id), at most one per loan;
    each loan's ``ratchet_bp`` is set too."""
    cols = columns(rows, _RATE_CHANGE)
    await _execute(session, SAVE_RATE_CHANGES, cols)
    await _execute(session, SET_RATCHETS, [cols[0], cols[3]])


async def add_loan_events(session: AsyncSession, rows: Sequence[Sequence[Any]]) -> None:
    """Rows: (event_id, bank_id, loan_id, credit_code, kind, payload as JSON text)."""
    await _execute(session, ADD_LOAN_EVENTS, columns(rows, _LOAN_EVENT))


async def relabel_loans(
    session: AsyncSession, today: date, rows: Sequence[tuple[str, str, str, bool]]
) -> list[Any]:
    """Rows: (credit_code, label, rating_id, vetoed), at most one per enterprise; returns the
    moved loans' rows (``_LOAN_STATE``) as they were before."""
    return await _fetch(session, RELABEL_LOANS, [today, *columns(rows, _LABEL)])


async def kpi_loans(session: AsyncSession, today: date, credit_codes: Sequence[str]) -> list[Any]:
    """The open KPI-linked loans' rows (``_LOAN_STATE``) of these enterprises."""
    return await _fetch(session, KPI_LOANS, [today, list(credit_codes)])
