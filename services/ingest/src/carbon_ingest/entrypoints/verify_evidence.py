"""``python -m carbon_ingest.entrypoints.verify_evidence``: verify the evidence chain from a shell.

Exit code 0 when the chain is intact, 1 when an entry is broken (named on stdout).
"""

from __future__ import annotations

import asyncio
import json
import sys

from sqlalchemy.ext.asyncio import async_sessionmaker

from carbon_common.db import create_engine
from carbon_ingest.adapters.unit_of_work import SqlUnitOfWork
from carbon_ingest.service_layer.queries import verify_evidence
from carbon_ingest.settings import Settings


async def _run() -> int:
    engine = create_engine(Settings().postgres)
    try:
        v = await verify_evidence(SqlUnitOfWork(async_sessionmaker(engine), "ingest-cli"))
    finally:
        await engine.dispose()
    b = v.first_broken
    broken = None if b is None else {"seq": b.seq, "fact_id": b.fact_id, "reason": b.reason}
    result = {
        "ok": b is None,
        "entries_checked": v.entries_checked,
        "head_hash": v.head_hash,
        "first_broken": broken,
    }
    print(json.dumps(result))
    return 0 if b is None else 1


def main() -> None:
    sys.exit(asyncio.run(_run()))


if __name__ == "__main__":
    main()
