"""``python -m carbon_rating.entrypoints.rerate [--reason methodology_change]``: full re-rating
with progress under the methodology in force, e.g. after a new version was put in force (by
``RATING_METHODOLOGY_VERSION`` at the service's start, or ``PUT /v1/admin/methodology``; both are
recorded in the audit trail of methodology changes).

Runs without consumers or the relay's polling (``run_workers`` is forced off): the issued events
wait in the outbox, and the running service's relay publishes them.
"""

from __future__ import annotations

import argparse
import asyncio
import time
from datetime import UTC, datetime

from carbon_rating.bootstrap import bootstrap
from carbon_rating.service_layer.handlers import rerate_all
from carbon_rating.settings import Settings


def _progress(done: int, total: int, issued: int) -> None:
    print(f"re-rated {done}/{total} enterprises, {issued} new ratings", flush=True)


async def run(reason: str, chunk: int) -> None:
    container = bootstrap(Settings(run_workers=False))
    await container.start()
    try:
        started = time.perf_counter()
        m = container.methodology
        total, issued = await rerate_all(container.uow, m, reason, datetime.now(UTC), chunk, _progress)
        took = time.perf_counter() - started
        print(f"done: {total} enterprises, {issued} ratings issued under {m.version} in {took:.2f}s")
    finally:
        await container.stop()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument(
        "--reason", choices=["methodology_change", "periodic_cycle"], default="methodology_change"
    )
    parser.add_argument("--chunk", type=int, default=200)
    args = parser.parse_args()
    asyncio.run(run(args.reason, args.chunk))


if __name__ == "__main__":
    main()
