"""The SQL unit of work: carbon_common's one-transaction UoW with rating's repository bound."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession

from carbon_common.db import UnitOfWork
from carbon_rating.adapters.repository import SqlRatingRepository


class SqlUnitOfWork(UnitOfWork):
    repo: SqlRatingRepository

    def _bind(self, session: AsyncSession) -> None:
        self.repo = SqlRatingRepository(session)
