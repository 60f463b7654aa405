"""The ports the use cases need: a unit of work holding one repository (adapters implement both).

Rows crossing the port are plain dataclasses so that handlers stay free of SQL.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from types import TracebackType
from typing import Any, Protocol, Self

from carbon_rating.domain.inputs import AccountMonth, ConductFact, EnterpriseProfile, PeerTotals


@dataclass(frozen=True, slots=True)
class AccountRow:
    credit_code: str
    industry_code: str | None
    factor_set: str
    month: AccountMonth


@dataclass(frozen=True, slots=True)
class FactRow:
    fact_key: str
    revision: int
    credit_code: str
    fact: ConductFact


@dataclass(slots=True)
class StoredRating:
    """A rating as kept in history; ``details`` is the JSON view of the full result.

    Treated as immutable; not ``frozen`` only because it is built for every rating issued and
    every current rating read (see ``domain/result.py``: ``RatingResult``)."""

    rating_id: str
    credit_code: str
    seq: int
    as_of_period: str
    industry_code: str
    stage: str
    score: Decimal
    label: str
    previous_label: str | None
    confidence: Decimal
    methodology_version: str
    vetoes: tuple[str, ...]
    details: dict[str, Any]
    account_ref: str | None
    reason: str
    issued_at: datetime
    objection_id: str | None = None


@dataclass(frozen=True, slots=True)
class QueryEntry:
    credit_code: str
    org: str
    rating_id: str | None
    resource: str
    purpose: str | None
    queried_at: datetime
    id: int | None = None


@dataclass(slots=True)
class Objection:
    objection_id: str
    credit_code: str
    rating_id: str
    filed_by: str
    reason: str
    status: str
    filed_at: datetime
    due_at: datetime
    evidence: list[str] = field(default_factory=list)
    decided_at: datetime | None = None
    reviewer: str | None = None
    decision_reason: str | None = None
    new_rating_id: str | None = None


@dataclass(frozen=True, slots=True)
class MethodologyChange:
    """One entry of the append-only audit of the methodology in force.

    ``source``: ``configuration`` (the deployment's ``RATING_METHODOLOGY_VERSION`` at start-up,
    recorded when it differs from the last recorded one, or when the file's digest changed) or
    ``admin_api`` (an activation by a ``methodology:admin`` caller)."""

    changed_at: datetime
    actor: str
    actor_org: str | None
    source: str
    from_version: str | None
    from_digest: str | None
    to_version: str
    to_digest: str
    reason: str | None = None
    id: int | None = None


class RatingRepository(Protocol):
    async def claim(self, consumer: str, event_ids: Sequence[str]) -> set[str]: ...
    async def upsert_enterprises(self, rows: Sequence[tuple[EnterpriseProfile, int]]) -> set[str]: ...
    async def upsert_accounts(self, rows: Sequence[AccountRow]) -> set[str]: ...
    async def upsert_facts(self, rows: Sequence[FactRow]) -> set[str]: ...
    async def enterprises(self, codes: Sequence[str]) -> dict[str, EnterpriseProfile]: ...
    async def all_rateable_codes(self) -> list[str]: ...
    async def latest_account_periods(self, codes: Sequence[str]) -> dict[str, str]: ...
    async def accounts_for(
        self, codes: Sequence[str], periods: Sequence[str]
    ) -> dict[str, list[AccountRow]]: ...
    async def account_stamps(self, codes: Sequence[str]) -> dict[str, tuple[int, int]]: ...
    async def account_versions(self, codes: Sequence[str]) -> dict[str, dict[str, int]]: ...
    async def account_rows(self, keys: Sequence[tuple[str, str]]) -> list[AccountRow]: ...
    async def industry_totals(self, industry_code: str, periods: Sequence[str]) -> tuple[PeerTotals, ...]: ...
    async def peer_totals(
        self, groups: Sequence[tuple[str, str, str]]
    ) -> dict[tuple[str, str], tuple[PeerTotals, ...]]: ...
    async def fact_stamps(self, codes: Sequence[str]) -> dict[str, tuple[int, int]]: ...
    async def facts_for(
        self, codes: Sequence[str], periods: Sequence[str] | None
    ) -> dict[str, list[ConductFact]]: ...
    async def current_ratings(
        self, codes: Sequence[str], lock: bool = False, details: bool = True
    ) -> dict[str, StoredRating]: ...
    async def add_ratings(self, rows: Sequence[StoredRating]) -> None: ...
    async def history(self, credit_code: str, limit: int) -> list[StoredRating]: ...
    async def log_query(self, entry: QueryEntry) -> None: ...
    async def queries(self, credit_code: str, limit: int) -> list[QueryEntry]: ...
    async def add_objection(self, objection: Objection) -> None: ...
    async def get_objection(self, objection_id: str, lock: bool = False) -> Objection | None: ...
    async def save_objection(self, objection: Objection) -> None: ...
    async def objections(
        self, credit_code: str | None, statuses: Sequence[str] | None
    ) -> list[Objection]: ...
    async def lock_methodology(self) -> None: ...
    async def add_methodology_change(self, change: MethodologyChange) -> MethodologyChange: ...
    async def latest_methodology_change(self, source: str | None = None) -> MethodologyChange | None: ...
    async def methodology_changes(self, limit: int) -> list[MethodologyChange]: ...


class UnitOfWorkPort(Protocol):
    repo: RatingRepository

    async def __aenter__(self) -> Self: ...
    async def __aexit__(
        self, et: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None: ...
    def emit(self, event: Any) -> Any: ...
    async def commit(self) -> None: ...
