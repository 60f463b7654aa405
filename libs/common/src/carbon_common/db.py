"""Async database helpers (SQLAlchemy 2 + asyncpg): engine, sessions, unit of work base.

The unit of work commits once, at the boundary; the events a use case owes are added to the
same transaction as outbox rows (``UnitOfWork.emit``), and the relay is woken after commit.
"""

from __future__ import annotations

from collections.abc import Callable
from types import TracebackType
from typing import Any, Self

from sqlalchemy import MetaData, text
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker, create_async_engine

from carbon_common import faults
from carbon_common.bus.port import Record, to_record
from carbon_common.events.envelope import Envelope
from carbon_common.outbox import add_to_outbox, flush_outbox
from carbon_common.settings import PostgresSettings
from carbon_common.telemetry import current_traceparent

NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


def new_metadata() -> MetaData:
    return MetaData(naming_convention=NAMING_CONVENTION)


def create_engine(settings: PostgresSettings) -> AsyncEngine:
    return create_async_engine(
        settings.url.get_secret_value(),
        pool_size=settings.pool_size,
        max_overflow=settings.max_overflow,
        pool_pre_ping=True,
        echo=settings.echo,
    )


async def ping(engine: AsyncEngine) -> bool:
    try:
        async with engine.connect() as conn:
            await conn.execute(text("SELECT 1"))
        return True
    except Exception:
        return False


class UnitOfWork:
    """One transaction. Subclasses add repositories in ``_bind(session)``.

    ``emit`` stages an event in the outbox of the same transaction; nothing is published
    before ``commit``. Leaving the block without ``commit`` rolls back.
    """

    def __init__(
        self,
        sessions: async_sessionmaker[AsyncSession],
        source: str,
        on_commit: Callable[[], None] | None = None,
    ) -> None:
        self._sessions = sessions
        self.source = source
        self._on_commit = on_commit
        self.session: AsyncSession
        self._emitted = 0

    async def __aenter__(self) -> Self:
        self.session = self._sessions()
        self._emitted = 0
        self._bind(self.session)
        return self

    async def __aexit__(
        self, et: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        try:
            await self.session.rollback()
        finally:
            await self.session.close()

    def _bind(self, session: AsyncSession) -> None:
        """Attach repositories to the session (override)."""

    def emit(self, event: Any) -> Envelope[Any]:
        """Stage an event (a contract ``Event``) for publication with this transaction."""
        env: Envelope[Any] = Envelope(data=event, source=self.source, traceparent=current_traceparent())
        self.stage(to_record(env), env.id)
        return env

    def stage(self, record: Record, event_id: str) -> None:
        """Stage an already-encoded record (e.g. a dead-letter copy) in this transaction's outbox."""
        add_to_outbox(self.session, record, event_id)
        self._emitted += 1

    async def commit(self) -> None:
        await flush_outbox(self.session)
        await self.session.flush()
        await faults.point("uow.before_commit")
        await self.session.commit()
        if self._emitted and self._on_commit is not None:
            self._on_commit()
        self._emitted = 0

    async def rollback(self) -> None:
        await self.session.rollback()
