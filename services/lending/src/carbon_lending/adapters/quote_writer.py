"""Group commit of quotes: concurrent requests share one transaction.

Each request hands its priced quote and its ``LoanQuoted`` event to :meth:`QuoteWriter.add`
and waits. While a transaction is being written, new quotes queue up; the next transaction
takes all of them (up to ``max_batch``): one multi-row ``INSERT … ON CONFLICT DO NOTHING
RETURNING`` for the quotes, one for their outbox rows, one commit. An idle service writes a
lone quote at once, so there is no timer and no added latency; under load the round trips per
quote fall with the batch size. A request is answered only after its quote is committed.

Idempotency stays exact: ``(bank_id, idempotency_key)`` is unique, a quote that loses the insert
(an earlier request, or another one in the same batch, holds the key) gets no event, and its
caller receives the stored quote that won (the caller replays it).
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass

from carbon_common.bus.port import to_record
from carbon_common.db import new_id
from carbon_common.events import Envelope, LoanQuoted
from carbon_lending.adapters.uow import SqlUnitOfWork
from carbon_lending.domain.errors import Conflict
from carbon_lending.service_layer.ports import StoredQuote


@dataclass(slots=True)
class _Pending:
    quote: StoredQuote
    event: LoanQuoted
    traceparent: str | None
    future: asyncio.Future[StoredQuote | None]


class QuoteWriter:
    def __init__(
        self, uow_factory: Callable[[], SqlUnitOfWork], source: str = "lending", max_batch: int = 200
    ) -> None:
        self._uow = uow_factory
        self._source = source
        self.max_batch = max_batch
        self._queue: list[_Pending] = []
        self._task: asyncio.Task[None] | None = None

    async def add(self, quote: StoredQuote, event: LoanQuoted, traceparent: str | None) -> StoredQuote | None:
        """Store the quote and stage its event; ``None`` when stored, else the quote that already
        holds ``(bank_id, idempotency_key)``."""
        future: asyncio.Future[StoredQuote | None] = asyncio.get_running_loop().create_future()
        self._queue.append(_Pending(quote, event, traceparent, future))
        if self._task is None:
            self._task = asyncio.create_task(self._drain(), name="lending-quote-writer")
        return await future

    async def _drain(self) -> None:
        try:
            while self._queue:
                batch, self._queue = self._queue[: self.max_batch], self._queue[self.max_batch :]
                try:
                    results = await self._write(batch)
                except BaseException as exc:
                    for p in batch:
                        if not p.future.done():
                            p.future.set_exception(exc if isinstance(exc, Exception) else RuntimeError(exc))
                    if not isinstance(exc, Exception):
                        raise
                else:
                    for p in batch:
                        if not p.future.done():
                            p.future.set_result(results.get(p.quote.quote_id))
        finally:
            self._task = None

    async def _write(self, batch: list[_Pending]) -> dict[str, StoredQuote | None]:
        async with self._uow() as uow:
            inserted = await uow.repo.add_quotes([p.quote for p in batch])
            for p in batch:
                if p.quote.quote_id in inserted:
                    env = Envelope(data=p.event, source=self._source, id=new_id(), traceparent=p.traceparent)
                    uow.stage(to_record(env), env.id)
            await uow.commit()
        results: dict[str, StoredQuote | None] = {}
        losers = [p.quote for p in batch if p.quote.quote_id not in inserted]
        if losers:
            async with self._uow() as uow:
                for q in losers:
                    earlier = await uow.repo.quote_by_key(q.bank_id, q.idempotency_key or "")
                    if earlier is None:  # pragma: no cover - a conflict means the row exists
                        raise Conflict("idempotency key collision")
                    results[q.quote_id] = earlier
        return results

    async def stop(self) -> None:
        """Wait for the quotes already handed over to be written."""
        while self._task is not None:
            await asyncio.shield(self._task)
