"""The PostgreSQL unit of work: one transaction, the repository, the outbox."""

from __future__ import annotations

import uuid

from sqlalchemy.ext.asyncio import AsyncSession

from carbon_common.bus.port import Record
from carbon_common.db import UnitOfWork
from carbon_common.outbox import add_to_outbox
from carbon_ingest.adapters.repository import SqlRepository


class SqlUnitOfWork(UnitOfWork):
    repo: SqlRepository

    def _bind(self, session: AsyncSession) -> None:
        self.repo = SqlRepository(session)

    def stage_record(self, record: Record) -> None:
        """A raw record (e.g. a dead-letter copy) published by the relay after this commit."""
        add_to_outbox(self.session, record, str(uuid.uuid4()))
        self._emitted += 1

    def written_to_outbox(self, n: int) -> None:
        """The repository COPYed ``n`` outbox rows itself (the facts' events): wake the relay."""
        self._emitted += n
