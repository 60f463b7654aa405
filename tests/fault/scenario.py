"""Steps every fault scenario shares: replay the reduced pilot dataset, settle, snapshot.

Settling is "quiet, then one full re-rating cycle, then quiet again". The cycle is needed
because a rating is computed against the peers present *when its own account last changed*:
two uninterrupted runs that receive the same facts in a different interleaving end with a few
different peer percentiles (measured: 3 of 30 current ratings differ between two clean runs).
The periodic cycle (``POST /v1/admin/rerate``, what ``RATING_RERATE_INTERVAL_SECONDS`` runs in
production) re-rates everyone against the final inputs, which makes the final ratings a
function of the data alone — and so comparable between a faulty and a clean run.
"""

from __future__ import annotations

from typing import Any

import httpx

from carbon_bureau.pilot import generate
from carbon_bureau.pilot.dataset import PilotDataset
from carbon_bureau.pilot.replay import ReplayResult, replay_http
from carbon_common.auth import mint_dev_token
from tests.fault import state as st
from tests.fault.harness import Deployment

#: the reduced pilot: 30 enterprises x 6 months = 1,510 records in 382 batches (seeded)
SEED, ENTERPRISES, MONTHS = 2024, 30, 6
Snapshot = dict[str, list[tuple[Any, ...]]]


def dataset() -> PilotDataset:
    return generate(SEED, ENTERPRISES, MONTHS)


async def replay(dep: Deployment, ds: PilotDataset, *, rate: float | None = None) -> ReplayResult:
    """HTTP replay into ingest; retries ride out a killed or restarting ingest (record ids are
    idempotency keys, so a retried batch never counts twice)."""
    async with httpx.AsyncClient(base_url=dep.url("ingest"), timeout=60) as client:
        result = await replay_http(ds, client, concurrency=4, rate=rate, retries=9)
    assert not result.errors, result.errors[:5]
    return result


async def rerate(dep: Deployment) -> dict[str, Any]:
    token = mint_dev_token("bureau-staff", "methodology:admin")
    async with httpx.AsyncClient(timeout=120) as client:
        r = await client.post(
            f"{dep.url('rating')}/v1/admin/rerate",
            params={"reason": "periodic_cycle"},
            headers={"Authorization": f"Bearer {token}"},
        )
    assert r.status_code == 200, r.text
    return dict(r.json())


async def settle(dep: Deployment, timeout: float = 240.0) -> Snapshot:
    """Wait until quiet, run one re-rating cycle, wait until quiet, return the state."""
    await st.wait_quiet(dep, timeout)
    await rerate(dep)
    await st.wait_quiet(dep, timeout)
    return await st.state(dep)


def assert_same_state(baseline: Snapshot, got: Snapshot, what: str) -> None:
    diff = st.differences(baseline, got)
    assert not diff, f"{what}: final state differs from the uninterrupted run: {diff}"
    assert st.digest(got) == st.digest(baseline)
