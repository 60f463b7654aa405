"""The composition root: runtime (engine, bus, relay), unit-of-work factory, methodology, subscriptions.

Nothing is built at import time; ``create_app`` (or the embedded host) calls ``bootstrap``.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime

from carbon_common.bus.port import EventBus, Subscription, envelope_decoder
from carbon_common.events import Topics
from carbon_common.runtime import ServiceRuntime
from carbon_rating.adapters.uow import SqlUnitOfWork
from carbon_rating.domain.methodology import Methodology
from carbon_rating.methodology import load
from carbon_rating.service_layer.consumers import make_batch_handler
from carbon_rating.service_layer.handlers import rerate_all
from carbon_rating.settings import Settings

log = logging.getLogger("carbon_rating")
CONSUMED_TOPICS = (Topics.ENTERPRISES, Topics.ACCOUNTS, Topics.FACTS)


@dataclass
class Container:
    settings: Settings
    runtime: ServiceRuntime
    uow: Callable[[], SqlUnitOfWork]
    methodology: Methodology

    _cycle: asyncio.Task[None] | None = None

    async def start(self) -> None:
        await self.runtime.start()
        if self.settings.run_workers and self.settings.rerate_interval_seconds > 0:
            self._cycle = asyncio.create_task(self._periodic(), name="rating:periodic-cycle")

    async def stop(self) -> None:
        if self._cycle is not None:
            self._cycle.cancel()
            await asyncio.gather(self._cycle, return_exceptions=True)
            self._cycle = None
        await self.runtime.stop()

    async def _periodic(self) -> None:
        """The periodic full cycle: picks up peers' new accounts and the rolling window."""
        while True:
            await asyncio.sleep(self.settings.rerate_interval_seconds)
            try:
                await rerate_all(self.uow, self.methodology, "periodic_cycle", datetime.now(UTC))
            except Exception:  # the next cycle retries; the service must not die with it
                log.exception("periodic re-rating cycle failed")


def bootstrap(settings: Settings, bus: EventBus | None = None) -> Container:
    runtime = ServiceRuntime(settings, bus=bus)
    methodology = load(settings.methodology_version)  # refused here if the file does not validate

    def uow() -> SqlUnitOfWork:
        return SqlUnitOfWork(
            runtime.sessions, source=f"/{settings.service_name}", on_commit=runtime.relay.notify
        )

    container = Container(settings, runtime, uow, methodology)
    runtime.subscribe(
        Subscription(
            group="rating",
            topics=list(CONSUMED_TOPICS),
            decoder=envelope_decoder(),
            handler=make_batch_handler(uow, methodology),
            max_batch=settings.kafka.max_batch,
        )
    )
    return container
