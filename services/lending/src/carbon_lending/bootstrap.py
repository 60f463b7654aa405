"""The composition root: runtime (engine, bus, relay), unit-of-work factory, policies, consumer.

Nothing here runs at import time; ``create_app`` (or the embedded host) calls ``bootstrap``.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from carbon_common.bus.port import EventBus, Subscription
from carbon_common.runtime import ServiceRuntime
from carbon_lending.adapters.policy_store import (
    PolicyDocument,
    book_of,
    load_catalogue,
    load_policy_documents,
    record_policy_versions,
)
from carbon_lending.adapters.quote_writer import QuoteWriter
from carbon_lending.adapters.read_model_cache import ReadModelCache
from carbon_lending.adapters.uow import SqlUnitOfWork
from carbon_lending.domain.classification import Catalogue
from carbon_lending.domain.policy import PolicyBook
from carbon_lending.service_layer.consumers import GROUP, TOPICS, decoder, make_handler
from carbon_lending.service_layer.quotes import QuoteDeps
from carbon_lending.settings import Settings

log = logging.getLogger("carbon_lending.bootstrap")


def utc_now() -> datetime:
    return datetime.now(UTC)


@dataclass
class Container:
    settings: Settings
    runtime: ServiceRuntime
    policies: PolicyBook
    catalogue: Catalogue
    clock: Callable[[], datetime] = field(default=utc_now)
    policy_documents: list[PolicyDocument] = field(default_factory=list)
    read_model: ReadModelCache = field(init=False)
    quote_writer: QuoteWriter = field(init=False)
    quote_deps: QuoteDeps = field(init=False)
    _audit_task: asyncio.Task[None] | None = field(init=False, default=None)

    def __post_init__(self) -> None:
        self.read_model = ReadModelCache(self.uow, refresh_seconds=self.settings.read_model_refresh_seconds)
        self.quote_writer = QuoteWriter(self.uow, max_batch=self.settings.quote_batch_max)
        self.quote_deps = QuoteDeps(self.read_model, self.quote_writer, self.uow)

    def now(self) -> datetime:
        """The container's clock (replaceable in tests), read at call time."""
        return self.clock()

    def uow(self) -> SqlUnitOfWork:
        return SqlUnitOfWork(self.runtime.sessions, "lending", on_commit=self.runtime.relay.notify)

    async def start(self) -> None:
        await self.runtime.start()
        try:
            await self._record_policies()
        except Exception:  # database not reachable yet: keep retrying, do not refuse to start
            log.warning("policy audit not recorded yet; retrying in the background", exc_info=True)
            self._audit_task = asyncio.create_task(self._record_policies_until_done())
        self.read_model.start()

    async def _record_policies(self) -> None:
        await record_policy_versions(self.uow, self.policy_documents, self.settings.policy_changed_by)

    async def _record_policies_until_done(self, delay: float = 1.0) -> None:
        while True:
            await asyncio.sleep(delay)
            try:
                await self._record_policies()
                return
            except Exception:
                delay = min(delay * 2, 30.0)
                log.warning("policy audit still not recorded", exc_info=True)

    async def stop(self) -> None:
        if self._audit_task is not None:
            self._audit_task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._audit_task
            self._audit_task = None
        await self.read_model.stop()
        await self.quote_writer.stop()
        await self.runtime.stop()


def bootstrap(
    settings: Settings, bus: EventBus | None = None, clock: Callable[[], datetime] | None = None
) -> Container:
    runtime = ServiceRuntime(settings, bus=bus)
    documents = load_policy_documents(settings.products_dir)
    container = Container(
        settings=settings,
        runtime=runtime,
        policies=book_of(documents, settings.products_dir),
        catalogue=load_catalogue(settings.products_dir),
        clock=clock or utc_now,
        policy_documents=documents,
    )
    runtime.subscribe(consumer_subscription(container))
    return container


def consumer_subscription(container: Container) -> Subscription[Any]:
    """Lending's one consumer (also what ``bench/bench_consumer.py`` drives directly)."""
    return Subscription(
        group=GROUP,
        topics=list(TOPICS),
        decoder=decoder(),
        handler=make_handler(
            container.uow, container.policies, container.now, on_applied=container.read_model.invalidate
        ),
        max_batch=container.settings.max_batch,
        burst_linger_ms=container.settings.burst_linger_ms,
    )
