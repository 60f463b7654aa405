"""The consumer's bulk writes: one fixed ``INSERT … SELECT FROM unnest(…)`` statement per table.

Each statement takes one array per column, so its text never depends on the batch size: it is
compiled once by SQLAlchemy, prepared once per connection by asyncpg, and a batch of 5,000 rows
costs one round trip with the values encoded by asyncpg's binary codecs. (A multi-row ``VALUES``
built per batch was compiled afresh for every batch, with one bound parameter per value: 70 % of
the consumer's CPU in the profile, and a batch of more than 32,767 values — 2,979 ratings — was
refused by asyncpg, an error the bus took for transient and retried forever;
docs/performance-notes.md, lending, issue 6.)

The callers coalesce first, so no statement touches one conflict key twice (``ON CONFLICT DO
UPDATE`` would refuse it).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession


def _unnest(columns: Sequence[tuple[str, str]]) -> str:
    return "unnest(" + ", ".join(f"CAST(:{name} AS {sql_type}[])" for name, sql_type in columns) + ")"


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
_RATING_NAMES = ", ".join(n for n, _ in _RATING)

ADD_RATING_HISTORY = text(
    f"INSERT INTO ratings ({_RATING_NAMES}, previous_label) "
    f"SELECT * FROM {_unnest([*_RATING, ('previous_label', 'varchar')])} ON CONFLICT DO NOTHING"
)

#: only a newer (issued_at, rating_id) replaces the current one; returns the ratings that won
SET_CURRENT_RATINGS = text(
    f"INSERT INTO current_ratings ({_RATING_NAMES}) SELECT * FROM {_unnest(_RATING)} "
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
UPSERT_ACCOUNTS = text(
    f"INSERT INTO enterprise_emissions ({', '.join(n for n, _ in _ACCOUNT)}) SELECT * FROM {_unnest(_ACCOUNT)} "
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
UPSERT_FINANCE = text(
    f"INSERT INTO enterprise_finance ({', '.join(n for n, _ in _FINANCE)}) SELECT * FROM {_unnest(_FINANCE)} "
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
UPSERT_ENTERPRISES = text(
    f"INSERT INTO enterprises ({', '.join(n for n, _ in _ENTERPRISE)}) SELECT * FROM {_unnest(_ENTERPRISE)} "
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
UPSERT_OBJECTIONS = text(
    f"INSERT INTO rating_objections ({', '.join(n for n, _ in _OBJECTION)}) SELECT * FROM {_unnest(_OBJECTION)} "
    "ON CONFLICT (objection_id) DO UPDATE SET "
    + ", ".join(f"{n} = excluded.{n}" for n, _ in _OBJECTION[1:])
    + ", updated_at = now() "
    "WHERE (rating_objections.sequence, rating_objections.changed_at) < (excluded.sequence, excluded.changed_at)"
)

#: a repricing's rate change (a later observation before the date replaces the pending one)
SAVE_RATE_CHANGES = text(
    "INSERT INTO loan_rate_changes (loan_id, effective_from, rate_pct, ratchet_bp, rating_id) "
    "SELECT * FROM unnest(CAST(:loan_id AS varchar[]), CAST(:effective_from AS date[]), "
    "CAST(:rate_pct AS numeric[]), CAST(:ratchet_bp AS numeric[]), CAST(:rating_id AS varchar[])) "
    "ON CONFLICT (loan_id, effective_from) DO UPDATE SET rate_pct = excluded.rate_pct, "
    "ratchet_bp = excluded.ratchet_bp, rating_id = excluded.rating_id"
)
SET_RATCHETS = text(
    "UPDATE loans SET ratchet_bp = u.ratchet_bp, updated_at = now() "
    "FROM unnest(CAST(:loan_id AS varchar[]), CAST(:ratchet_bp AS numeric[])) AS u(loan_id, ratchet_bp) "
    "WHERE loans.loan_id = u.loan_id"
)
#: in the order given (the events' sequence numbers follow it)
ADD_LOAN_EVENTS = text(
    "INSERT INTO loan_events (event_id, bank_id, loan_id, credit_code, kind, payload) "
    "SELECT event_id, bank_id, loan_id, credit_code, kind, payload FROM unnest("
    "CAST(:event_id AS varchar[]), CAST(:bank_id AS varchar[]), CAST(:loan_id AS varchar[]), "
    "CAST(:credit_code AS varchar[]), CAST(:kind AS varchar[]), CAST(:payload AS jsonb[])) "
    "WITH ORDINALITY AS u(event_id, bank_id, loan_id, credit_code, kind, payload, n) ORDER BY n"
)

#: every open loan of these enterprises carries their current label and rating
SYNC_LABELS = text(
    "UPDATE loans SET current_label = u.label, rating_id = u.rating_id "
    "FROM unnest(CAST(:credit_code AS varchar[]), CAST(:label AS varchar[]), CAST(:rating_id AS varchar[])) "
    "AS u(credit_code, label, rating_id) "
    "WHERE loans.credit_code = u.credit_code AND loans.status <> 'repaid'"
)


def columns(rows: Sequence[Sequence[Any]], names: Sequence[tuple[str, str]]) -> dict[str, list[Any]]:
    """Positional rows → one list per column (the statements' array parameters)."""
    cols: list[list[Any]] = [list(c) for c in zip(*rows, strict=True)] if rows else [[] for _ in names]
    return {name: col for (name, _), col in zip(names, cols, strict=True)}


RatingRow = tuple[str, str, Decimal, str, Decimal, str, datetime, str, str, str]
"""(rating_id, credit_code, score, label, confidence, methodology_version, issued_at,
as_of_period, transition_stage, vetoes as a JSON text)"""


async def add_rating_history(
    session: AsyncSession, rows: Sequence[RatingRow], previous_labels: Sequence[str | None]
) -> None:
    params = columns(rows, _RATING) | {"previous_label": list(previous_labels)}
    await session.execute(ADD_RATING_HISTORY, params)


async def set_current_ratings(session: AsyncSession, rows: Sequence[RatingRow]) -> set[str]:
    result = await session.execute(SET_CURRENT_RATINGS, columns(rows, _RATING))
    return set(result.scalars().all())


async def upsert_accounts(session: AsyncSession, rows: Sequence[Sequence[Any]]) -> None:
    """Rows: (credit_code, period, total_tco2, output_quantity, output_unit, data_quality_score,
    calculation_version), at most one per enterprise-month."""
    await session.execute(UPSERT_ACCOUNTS, columns(rows, _ACCOUNT))


async def upsert_finance(session: AsyncSession, rows: Sequence[Sequence[Any]]) -> None:
    """Rows: (credit_code, indicator, period, value, unit, authoritative, recorded_at, fact_id),
    at most one per (enterprise, indicator, period)."""
    await session.execute(UPSERT_FINANCE, columns(rows, _FINANCE))


async def upsert_enterprises(session: AsyncSession, rows: Sequence[Sequence[Any]]) -> None:
    """Rows: (credit_code, name, industry_code, region_code, size_class, transition_stage,
    ets_participant, revision), at most one per enterprise."""
    await session.execute(UPSERT_ENTERPRISES, columns(rows, _ENTERPRISE))


async def upsert_objections(session: AsyncSession, rows: Sequence[Sequence[Any]]) -> None:
    """Rows: (objection_id, credit_code, rating_id, state, open, sequence, changed_at), at most
    one per objection."""
    await session.execute(UPSERT_OBJECTIONS, columns(rows, _OBJECTION))


async def save_rate_changes(session: AsyncSession, rows: Sequence[Sequence[Any]]) -> None:
    """Rows: (loan_id, effective_from, rate_pct, ratchet_bp, rating_id), at most one per loan;
    each loan's ``ratchet_bp`` is set too."""
    names = (("loan_id", ""), ("effective_from", ""), ("rate_pct", ""), ("ratchet_bp", ""), ("rating_id", ""))
    params = columns(rows, names)
    await session.execute(SAVE_RATE_CHANGES, params)
    await session.execute(SET_RATCHETS, {"loan_id": params["loan_id"], "ratchet_bp": params["ratchet_bp"]})


async def add_loan_events(session: AsyncSession, rows: Sequence[Sequence[Any]]) -> None:
    """Rows: (event_id, bank_id, loan_id, credit_code, kind, payload as JSON text)."""
    names = (
        ("event_id", ""),
        ("bank_id", ""),
        ("loan_id", ""),
        ("credit_code", ""),
        ("kind", ""),
        ("payload", ""),
    )
    await session.execute(ADD_LOAN_EVENTS, columns(rows, names))


async def sync_labels(session: AsyncSession, rows: Sequence[tuple[str, str, str]]) -> None:
    """Rows: (credit_code, label, rating_id), at most one per enterprise."""
    names = (("credit_code", ""), ("label", ""), ("rating_id", ""))
    await session.execute(SYNC_LABELS, columns(rows, names))
