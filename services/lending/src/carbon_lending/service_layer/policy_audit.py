"""Use cases on the policy audit: which configuration prices a bank, and its version history.

A bank sees its own configuration's history and, while it has none of its own, the ``default``
one's (that is what prices its quotes); never another bank's.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Protocol

from carbon_lending.domain.policy import BankPolicy
from carbon_lending.service_layer.ports import Document, UnitOfWorkPort

MAX_PAGE = 200


class PolicyDocumentLike(Protocol):
    @property
    def policy(self) -> BankPolicy: ...
    @property
    def digest(self) -> str: ...
    @property
    def source(self) -> str: ...


def _applied(bank_id: str, docs: Sequence[Any]) -> Any:
    by_bank = {d.policy.bank_id: d for d in docs}
    return by_bank.get(bank_id) or by_bank["default"]


def current_policy(bank_id: str, docs: Sequence[PolicyDocumentLike]) -> Document:
    d = _applied(bank_id, docs)
    return {
        "bank_id": bank_id,
        "policy_bank_id": d.policy.bank_id,
        "version": d.policy.version,
        "digest": d.digest,
        "source": d.source,
        "products": sorted(d.policy.products),
    }


async def list_policy_audit(
    bank_id: str, docs: Sequence[PolicyDocumentLike], uow: UnitOfWorkPort, *, after: int, limit: int
) -> list[Document]:
    applied = _applied(bank_id, docs).policy.bank_id
    async with uow:
        return await uow.repo.policy_audit(sorted({bank_id, applied}), after, min(limit, MAX_PAGE))
