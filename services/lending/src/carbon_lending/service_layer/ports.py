"""The ports the use cases need: a unit of work holding the lending repository.

The SQL implementation lives in ``adapters``; tests of the use cases run it against a real
PostgreSQL. Documents (quotes, loans, events) are JSON-ready dicts with decimal strings.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from typing import Any, Protocol, Self

from carbon_lending.domain.loan import LoanState, Repricing
from carbon_lending.domain.model import Enterprise, Rating
from carbon_lending.domain.policy import PcafTerms

Document = dict[str, Any]


@dataclass(frozen=True, slots=True)
class StoredQuote:
    quote_id: str
    bank_id: str
    idempotency_key: str | None
    request_hash: str
    credit_code: str
    product: str
    amount_cny: Decimal
    annual_rate_pct: Decimal
    rating_id: str | None
    label: str | None
    approval_track: str
    quoted_at: datetime
    valid_until: datetime
    document: Document


@dataclass(frozen=True, slots=True)
class NewLoan:
    loan_id: str
    bank_id: str
    quote_id: str
    bank_loan_ref: str
    credit_code: str
    product: str
    industry_code: str
    principal: Decimal
    drawn_on: date
    term_months: int
    rate_pct: Decimal
    base_rate_pct: Decimal
    components: Document
    origin_label: str | None
    rating_id: str | None
    approval_track: str
    approval_sla_days: int
    allowance_quantity_t: Decimal | None
    subsidy_cny: Decimal
    kpi_targets: list[dict[str, str]] | None = None


class LendingRepository(Protocol):
    async def claim(self, consumer: str, event_ids: Sequence[str]) -> set[str]: ...
    async def upsert_enterprises(self, items: Sequence[tuple[Enterprise, int]]) -> None: ...
    async def add_ratings(self, items: Sequence[tuple[Rating, str | None]]) -> list[Rating]: ...
    async def upsert_objections(self, rows: Sequence[Document]) -> None: ...
    async def enterprise_and_rating(self, credit_code: str) -> tuple[Enterprise | None, Rating | None]: ...
    async def subsidy_committed(self, bank_id: str) -> Decimal: ...
    async def quote_by_key(self, bank_id: str, key: str) -> StoredQuote | None: ...
    async def add_quote(self, quote: StoredQuote) -> bool: ...
    async def add_quotes(self, items: Sequence[StoredQuote]) -> set[str]: ...
    async def read_model_changes(
        self, since: datetime | None
    ) -> tuple[list[tuple[str, datetime]], datetime]: ...
    async def get_quote(self, bank_id: str, quote_id: str) -> StoredQuote | None: ...
    async def add_loan(self, loan: NewLoan) -> None: ...
    async def loan_for_quote(self, quote_id: str) -> str | None: ...
    async def loan_by_ref(self, bank_id: str, bank_loan_ref: str) -> str | None: ...
    async def get_loan(self, bank_id: str, loan_id: str, today: date) -> Document | None: ...
    async def list_loans(
        self,
        bank_id: str,
        credit_code: str | None,
        status: str | None,
        after: str | None,
        limit: int,
        today: date,
    ) -> list[Document]: ...
    async def loan_state(self, bank_id: str, loan_id: str, today: date) -> LoanState | None: ...
    async def set_status(self, loan_id: str, status: str, outstanding: Decimal | None) -> None: ...
    async def relabel_loans(self, ratings: Sequence[Rating], today: date) -> list[LoanState]: ...
    async def open_pledge_loans(self, today: date) -> list[LoanState]: ...
    async def open_kpi_loans_for(self, credit_codes: Sequence[str], today: date) -> list[LoanState]: ...
    async def kpi_observations(self, credit_codes: Sequence[str]) -> dict[str, dict[str, Decimal | None]]: ...
    async def upsert_accounts(self, rows: Sequence[Sequence[Any]]) -> None: ...
    async def upsert_finance(self, rows: Sequence[Sequence[Any]]) -> None: ...
    async def record_policy_version(self, row: Document) -> bool: ...
    async def policy_audit(self, bank_ids: Sequence[str], after: int, limit: int) -> list[Document]: ...
    async def save_repricings(self, repricings: Sequence[Repricing]) -> None: ...
    async def set_margin_calls(self, loan_ids: Sequence[str], open_: bool) -> None: ...
    async def add_loan_events(self, rows: Sequence[Document]) -> None: ...
    async def list_loan_events(
        self, bank_id: str, loan_id: str | None, kind: str | None, after: int, limit: int
    ) -> list[Document]: ...
    async def add_cea_price(self, price: Decimal, as_of: date) -> None: ...
    async def latest_cea_price(self) -> Decimal | None: ...
    async def portfolio(self, bank_id: str, today: date, pcaf: PcafTerms) -> Document: ...


class QuoteReadModel(Protocol):
    """The enterprise and its current rating, as the quote path sees them (held in memory)."""

    async def enterprise_and_rating(self, credit_code: str) -> tuple[Enterprise | None, Rating | None]: ...


class QuoteWriterPort(Protocol):
    """Stores a quote with its ``LoanQuoted`` (group-committed): ``None`` when stored, else the
    quote that already holds the bank's ``Idempotency-Key``."""

    async def add(self, quote: StoredQuote, event: Any, traceparent: str | None) -> StoredQuote | None: ...


class UnitOfWorkPort(Protocol):
    repo: LendingRepository

    async def __aenter__(self) -> Self: ...
    async def __aexit__(self, *exc: object) -> None: ...
    def emit(self, event: Any) -> Any: ...
    async def commit(self) -> None: ...
