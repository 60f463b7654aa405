"""The SQL unit of work: one transaction, the repository bound to it, outbox via ``emit``."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession

from carbon_accounting.adapters.repository import SqlRepository
from carbon_common.db import UnitOfWork


class SqlUnitOfWork(UnitOfWork):
    repo: SqlRepository

    def _bind(self, session: AsyncSession) -> None:
        self.repo = SqlRepository(session)
