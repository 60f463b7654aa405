"""The quote path's local copy of the enterprise + current-rating read model.

A quote must not pay a database round trip (let alone a call to another service) to learn the
borrower's rating. Entries are loaded on first use and kept in memory; they are dropped

* at once by this process's consumer, after it commits new enterprises or ratings
  (:meth:`ReadModelCache.invalidate`), and
* by a poll of the tables' ``updated_at`` every ``refresh_seconds``, for changes committed by
  another process (another uvicorn worker or a separate consumer pod holds other partitions).
  The poll re-reads an ``overlap`` window, so a transaction that committed late with an earlier
  ``now()`` is still seen; a change already acted on (same code, same ``updated_at``) is not
  acted on again. A process therefore sees another process's rating within about
  ``refresh_seconds`` (documented in docs/lending.md).

The first poll loads the whole directory (up to ``max_entries``) so that a process that just
started does not send its first quote for every enterprise to the database. A generation counter
keeps a read that raced an invalidation from caching the stale answer.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable, Iterable
from datetime import datetime, timedelta

from carbon_lending.adapters.uow import SqlUnitOfWork
from carbon_lending.domain.model import Enterprise, Rating

log = logging.getLogger("carbon_lending.read_model_cache")

Entry = tuple[Enterprise, Rating | None]


class ReadModelCache:
    def __init__(
        self,
        uow_factory: Callable[[], SqlUnitOfWork],
        *,
        refresh_seconds: float = 1.0,
        overlap: timedelta = timedelta(seconds=30),
        max_entries: int = 200_000,
    ) -> None:
        self._uow = uow_factory
        self._entries: dict[str, Entry] = {}
        self._generation = 0
        self.refresh_seconds = refresh_seconds
        self.overlap = overlap
        self.max_entries = max_entries
        self._since: datetime | None = None
        self._seen: dict[str, datetime] = {}  # changes inside the overlap window already acted on
        self._task: asyncio.Task[None] | None = None

    async def enterprise_and_rating(self, credit_code: str) -> tuple[Enterprise | None, Rating | None]:
        hit = self._entries.get(credit_code)
        if hit is not None:
            return hit
        generation = self._generation
        async with self._uow() as uow:
            enterprise, rating = await uow.repo.enterprise_and_rating(credit_code)
        if enterprise is not None and generation == self._generation:
            if len(self._entries) >= self.max_entries:
                self._entries.clear()  # bounded memory; entries reload on demand
            self._entries[credit_code] = (enterprise, rating)
        return enterprise, rating

    def invalidate(self, credit_codes: Iterable[str]) -> None:
        """Forget these enterprises (their directory entry or current rating changed)."""
        self._generation += 1
        for code in credit_codes:
            self._entries.pop(code, None)

    def clear(self) -> None:
        self._generation += 1
        self._entries.clear()

    async def refresh_once(self) -> int:
        """Drop the entries changed since the last poll (minus the overlap); returns how many."""
        async with self._uow() as uow:
            if self._since is None:  # first poll: a baseline; what changed just before it is known
                _, db_now = await uow.repo.read_model_changes(None)
                changes, _ = await uow.repo.read_model_changes(db_now - self.overlap)
                self._seen = dict(changes)
                self.clear()
                # warm: a freshly started process must not send every first quote to the database;
                # not if the consumer invalidated something while the directory was being read
                # (the read may predate its commit: a stale entry would outlive the invalidation)
                generation = self._generation
                warm = {e.credit_code: (e, r) for e, r in await uow.repo.directory(self.max_entries)}
                if generation == self._generation:
                    self._entries = warm
                self._since = db_now
                return 0
            since = self._since - self.overlap
            changes, db_now = await uow.repo.read_model_changes(since)
        fresh = [code for code, at in changes if self._seen.get(code) != at]
        self._seen = {c: at for c, at in self._seen.items() if at > since} | dict(changes)
        if fresh:
            self.invalidate(fresh)
        self._since = db_now
        return len(fresh)

    async def _loop(self) -> None:
        while True:
            try:
                await self.refresh_once()
            except asyncio.CancelledError:
                raise
            except Exception:  # database down: drop everything, retry next tick
                self.clear()
                log.warning("read-model refresh failed; cache cleared", exc_info=True)
            await asyncio.sleep(self.refresh_seconds)

    def start(self) -> None:
        if self._task is None and self.refresh_seconds > 0:
            self._task = asyncio.create_task(self._loop(), name="lending-read-model-refresh")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
