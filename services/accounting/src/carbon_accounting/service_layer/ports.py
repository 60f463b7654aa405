"""The ports the service layer needs: a repository and a unit of work (adapters implement them)."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, NamedTuple, Protocol

from carbon_accounting.domain.factors import FactorSet
from carbon_accounting.domain.model import AccountFigures, Enterprise, Fact
from carbon_accounting.domain.rollup import MonthlyAccount

Pair = tuple[str, str]  # (credit_code, period)


@dataclass(frozen=True, slots=True)
class StoredAccount:
    figures: AccountFigures
    calculation_version: int


class AccountState(NamedTuple):
    """A stored account as the recomputation compares it: ``AccountFigures.comparable()``, the
    factor-set label and the version."""

    comparable: tuple[Any, ...]
    factor_set: str
    calculation_version: int


@dataclass(frozen=True, slots=True)
class FactorSetChange:
    """One entry of the append-only audit of factor-set changes (``factor_set_changes``).

    ``action``: ``published`` (a version stored over the API), ``activated`` (made the set every
    account uses; ``previous_*`` name the set it replaced) or ``seeded`` (the packaged set stored
    at start-up). ``digest``: sha256 of the set's canonical content (``FactorSet.digest``).
    """

    changed_at: datetime
    actor: str
    actor_org: str | None
    action: str
    set_id: str
    version: str
    digest: str
    previous_set_id: str | None = None
    previous_version: str | None = None
    reason: str | None = None
    id: int | None = None


class AccountingRepository(Protocol):
    async def lock_accounts(self, *, exclusive: bool) -> None:
        """Serialise factor-set restatement against consumer batches (advisory lock)."""
        ...

    async def upsert_enterprises(self, enterprises: Sequence[Enterprise]) -> set[str]:
        """Keep the highest revision; return credit codes whose accounting-relevant profile changed."""
        ...

    async def upsert_facts(self, facts: Sequence[Fact], *, lock_accounts: bool = False) -> set[Pair]:
        """Keep history; the current table holds the highest revision per fact_key.

        Returns the (credit_code, period) pairs whose current facts changed: those of the new
        current revisions and those of the revisions they superseded (a correction may name
        another period or credit code than its predecessor). With
        ``lock_accounts`` it also takes the shared accounts lock (``lock_accounts(exclusive=False)``)
        in the same round trip, before it returns.
        """
        ...

    async def facts_for(self, pairs: Iterable[Pair]) -> dict[Pair, list[Fact]]: ...

    async def figure_rows_and_enterprises(
        self, pairs: Iterable[Pair]
    ) -> tuple[dict[Pair, list[Any]], dict[str, Enterprise]]:
        """The facts of each pair as rows in ``Fact``'s field order, with at least the columns
        ``calculation.account_figures`` reads, and the directory entries, in one read."""
        ...

    async def fact_pairs(self, credit_codes: Iterable[str] | None = None) -> list[Pair]:
        """(credit_code, period) pairs that have current facts or a zero account left by a moved
        fact (all of them when ``credit_codes`` is None)."""
        ...

    async def enterprises(self, credit_codes: Iterable[str]) -> dict[str, Enterprise]: ...

    async def accounts(self, pairs: Iterable[Pair]) -> dict[Pair, StoredAccount]: ...

    async def account_states(self, pairs: Iterable[Pair]) -> dict[Pair, AccountState]:
        """``accounts(pairs)`` as ``AccountState``s (what the recomputation needs of them)."""
        ...

    async def upsert_accounts(self, accounts: Sequence[StoredAccount]) -> None: ...

    async def monthly_accounts(self, credit_code: str, first: str, last: str) -> list[MonthlyAccount]: ...

    async def active_factor_set_ref(self) -> tuple[str, str] | None: ...

    async def factor_set(self, set_id: str, version: str) -> FactorSet | None: ...

    async def factor_sets(self) -> list[tuple[str, str, bool, str]]:
        """(id, version, active, title) of every stored set."""
        ...

    async def add_factor_set(self, factor_set: FactorSet) -> bool:
        """Store a version; False if that id@version already exists (immutable)."""
        ...

    async def activate_factor_set(self, set_id: str, version: str) -> None: ...

    async def lock_factor_sets(self) -> None:
        """Serialise factor-set changes across replicas (transaction-scoped advisory lock)."""
        ...

    async def add_factor_set_change(self, change: FactorSetChange) -> FactorSetChange:
        """Append to the audit trail (same transaction as the change); returns it with its id."""
        ...

    async def factor_set_changes(self, limit: int, before: int | None = None) -> list[FactorSetChange]:
        """Newest first; ``before``: only entries with a smaller id (the next page)."""
        ...


class AccountingUnitOfWork(Protocol):
    repo: AccountingRepository

    def emit(self, event: Any) -> Any: ...

    async def save_accounts(self, accounts: Sequence[StoredAccount], publish: Sequence[bool]) -> None:
        """Store ``accounts`` and stage the ``AccountUpdated`` of each one flagged in ``publish``
        (the record ``to_record(Envelope(data=handlers.account_event(...)))`` gives), in order."""
        ...

    async def commit(self) -> None: ...
