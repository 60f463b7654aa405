"""Inbox: the ids of events a consumer has applied, written in the same transaction as the effect.

``claim`` inserts the batch's event ids with ``ON CONFLICT DO NOTHING`` and returns the ones that
were new; the handler applies only those. Redelivery after a crash (offsets are committed after
the database) therefore changes nothing: effectively-once effects over at-least-once delivery.
"""

from __future__ import annotations

from collections.abc import Iterable

from sqlalchemy import Column, DateTime, MetaData, PrimaryKeyConstraint, String, Table, func, text
from sqlalchemy.ext.asyncio import AsyncSession

_inbox_metadata = MetaData()
INBOX = Table(
    "inbox",
    _inbox_metadata,
    Column("consumer", String(100), nullable=False),
    Column("event_id", String(200), nullable=False),
    Column("applied_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    PrimaryKeyConstraint("consumer", "event_id", name="pk_inbox"),
)


def inbox_table(metadata: MetaData) -> Table:
    """Copy the inbox table into a service's metadata (so its Alembic migration creates it)."""
    return INBOX.to_metadata(metadata)


_CLAIM = text(
    "INSERT INTO inbox (consumer, event_id) SELECT :consumer, unnest(CAST(:ids AS varchar[])) "
    "ON CONFLICT DO NOTHING RETURNING event_id"
)


async def claim(session: AsyncSession, consumer: str, event_ids: Iterable[str]) -> set[str]:
    """Record ``event_ids`` as applied by ``consumer``; return those not seen before.

    One fixed statement (an array parameter), so it is prepared once and reused per batch.
    """
    ids = list(dict.fromkeys(event_ids))
    if not ids:
        return set()
    result = await session.execute(_CLAIM, {"consumer": consumer, "ids": ids})
    return {str(r) for r in result.scalars().all()}
