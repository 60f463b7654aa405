"""Composition root: the runtime (engine, bus, relay), the unit-of-work factory, subscriptions.

Nothing here runs at import time; ``create_app`` (or the embedded host) calls ``bootstrap``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from carbon_common.auth import RecordTokenVerifier, TokenVerifier
from carbon_common.bus.port import EventBus
from carbon_common.runtime import ServiceRuntime
from carbon_ingest.adapters.catalogue_files import load_catalogue
from carbon_ingest.adapters.consumers import SubmissionAuth, subscriptions
from carbon_ingest.adapters.unit_of_work import SqlUnitOfWork
from carbon_ingest.domain.catalogue import Catalogue
from carbon_ingest.service_layer.group_commit import SubmissionWriter
from carbon_ingest.service_layer.submissions import Clock
from carbon_ingest.settings import Settings


@dataclass
class Container:
    settings: Settings
    runtime: ServiceRuntime
    catalogue: Catalogue
    clock: Clock = field(default_factory=Clock)
    uow: Callable[[], SqlUnitOfWork] = field(init=False)

    submissions: SubmissionWriter = field(init=False)

    def __post_init__(self) -> None:
        runtime = self.runtime
        self.uow = lambda: SqlUnitOfWork(runtime.sessions, runtime.name, on_commit=runtime.relay.notify)
        self.submissions = SubmissionWriter(
            self.uow, self.catalogue, self.clock, linger_s=self.settings.group_commit_linger_ms / 1000
        )

    async def start(self) -> None:
        await self.runtime.start()

    async def stop(self) -> None:
        await self.submissions.stop()
        await self.runtime.stop()


def bootstrap(settings: Settings, bus: EventBus | None = None, clock: Clock | None = None) -> Container:
    """Build the service; subscriptions are registered here, before anything starts."""
    runtime = ServiceRuntime(settings, bus=bus)
    container = Container(settings, runtime, load_catalogue(settings.catalogue_path), clock or Clock())
    # Kafka submissions are verified with the HTTP token settings (keys, issuer, audience)
    auth = SubmissionAuth(
        RecordTokenVerifier(TokenVerifier(settings.auth, settings.environment)), settings.kafka_token_required
    )
    for sub in subscriptions(container.uow, container.catalogue, container.clock, auth):
        runtime.subscribe(sub)
    return container
