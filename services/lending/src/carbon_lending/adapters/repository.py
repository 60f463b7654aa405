"""All of lending's queries. Writes on hot paths are bulk statements (multi-row VALUES,
executemany, INSERT … ON CONFLICT); nothing here commits — the unit of work does.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import replace
from datetime import date, datetime
from decimal import Decimal
from typing import Any

import orjson
from sqlalchemy import String, any_, bindparam, func, select, text, union_all, update
from sqlalchemy.dialects.postgresql import ARRAY, insert
from sqlalchemy.ext.asyncio import AsyncSession

from carbon_common.inbox import claim
from carbon_lending.adapters import read_model_writes as rm
from carbon_lending.adapters.orm import (
    cea_prices,
    current_ratings,
    enterprises,
    loan_events,
    loan_rate_changes,
    loans,
    policy_audit,
    quotes,
    rating_objections,
)
from carbon_lending.adapters.portfolio_query import portfolio_document, trailing_accounts
from carbon_lending.domain.loan import LoanState, Repricing
from carbon_lending.domain.model import Enterprise, Rating
from carbon_lending.domain.pcaf import trailing_emissions
from carbon_lending.domain.policy import PcafTerms
from carbon_lending.domain.ratchet import KpiTarget
from carbon_lending.service_layer.ports import Document, NewLoan, StoredQuote

_QUOTE_FIELDS = tuple(StoredQuote.__dataclass_fields__)
_QUOTE_ARRAY_TYPES = {
    "amount_cny": "numeric[]",
    "annual_rate_pct": "numeric[]",
    "quoted_at": "timestamptz[]",
    "valid_until": "timestamptz[]",
    "document": "jsonb[]",
}
_ADD_QUOTES = text(
    f"INSERT INTO quotes ({', '.join(_QUOTE_FIELDS)}) SELECT * FROM unnest("
    + ", ".join(f"CAST(:{f} AS {_QUOTE_ARRAY_TYPES.get(f, 'varchar[]')})" for f in _QUOTE_FIELDS)
    + ") ON CONFLICT DO NOTHING RETURNING quote_id"
)


def _rating(m: Mapping[str, Any]) -> Rating:
    return Rating(
        rating_id=m["rating_id"],
        credit_code=m["credit_code"],
        score=m["score"],
        label=m["label"],
        confidence=m["confidence"],
        methodology_version=m["methodology_version"],
        issued_at=m["issued_at"],
        as_of_period=m["as_of_period"],
        transition_stage=m["transition_stage"],
        vetoes=tuple(m["vetoes"]),
    )


def current_rate(today: date) -> Any:
    """The rate in force on ``today``: the latest ratchet change already effective, else origination."""
    latest = (
        select(loan_rate_changes.c.rate_pct)
        .where(loan_rate_changes.c.loan_id == loans.c.loan_id, loan_rate_changes.c.effective_from <= today)
        .order_by(loan_rate_changes.c.effective_from.desc())
        .limit(1)
        .scalar_subquery()
    )
    return func.coalesce(latest, loans.c.rate_pct)


class SqlLendingRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    # --- inbox and read models -----------------------------------------------------------------
    async def claim(self, consumer: str, event_ids: Sequence[str]) -> set[str]:
        new: set[str] = await claim(self.session, consumer, event_ids)
        return new

    async def upsert_enterprises(self, items: Sequence[tuple[Enterprise, int]]) -> None:
        if items:
            await rm.upsert_enterprises(
                self.session,
                [
                    (
                        e.credit_code,
                        e.name,
                        e.industry_code,
                        e.region_code,
                        e.size_class,
                        e.transition_stage,
                        e.ets_participant,
                        rev,
                    )
                    for e, rev in items
                ],
            )

    async def add_ratings(self, items: Sequence[tuple[Rating, str | None]]) -> list[Rating]:
        """History (all) and current (newest per enterprise, only if newer); returns new currents."""
        if not items:
            return []
        rows = {r.rating_id: _rating_row(r) for r, _ in items}
        newest: dict[str, Rating] = {}
        for r, _ in items:
            if r.newer_than(newest.get(r.credit_code)):
                newest[r.credit_code] = r
        won = await rm.add_ratings(
            self.session,
            [rows[r.rating_id] for r, _ in items],
            [p for _, p in items],
            [rows[r.rating_id] for r in newest.values()],
        )
        return [r for r in newest.values() if r.rating_id in won]

    async def upsert_objections(self, rows: Sequence[Document]) -> None:
        """One row per objection; a change replaces the held one only if its (sequence,
        changed_at) is higher, so a redelivered or late stale change never reopens one."""
        if rows:
            names = ("objection_id", "credit_code", "rating_id", "state", "open", "sequence", "changed_at")
            await rm.upsert_objections(self.session, [tuple(r[n] for n in names) for r in rows])

    def _directory_query(self) -> Any:
        cr, ro = current_ratings, rating_objections
        open_ids = (
            select(ro.c.credit_code, func.array_agg(ro.c.objection_id).label("ids"))
            .where(ro.c.open)
            .group_by(ro.c.credit_code)
            .subquery()
        )
        return (
            select(
                enterprises,
                *(c.label(f"r_{c.name}") for c in cr.c),
                open_ids.c.ids.label("open_objection_ids"),
            )
            .outerjoin(cr, cr.c.credit_code == enterprises.c.credit_code)
            .outerjoin(open_ids, open_ids.c.credit_code == enterprises.c.credit_code)
        )

    async def enterprise_and_rating(self, credit_code: str) -> tuple[Enterprise | None, Rating | None]:
        q = self._directory_query().where(enterprises.c.credit_code == credit_code)
        row = (await self.session.execute(q)).first()
        if row is None:
            return None, None
        return _directory_entry(row)

    async def directory(self, limit: int) -> list[tuple[Enterprise, Rating | None]]:
        """Up to ``limit`` enterprises with their current rating (to warm the quote path's cache)."""
        rows = (await self.session.execute(self._directory_query().limit(limit))).all()
        return [_directory_entry(r) for r in rows]

    # --- quotes --------------------------------------------------------------------------------
    async def subsidy_committed(self, bank_id: str) -> Decimal:
        q = select(func.coalesce(func.sum(loans.c.subsidy_cny), 0)).where(loans.c.bank_id == bank_id)
        return Decimal((await self.session.execute(q)).scalar_one())

    async def quote_by_key(self, bank_id: str, key: str) -> StoredQuote | None:
        q = select(quotes).where(quotes.c.bank_id == bank_id, quotes.c.idempotency_key == key)
        row = (await self.session.execute(q)).first()
        return StoredQuote(**row._mapping) if row else None

    async def add_quote(self, quote: StoredQuote) -> bool:
        return quote.quote_id in await self.add_quotes([quote])

    async def add_quotes(self, items: Sequence[StoredQuote]) -> set[str]:
        """One multi-row insert; returns the ids stored (a quote whose bank already used its
        ``Idempotency-Key`` — earlier or in the same statement — is skipped)."""
        if not items:
            return set()
        # one fixed statement over arrays (prepared once per connection, whatever the batch
        # size); the documents are serialised with orjson
        params: dict[str, list[Any]] = {f: [getattr(q, f) for q in items] for f in _QUOTE_FIELDS}
        params["document"] = [orjson.dumps(d).decode() for d in params["document"]]
        result = await self.session.execute(_ADD_QUOTES, params)
        return set(result.scalars().all())

    async def read_model_changes(self, since: datetime | None) -> tuple[list[tuple[str, datetime]], datetime]:
        """(credit code, latest change) of the enterprises whose directory entry, current
        rating or objections changed after ``since`` (none asked for when ``since`` is None), and the
        database's clock now."""
        db_now: datetime = (await self.session.execute(select(func.now()))).scalar_one()
        if since is None:
            return [], db_now
        changed = union_all(
            select(enterprises.c.credit_code, enterprises.c.updated_at.label("at")).where(
                enterprises.c.updated_at > since
            ),
            select(current_ratings.c.credit_code, current_ratings.c.updated_at.label("at")).where(
                current_ratings.c.updated_at > since
            ),
            select(rating_objections.c.credit_code, rating_objections.c.updated_at.label("at")).where(
                rating_objections.c.updated_at > since
            ),
        ).subquery()
        q = select(changed.c.credit_code, func.max(changed.c.at)).group_by(changed.c.credit_code)
        return [(r[0], r[1]) for r in (await self.session.execute(q)).all()], db_now

    async def get_quote(self, bank_id: str, quote_id: str) -> StoredQuote | None:
        q = select(quotes).where(quotes.c.bank_id == bank_id, quotes.c.quote_id == quote_id)
        row = (await self.session.execute(q)).first()
        return StoredQuote(**row._mapping) if row else None

    # --- loans ---------------------------------------------------------------------------------
    async def add_loan(self, loan: NewLoan) -> None:
        values = {f: getattr(loan, f) for f in NewLoan.__dataclass_fields__}
        values["principal_cny"] = values.pop("principal")
        values["outstanding_cny"] = loan.principal
        values["current_label"] = loan.origin_label
        values["status"] = "performing"
        await self.session.execute(insert(loans).values(values))

    async def loan_for_quote(self, quote_id: str) -> str | None:
        q = select(loans.c.loan_id).where(loans.c.quote_id == quote_id)
        return (await self.session.execute(q)).scalar_one_or_none()

    async def loan_by_ref(self, bank_id: str, bank_loan_ref: str) -> str | None:
        q = select(loans.c.loan_id).where(loans.c.bank_id == bank_id, loans.c.bank_loan_ref == bank_loan_ref)
        return (await self.session.execute(q)).scalar_one_or_none()

    def _loans_query(self, today: date) -> Any:
        return select(loans, current_rate(today).label("current_rate_pct"))

    async def _changes(self, loan_ids: Sequence[str]) -> dict[str, list[Document]]:
        out: dict[str, list[Document]] = {i: [] for i in loan_ids}
        if not loan_ids:
            return out
        q = (
            select(loan_rate_changes)
            .where(loan_rate_changes.c.loan_id.in_(loan_ids))
            .order_by(loan_rate_changes.c.effective_from)
        )
        for r in (await self.session.execute(q)).all():
            out[r.loan_id].append(
                {
                    "effective_from": r.effective_from.isoformat(),
                    "rate_pct": format(r.rate_pct, "f"),
                    "ratchet_bp": format(r.ratchet_bp, "f"),
                    "rating_id": r.rating_id,
                }
            )
        return out

    async def get_loan(self, bank_id: str, loan_id: str, today: date) -> Document | None:
        q = self._loans_query(today).where(loans.c.bank_id == bank_id, loans.c.loan_id == loan_id)
        row = (await self.session.execute(q)).first()
        if row is None:
            return None
        return _loan_doc(row, (await self._changes([loan_id]))[loan_id])

    async def list_loans(
        self,
        bank_id: str,
        credit_code: str | None,
        status: str | None,
        after: str | None,
        limit: int,
        today: date,
    ) -> list[Document]:
        q = self._loans_query(today).where(loans.c.bank_id == bank_id)
        if credit_code:
            q = q.where(loans.c.credit_code == credit_code)
        if status:
            q = q.where(loans.c.status == status)
        if after:
            q = q.where(loans.c.loan_id > after)
        rows = (await self.session.execute(q.order_by(loans.c.loan_id).limit(limit))).all()
        changes = await self._changes([r.loan_id for r in rows])
        return [_loan_doc(r, changes[r.loan_id]) for r in rows]

    async def loan_state(self, bank_id: str, loan_id: str, today: date) -> LoanState | None:
        q = self._loans_query(today).where(loans.c.bank_id == bank_id, loans.c.loan_id == loan_id)
        row = (await self.session.execute(q)).first()
        return _state(row) if row else None

    async def set_status(self, loan_id: str, status: str, outstanding: Decimal | None) -> None:
        values: dict[str, Any] = {"status": status, "updated_at": func.now()}
        if outstanding is not None:
            values["outstanding_cny"] = outstanding
        if status == "repaid":
            values["outstanding_cny"] = Decimal(0)
        await self.session.execute(update(loans).where(loans.c.loan_id == loan_id).values(values))

    async def relabel_loans(self, ratings: Sequence[Rating], today: date) -> list[LoanState]:
        """Every open loan of these enterprises (one new current rating each) now carries their
        label and rating id; returns the open loans the new rating can move or alert on, as they
        were before: those whose label was not already the rating's, and all of them when it
        carries vetoes. (A loan that already had the rating's label has the ratchet for that
        label and no downgrade to report; only its rating id changes.)"""
        if not ratings:
            return []
        rows = [(r.credit_code, r.label, r.rating_id, bool(r.vetoes)) for r in ratings]
        return [loan_state_of(r) for r in await rm.relabel_loans(self.session, today, rows)]

    async def open_kpi_loans_for(self, credit_codes: Sequence[str], today: date) -> list[LoanState]:
        return [loan_state_of(r) for r in await rm.kpi_loans(self.session, today, credit_codes)]

    async def open_pledge_loans(self, today: date) -> list[LoanState]:
        q = self._loans_query(today).where(
            loans.c.allowance_quantity_t.is_not(None), loans.c.status != "repaid"
        )
        return [_state(r) for r in (await self.session.execute(q)).all()]

    async def save_repricings(self, repricings: Sequence[Repricing]) -> None:
        if repricings:
            await rm.save_rate_changes(
                self.session,
                [
                    (r.loan.loan_id, r.effective_from, r.new_rate_pct, r.ratchet_bp, r.rating_id or None)
                    for r in repricings
                ],
            )

    async def set_margin_calls(self, loan_ids: Sequence[str], open_: bool) -> None:
        if loan_ids:
            ids = bindparam("ids", list(loan_ids), type_=ARRAY(String))
            await self.session.execute(
                update(loans).where(loans.c.loan_id == any_(ids)).values(margin_call_open=open_)
            )

    async def add_loan_events(self, rows: Sequence[Document]) -> None:
        if rows:
            names = ("event_id", "bank_id", "loan_id", "credit_code", "kind")
            await rm.add_loan_events(
                self.session,
                [(*(r[n] for n in names), orjson.dumps(r["payload"]).decode()) for r in rows],
            )

    async def list_loan_events(
        self, bank_id: str, loan_id: str | None, kind: str | None, after: int, limit: int
    ) -> list[Document]:
        q = select(loan_events).where(loan_events.c.bank_id == bank_id, loan_events.c.id > after)
        if loan_id:
            q = q.where(loan_events.c.loan_id == loan_id)
        if kind:
            q = q.where(loan_events.c.kind == kind)
        rows = (await self.session.execute(q.order_by(loan_events.c.id).limit(limit))).all()
        return [{"sequence": r.id, **r.payload, "created_at": r.created_at.isoformat()} for r in rows]

    async def add_cea_price(self, price: Decimal, as_of: date) -> None:
        await self.session.execute(insert(cea_prices).values(price_cny=price, as_of=as_of))

    async def latest_cea_price(self) -> Decimal | None:
        q = (
            select(cea_prices.c.price_cny)
            .order_by(cea_prices.c.as_of.desc(), cea_prices.c.id.desc())
            .limit(1)
        )
        return (await self.session.execute(q)).scalar_one_or_none()

    async def portfolio(self, bank_id: str, today: date, pcaf: PcafTerms) -> Document:
        return await portfolio_document(self.session, bank_id, current_rate(today), pcaf)

    # --- borrowers' accounts and finance (PCAF, KPI ratchets) ----------------------------------
    async def upsert_accounts(self, rows: Sequence[Sequence[Any]]) -> None:
        if rows:
            await rm.upsert_accounts(self.session, rows)

    async def upsert_finance(self, rows: Sequence[Sequence[Any]]) -> None:
        if rows:
            await rm.upsert_finance(self.session, rows)

    async def kpi_observations(self, credit_codes: Sequence[str]) -> dict[str, dict[str, Decimal | None]]:
        accounts = await trailing_accounts(self.session, list(credit_codes))
        out: dict[str, dict[str, Decimal | None]] = {}
        for code, months in accounts.items():
            em = trailing_emissions(months)
            out[code] = {
                "total_tco2": em.annual_tco2 if em else None,
                "intensity_per_output": em.intensity_per_output if em else None,
            }
        return out

    # --- policy audit (append-only) ------------------------------------------------------------
    async def record_policy_version(self, row: Document) -> bool:
        """Append ``row`` unless the bank's latest recorded version has the same digest. Under a
        transaction-level advisory lock per bank, so two starting processes record it once."""
        a = policy_audit
        await self.session.execute(
            select(func.pg_advisory_xact_lock(func.hashtext("policy_audit:" + row["bank_id"])))
        )
        last = (
            await self.session.execute(
                select(a.c.version, a.c.digest)
                .where(a.c.bank_id == row["bank_id"])
                .order_by(a.c.id.desc())
                .limit(1)
            )
        ).first()
        if last is not None and last.digest == row["digest"]:
            return False
        values = dict(row) | {
            "previous_version": last.version if last else None,
            "previous_digest": last.digest if last else None,
        }
        await self.session.execute(insert(a).values(values))
        return True

    async def policy_audit(self, bank_ids: Sequence[str], after: int, limit: int) -> list[Document]:
        a = policy_audit
        q = select(a).where(a.c.bank_id.in_(bank_ids), a.c.id > after).order_by(a.c.id).limit(limit)
        return [
            {
                "sequence": r.id,
                "bank_id": r.bank_id,
                "version": r.version,
                "digest": r.digest,
                "previous_version": r.previous_version,
                "previous_digest": r.previous_digest,
                "changed_by": r.changed_by,
                "changed_at": r.changed_at.isoformat(),
                "source": r.source,
                "document": r.document,
            }
            for r in (await self.session.execute(q)).all()
        ]


def _rating_row(r: Rating) -> rm.RatingRow:
    return (
        r.rating_id,
        r.credit_code,
        r.score,
        r.label,
        r.confidence,
        r.methodology_version,
        r.issued_at,
        r.as_of_period,
        r.transition_stage,
        orjson.dumps(list(r.vetoes)).decode(),
    )


def _directory_entry(row: Any) -> tuple[Enterprise, Rating | None]:
    ent = Enterprise(
        credit_code=row.credit_code,
        name=row.name,
        industry_code=row.industry_code,
        region_code=row.region_code,
        size_class=row.size_class,
        transition_stage=row.transition_stage,
        ets_participant=row.ets_participant,
    )
    m = row._mapping
    if m["r_rating_id"] is None:
        return ent, None
    rating = _rating({c.name: m[f"r_{c.name}"] for c in current_ratings.c})
    objections = tuple(sorted(m["open_objection_ids"] or ()))
    return ent, replace(rating, open_objections=objections) if objections else rating


def _state(row: Any) -> LoanState:
    return LoanState(
        loan_id=row.loan_id,
        bank_id=row.bank_id,
        credit_code=row.credit_code,
        product=row.product,
        outstanding=row.outstanding_cny,
        drawn_on=row.drawn_on,
        status=row.status,
        rate_pct=row.current_rate_pct,
        origin_bp=row.rate_pct * 100,
        ratchet_bp=row.ratchet_bp,
        origin_label=row.origin_label,
        current_label=row.current_label,
        allowance_quantity_t=row.allowance_quantity_t,
        margin_call_open=row.margin_call_open,
        kpi_targets=tuple(KpiTarget(t["metric"], Decimal(t["target"])) for t in row.kpi_targets or ()),
        rating_id=row.rating_id,
    )


def loan_state_of(r: Any) -> LoanState:
    """A row of ``read_model_writes._LOAN_STATE`` (by position), as ``_state`` reads a loan."""
    kpi = orjson.loads(r[13]) if r[13] is not None else None
    return LoanState(
        loan_id=r[0],
        bank_id=r[1],
        credit_code=r[2],
        product=r[3],
        outstanding=r[4],
        drawn_on=r[5],
        status=r[6],
        rate_pct=r[15],
        origin_bp=r[7] * 100,
        ratchet_bp=r[8],
        origin_label=r[9],
        current_label=r[10],
        allowance_quantity_t=r[11],
        margin_call_open=r[12],
        kpi_targets=tuple(KpiTarget(t["metric"], Decimal(t["target"])) for t in kpi or ()),
        rating_id=r[14],
    )


def _loan_doc(row: Any, changes: list[Document]) -> Document:
    def s(v: Decimal | None) -> str | None:
        return None if v is None else format(v, "f")

    return {
        "loan_id": row.loan_id,
        "bank_loan_ref": row.bank_loan_ref,
        "quote_id": row.quote_id,
        "credit_code": row.credit_code,
        "product": row.product,
        "industry_code": row.industry_code,
        "status": row.status,
        "principal_cny": s(row.principal_cny),
        "outstanding_cny": s(row.outstanding_cny),
        "drawn_on": row.drawn_on.isoformat(),
        "term_months": row.term_months,
        "origination_rate_pct": s(row.rate_pct),
        "current_rate_pct": s(row.current_rate_pct),
        "ratchet_bp": s(row.ratchet_bp),
        "components": row.components,
        "origin_label": row.origin_label,
        "current_label": row.current_label,
        "rating_id": row.rating_id,
        "approval_track": row.approval_track,
        "allowance_quantity_t": s(row.allowance_quantity_t),
        "margin_call_open": row.margin_call_open,
        "subsidy_cny": s(row.subsidy_cny),
        "kpi_targets": row.kpi_targets or [],
        "rate_changes": changes,
    }
