"""(c) The Kafka broker stopped ~10 s mid-replay; (f) PostgreSQL restarted mid-replay.

Both run on a private server (the shared ones at 9092/55432 are never touched). Afterwards
every service must be ready again *without a restart* and the final state must equal the
uninterrupted run's: no fact lost, none counted twice.
"""

from __future__ import annotations

import asyncio
import random
import time
from collections.abc import Awaitable, Callable

import httpx
import pytest

from carbon_bureau.pilot.dataset import PilotDataset
from carbon_bureau.stack.pg_handle import PgHandle
from tests.fault import scenario
from tests.fault.conftest import Baseline
from tests.fault.harness import NAMES, Deployment
from tests.fault.private_infra import PrivateKafka, PrivatePostgres

pytestmark = pytest.mark.integration
RATE = 60.0  # records/s: a ~25 s replay, the outage falls inside it
OUTAGE_S = 10.0
RECOVERY_S = 120.0


async def readiness_until(
    dep: Deployment, want: Callable[[int], bool], timeout: float
) -> tuple[bool, dict[str, int]]:
    """Poll every service's /readyz until ``want(status)`` holds for all, or time out."""
    loop = asyncio.get_running_loop()
    end = loop.time() + timeout
    last: dict[str, int] = {}
    async with httpx.AsyncClient() as client:
        while loop.time() < end:
            last = await dep.readyz(client)
            if all(want(s) for s in last.values()):
                return True, last
            await asyncio.sleep(0.5)
    return False, last


async def outage_during_replay(
    dep: Deployment,
    pilot: PilotDataset,
    down: Callable[[], Awaitable[None]],
    up: Callable[[], Awaitable[None]],
) -> dict[str, object]:
    """Replay; at a seeded random moment take the server down for ~10 s, then bring it back."""
    rng = random.Random(scenario.SEED + 1)
    seen: dict[str, object] = {}
    started = time.monotonic()

    async def fault() -> None:
        await asyncio.sleep(rng.uniform(3.0, 6.0))
        seen["down_at_s"] = round(time.monotonic() - started, 1)
        await down()
        reflected, states = await readiness_until(dep, lambda s: s != 200, OUTAGE_S)
        seen["readyz_during_outage"] = states
        seen["readiness_reflected_outage"] = reflected
        await asyncio.sleep(max(0.0, OUTAGE_S - (time.monotonic() - started - float(str(seen["down_at_s"])))))
        await up()
        seen["up_at_s"] = round(time.monotonic() - started, 1)

    await asyncio.gather(scenario.replay(dep, pilot, rate=RATE), fault())
    recovered, states = await readiness_until(dep, lambda s: s == 200, RECOVERY_S)
    seen["readyz_after"] = states
    seen["recovered_after_s"] = round(time.monotonic() - started - float(str(seen["up_at_s"])), 1)
    assert recovered, (
        f"services not ready {RECOVERY_S:.0f}s after the server came back (no restart allowed): "
        f"{ {n: s for n, s in states.items() if s != 200} }; timeline {seen}; logs in {dep.log_dir}"
    )
    return seen


async def test_kafka_broker_stopped_mid_replay(
    baseline: Baseline,
    pilot: PilotDataset,
    private_kafka: PrivateKafka,
    shared_pg: PgHandle,
    deployment_factory: list[Deployment],
) -> None:
    dep = Deployment("kafka-outage", private_kafka.bootstrap, shared_pg)
    deployment_factory.append(dep)
    await dep.start()
    seen = await outage_during_replay(dep, pilot, private_kafka.stop, private_kafka.start)
    got = await scenario.settle(dep)
    scenario.assert_same_state(baseline.snapshot, got, f"Kafka outage {seen}")
    assert seen["readiness_reflected_outage"], f"/readyz did not report the broker outage: {seen}"
    print(f"kafka outage timeline: {seen}")


async def test_postgres_restarted_mid_replay(
    baseline: Baseline,
    pilot: PilotDataset,
    shared_kafka: str,
    private_pg: PrivatePostgres,
    deployment_factory: list[Deployment],
) -> None:
    assert private_pg.handle is not None
    dep = Deployment("pg-restart", shared_kafka, private_pg.handle)
    deployment_factory.append(dep)
    await dep.start()

    async def up() -> None:
        await private_pg.start()

    seen = await outage_during_replay(dep, pilot, private_pg.stop, up)
    assert seen["readiness_reflected_outage"], f"/readyz did not report the database outage: {seen}"
    assert set(NAMES) == set(seen["readyz_after"])  # type: ignore[arg-type]
    got = await scenario.settle(dep)
    scenario.assert_same_state(baseline.snapshot, got, f"PostgreSQL restart {seen}")
    print(f"postgres restart timeline: {seen}")
