"""The composition root: runtime (engine, bus, relay), unit-of-work factory, methodology, subscriptions.

Nothing is built at import time; ``create_app`` (or the embedded host) calls ``bootstrap``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from carbon_common.bus.port import EventBus, Subscription, envelope_decoder
from carbon_common.events import Topics
from carbon_common.runtime import ServiceRuntime

from carbon_rating.adapters.uow import SqlUnitOfWork
from carbon_rating.domain.methodology import Methodology
from carbon_rating.methodology import load
from carbon_rating.service_layer.consumers import make_batch_handler
from carbon_rating.settings import Settings

CONSUMED_TOPICS = (Topics.ENTERPRISES, Topics.ACCOUNTS, Topics.FACTS)


@dataclass
class Container:
    settings: Settings
    runtime: ServiceRuntime
    uow: Callable[[], SqlUnitOfWork]
    methodology: Methodology

    async def start(self) -> None:
        await self.runtime.start()

    async def stop(self) -> None:
        await self.runtime.stop()


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
