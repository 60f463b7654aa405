"""(b) SIGKILL each service once at a (seeded) random moment of a replay, restart it: the final
facts, accounts, ratings and lending's read model equal the uninterrupted run's."""

from __future__ import annotations

import asyncio
import random
import time

import pytest

from carbon_bureau.pilot.dataset import PilotDataset
from carbon_bureau.stack.pg_handle import PgHandle
from tests.fault import scenario
from tests.fault.conftest import Baseline
from tests.fault.harness import NAMES, Deployment

pytestmark = pytest.mark.integration
#: records/s: the replay lasts ~25 s, long enough for four kills and restarts inside it
RATE = 60.0


async def test_kill_9_each_service_during_a_replay(
    baseline: Baseline,
    pilot: PilotDataset,
    shared_kafka: str,
    shared_pg: PgHandle,
    deployment_factory: list[Deployment],
) -> None:
    dep = Deployment("crash", shared_kafka, shared_pg)
    deployment_factory.append(dep)
    await dep.start()
    rng = random.Random(scenario.SEED)
    order = rng.sample(NAMES, len(NAMES))
    kills: list[tuple[str, float, float]] = []  # service, killed at (s into the replay), back after (s)
    started = time.monotonic()

    async def killer() -> None:
        for name in order:
            await asyncio.sleep(rng.uniform(0.5, 3.0))
            at = time.monotonic() - started
            await dep.restart(name, kill=True)
            kills.append((name, round(at, 1), round(time.monotonic() - started - at, 1)))

    replayed, _ = await asyncio.gather(scenario.replay(dep, pilot, rate=RATE), killer())
    replay_seconds = time.monotonic() - started
    assert [k[0] for k in kills] == order
    assert kills[0][1] < replay_seconds, f"the first kill came after the replay: {kills}"

    got = await scenario.settle(dep)
    scenario.assert_same_state(baseline.snapshot, got, f"kills {kills} during a {replay_seconds:.0f}s replay")
    print(
        f"kills (service, at s, restart s): {kills}; replay {replay_seconds:.1f}s; {replayed.records} records"
    )
