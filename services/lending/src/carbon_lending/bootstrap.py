"""The composition root: runtime (engine, bus, relay), unit-of-work factory, policies, consumer.

Nothing here runs at import time; ``create_app`` (or the embedded host) calls ``bootstrap``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime

from carbon_common.bus.port import EventBus, Subscription, envelope_decoder
from carbon_common.runtime import ServiceRuntime
from carbon_lending.adapters.policy_store import load_catalogue, load_policies
from carbon_lending.adapters.uow import SqlUnitOfWork
from carbon_lending.domain.classification import Catalogue
from carbon_lending.domain.policy import PolicyBook
from carbon_lending.service_layer.consumers import GROUP, TOPICS, make_handler
from carbon_lending.settings import Settings


def utc_now() -> datetime:
    return datetime.now(UTC)


@dataclass
class Container:
    settings: Settings
    runtime: ServiceRuntime
    policies: PolicyBook
    catalogue: Catalogue
    clock: Callable[[], datetime] = field(default=utc_now)

    def now(self) -> datetime:
        """The container's clock (replaceable in tests), read at call time."""
        return self.clock()

    def uow(self) -> SqlUnitOfWork:
        return SqlUnitOfWork(self.runtime.sessions, "lending", on_commit=self.runtime.relay.notify)

    async def start(self) -> None:
        await self.runtime.start()

    async def stop(self) -> None:
        await self.runtime.stop()


def bootstrap(
    settings: Settings, bus: EventBus | None = None, clock: Callable[[], datetime] | None = None
) -> Container:
    runtime = ServiceRuntime(settings, bus=bus)
    container = Container(
        settings=settings,
        runtime=runtime,
        policies=load_policies(settings.products_dir),
        catalogue=load_catalogue(settings.products_dir),
        clock=clock or utc_now,
    )
    runtime.subscribe(
        Subscription(
            group=GROUP,
            topics=list(TOPICS),
            decoder=envelope_decoder(),
            handler=make_handler(container.uow, container.policies, container.now),
            max_batch=settings.kafka.max_batch,
        )
    )
    return container
