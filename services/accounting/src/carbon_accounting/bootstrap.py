"""The composition root: runtime (engine, bus, relay), unit of work factory, subscriptions.

Nothing here runs at import time; ``create_app`` (or the embedded host) calls ``bootstrap``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from carbon_accounting.adapters.consumer import subscription
from carbon_accounting.adapters.factor_files import load_packaged
from carbon_accounting.adapters.unit_of_work import SqlUnitOfWork
from carbon_accounting.service_layer.factor_sets import FactorSets
from carbon_accounting.settings import Settings
from carbon_common.bus.port import EventBus
from carbon_common.runtime import ServiceRuntime

UowFactory = Callable[[], SqlUnitOfWork]


@dataclass
class Container:
    settings: Settings
    runtime: ServiceRuntime
    uow: UowFactory
    factor_sets: FactorSets

    async def start(self) -> None:
        """Seed the packaged factor set (first start only), then start bus and relay."""
        async with self.uow() as uow:
            await self.factor_sets.ensure_seeded(uow.repo)
            await uow.commit()
        await self.runtime.start()

    async def stop(self) -> None:
        await self.runtime.stop()


def bootstrap(settings: Settings, bus: EventBus | None = None) -> Container:
    runtime = ServiceRuntime(settings, bus=bus)

    def uow() -> SqlUnitOfWork:
        return SqlUnitOfWork(
            runtime.sessions, source=f"/{settings.service_name}", on_commit=runtime.relay.notify
        )

    container = Container(settings, runtime, uow, FactorSets(load_packaged(settings.seed_factor_set)))
    runtime.subscribe(
        subscription(
            uow,
            container.factor_sets,
            settings.max_batch,
            settings.verification_tolerance,
            burst_linger_ms=settings.burst_linger_ms,
        )
    )
    return container
