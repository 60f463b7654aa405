"""The SQL unit of work: one transaction, the lending repository bound to its session."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession

from carbon_common.db import UnitOfWork
from carbon_lending.adapters.repository import SqlLendingRepository


class SqlUnitOfWork(UnitOfWork):
    repo: SqlLendingRepository

    def _bind(self, session: AsyncSession) -> None:
        self.repo = SqlLendingRepository(session)
