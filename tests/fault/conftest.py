"""Fixtures of the fault suite: the reduced pilot dataset, the baseline run, private servers.

Every scenario runs its own :class:`~tests.fault.harness.Deployment` (fresh databases, its own
Kafka namespace, free ports). The baseline — the uninterrupted run every faulty run is compared
with — is computed once per session. Missing infrastructure (``KAFKA_BOOTSTRAP``,
``PG_URL_BASE``) fails the suite; it never skips.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass

import pytest

from carbon_bureau.pilot.dataset import PilotDataset
from carbon_bureau.stack.pg_handle import PgHandle
from carbon_common.testing import kafka_bootstrap, pg_url_base
from tests.fault import scenario
from tests.fault.harness import Deployment
from tests.fault.private_infra import PrivateKafka, PrivatePostgres
from tests.fault.scenario import Snapshot


@dataclass
class Baseline:
    deployment: Deployment
    snapshot: Snapshot
    accepted: int


@pytest.fixture(scope="session")
def pilot() -> PilotDataset:
    return scenario.dataset()


@pytest.fixture(scope="session")
def shared_pg() -> PgHandle:
    return PgHandle(pg_url_base())


@pytest.fixture(scope="session")
def shared_kafka() -> str:
    return kafka_bootstrap()


@pytest.fixture(scope="session")
async def baseline(pilot: PilotDataset, shared_kafka: str, shared_pg: PgHandle) -> AsyncIterator[Baseline]:
    """The uninterrupted run on the shared servers, settled; its deployment stays up for the
    replay-twice scenario."""
    dep = Deployment("baseline", shared_kafka, shared_pg)
    try:
        await dep.start()
        result = await scenario.replay(dep, pilot)
        yield Baseline(dep, await scenario.settle(dep), result.accepted)
    finally:
        await dep.close()


@pytest.fixture
async def deployment_factory() -> AsyncIterator[list[Deployment]]:
    """Deployments a test starts are closed (processes stopped, databases dropped) after it."""
    made: list[Deployment] = []
    yield made
    for dep in made:
        await dep.close()


@pytest.fixture
async def private_kafka() -> AsyncIterator[PrivateKafka]:
    broker = PrivateKafka.create()
    try:
        await broker.start()
        yield broker
    finally:
        await broker.remove()


@pytest.fixture
async def private_pg() -> AsyncIterator[PrivatePostgres]:
    server = PrivatePostgres.create()
    try:
        await server.start()
        yield server
    finally:
        await server.remove()
