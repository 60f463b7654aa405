"""The infrastructure half of a service's composition root.

``ServiceRuntime`` owns the engine, session factory, event bus (Kafka or in-process) and outbox
relay of one service, and starts/stops them in the right order. A service's ``bootstrap`` builds
one inside the app factory (never at import time) and adds its subscriptions before ``start``.
In the embedded mode several runtimes share one in-process bus that the host starts.
"""

from __future__ import annotations

import logging
from typing import Any

from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from carbon_common import faults
from carbon_common.bus.kafka import KafkaBus
from carbon_common.bus.memory import InMemoryBus
from carbon_common.bus.port import EventBus, Subscription
from carbon_common.db import create_engine, ping, tune_gc
from carbon_common.logging import setup_logging
from carbon_common.outbox import OutboxRelay
from carbon_common.settings import ServiceSettings
from carbon_common.telemetry import instrument_engine, setup_telemetry

log = logging.getLogger("carbon_common.runtime")


class ServiceRuntime:
    def __init__(
        self,
        settings: ServiceSettings,
        *,
        bus: EventBus | None = None,
        engine: AsyncEngine | None = None,
    ) -> None:
        self.settings = settings
        self.name = settings.service_name
        if faults.configured() and not settings.environment.allows_dev_secrets:
            raise RuntimeError("CARBON_FAULTS is set: fault injection is refused outside development/test")
        setup_logging(self.name, settings.telemetry.log_level, settings.telemetry.log_json)
        if settings.telemetry.traces_enabled:
            setup_telemetry(self.name)
        self.engine = engine or create_engine(settings.postgres)
        instrument_engine(self.engine)
        self.sessions: async_sessionmaker[AsyncSession] = async_sessionmaker(
            self.engine, expire_on_commit=False
        )
        self.owns_bus = bus is None
        self.bus: EventBus = bus if bus is not None else self._make_bus()
        self.relay = OutboxRelay(
            self.sessions, self.bus, self.name, coalesce_s=settings.relay_coalesce_ms / 1000
        )
        self._started = False

    def _make_bus(self) -> EventBus:
        if self.settings.kafka.enabled:
            return KafkaBus(self.settings.kafka)
        return InMemoryBus()

    def subscribe(self, subscription: Subscription[Any]) -> None:
        if self.settings.run_workers:
            self.bus.subscribe(subscription)

    async def start(self) -> None:
        if self.owns_bus:
            await self.bus.start()
        if self.settings.run_workers:
            await self.relay.start()
        self._started = True
        tune_gc()  # after start-up: the start-up heap is frozen out of the collector's sight
        log.info("service started", extra={"service": self.name, "kafka": self.settings.kafka.enabled})

    async def stop(self) -> None:
        """Stop polling and finish the batch (bus), flush owed events (relay), close the pool."""
        if self.owns_bus:
            await self.bus.stop()
        await self.relay.stop()
        await self.engine.dispose()
        self._started = False

    async def readiness(self) -> dict[str, bool]:
        checks = {"database": await ping(self.engine), "bus": await self.bus.healthy()}
        if self.settings.run_workers:
            checks["outbox_relay"] = self.relay.healthy()
        return checks
