"""The composition root: runtime (engine, bus, relay), unit-of-work factory, methodology, subscriptions.

Nothing is built at import time; ``create_app`` (or the embedded host) calls ``bootstrap``.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime

from carbon_common.bus.port import EventBus, Subscription
from carbon_common.events import Topics
from carbon_common.runtime import ServiceRuntime
from carbon_rating.adapters.uow import SqlUnitOfWork
from carbon_rating.domain.methodology import Methodology
from carbon_rating.methodology import load
from carbon_rating.service_layer import methodology_admin as madmin
from carbon_rating.service_layer.consumers import make_batch_handler, rating_decoder
from carbon_rating.service_layer.handlers import rerate_all
from carbon_rating.service_layer.input_cache import InputCache
from carbon_rating.service_layer.ports import MethodologyChange
from carbon_rating.settings import Settings

log = logging.getLogger("carbon_rating")
#: rating reads the credit-facts stream (conduct, ETS, transition and finance facts: the families
#: it rates on, plus lending's finance ones), not ``ingest.facts.v1`` with every fact of the
#: account families (≈ 95 % of the facts, which only accounting reads)
CONSUMED_TOPICS = (Topics.ENTERPRISES, Topics.ACCOUNTS, Topics.CREDIT_FACTS)


@dataclass
class Container:
    settings: Settings
    runtime: ServiceRuntime
    uow: Callable[[], SqlUnitOfWork]
    #: the methodology in force (new ratings are issued under it); changed by ``activate`` and
    #: followed from the audit trail by ``refresh_methodology`` (service_layer.methodology_admin)
    methodology: Methodology
    #: account months and facts the consumer keeps between batches (validated on every use;
    #: service_layer/input_cache.py)
    inputs: InputCache

    _cycle: asyncio.Task[None] | None = None
    _watch: asyncio.Task[None] | None = None
    _reconciled: bool = False

    async def start(self) -> None:
        await self._reconcile()  # before the consumers start: they rate under the methodology in force
        await self.runtime.start()
        if self.settings.run_workers and self.settings.rerate_interval_seconds > 0:
            self._cycle = asyncio.create_task(self._periodic(), name="rating:periodic-cycle")
        if self.settings.run_workers and self.settings.methodology_refresh_seconds > 0:
            self._watch = asyncio.create_task(self._follow(), name="rating:methodology-follow")

    async def stop(self) -> None:
        for task in (self._cycle, self._watch):
            if task is not None:
                task.cancel()
                await asyncio.gather(task, return_exceptions=True)
        self._cycle = self._watch = None
        await self.runtime.stop()

    async def _reconcile(self) -> None:
        """Record the deployment's methodology setting if it changed; adopt the one in force.

        A database that is not reachable yet does not stop the start: the service runs under the
        configured methodology and ``refresh_methodology`` retries the reconciliation."""
        try:
            async with self.uow() as uow:
                m, change = await madmin.reconcile_at_start(uow, self.methodology, load, datetime.now(UTC))
                await uow.commit()
        except Exception:
            log.exception("could not reconcile the methodology with its audit trail; retrying later")
            return
        self._reconciled = True
        if change is not None:
            log.info("methodology change recorded", extra={"version": m.version, "change_id": change.id})
        self.methodology = m

    async def refresh_methodology(self) -> Methodology:
        """Follow the latest recorded change (another replica's activation); return the one in force."""
        if not self._reconciled:
            await self._reconcile()
            return self.methodology
        async with self.uow() as uow:
            latest = await madmin.in_force(uow)
        m = self.methodology
        if latest is not None and (latest.to_version, latest.to_digest) != (m.version, m.digest):
            new = load(latest.to_version)
            if new.digest == latest.to_digest:
                self.methodology = new
                log.info("methodology switched", extra={"from": m.version, "to": new.version})
            else:
                log.error("methodology %s in force has another digest than the shipped file", new.version)
        return self.methodology

    async def activate(
        self, version: str, actor: str, org: str | None, reason: str | None
    ) -> MethodologyChange:
        """Put ``version`` in force (``MethodologyError`` when it does not load), recording who."""
        new = load(version)
        async with self.uow() as uow:
            change = await madmin.activate(uow, new, actor, org, reason, datetime.now(UTC))
            await uow.commit()
        self.methodology = new
        return change

    async def _follow(self) -> None:
        while True:
            await asyncio.sleep(self.settings.methodology_refresh_seconds)
            try:
                await self.refresh_methodology()
            except Exception:  # the next round retries
                log.exception("following the methodology in force failed")

    async def _periodic(self) -> None:
        """The periodic full cycle: picks up peers' new accounts and the rolling window."""
        while True:
            await asyncio.sleep(self.settings.rerate_interval_seconds)
            try:
                m = await self.refresh_methodology()
                await rerate_all(self.uow, m, "periodic_cycle", datetime.now(UTC))
            except Exception:  # the next cycle retries; the service must not die with it
                log.exception("periodic re-rating cycle failed")


def bootstrap(settings: Settings, bus: EventBus | None = None) -> Container:
    runtime = ServiceRuntime(settings, bus=bus)
    methodology = load(settings.methodology_version)  # refused here if the file does not validate

    def uow() -> SqlUnitOfWork:
        return SqlUnitOfWork(
            runtime.sessions, source=f"/{settings.service_name}", on_commit=runtime.relay.notify
        )

    container = Container(settings, runtime, uow, methodology, InputCache(settings.input_cache_enterprises))
    runtime.subscribe(
        Subscription(
            group="rating",
            topics=list(CONSUMED_TOPICS),
            decoder=rating_decoder(),
            handler=make_batch_handler(uow, lambda: container.methodology, container.inputs),
            max_batch=settings.max_batch,
            burst_linger_ms=settings.burst_linger_ms,
        )
    )
    return container
