"""Benchmark repricing after a full re-rating of a pilot-sized portfolio (issue 5: ≤ 10 s).

Usage (from the repo root, with ``eval "$(.venv/bin/bureau stack env)"``):

    .venv/bin/python services/lending/scripts/bench_repricing.py [enterprises] [loans_per_enterprise]

Seeds ``enterprises`` (default 1,100, the pilot) rated light green, each with
``loans_per_enterprise`` (default 3) open carbon-linked loans, straight into lending's tables in a
fresh database; then publishes one ``RatingIssued`` per enterprise (yellow: one notch down, so
every loan is repriced +10 bp from its next period and gets a downgrade alert) on the
in-process bus and times the consumer until every event is applied (inbox, rating history,
current ratings, repricings, loan events and the outbox rows of ``LoanRepriced``/``LoanAlert``).
"""

from __future__ import annotations

import asyncio
import sys
import time
import uuid
from datetime import UTC, date, datetime
from decimal import Decimal
from pathlib import Path

from sqlalchemy import func, insert, select
from sqlalchemy.ext.asyncio import create_async_engine

from carbon_common.bus.memory import InMemoryBus
from carbon_common.bus.port import to_record
from carbon_common.events import Envelope, RatingIssued
from carbon_common.migrations import upgrade_head
from carbon_common.settings import KafkaSettings, PostgresSettings
from carbon_common.testing import drop_database, fresh_database
from carbon_lending.adapters.orm import current_ratings, enterprises, loan_rate_changes, loans, outbox, quotes
from carbon_lending.bootstrap import bootstrap
from carbon_lending.settings import Settings

MIGRATIONS = Path(__file__).resolve().parents[1] / "src" / "carbon_lending" / "migrations"
ISSUED = datetime(2025, 1, 1, tzinfo=UTC)


async def seed(url: str, n: int, per: int) -> list[str]:
    engine = create_async_engine(url)
    codes = [f"91140400{i:09d}X" for i in range(n)]
    async with engine.begin() as conn:
        await conn.execute(
            insert(enterprises),
            [
                {
                    "credit_code": c,
                    "name": f"E{i}",
                    "industry_code": "4411",
                    "region_code": "140400",
                    "size_class": "large",
                    "transition_stage": "mid",
                    "revision": 1,
                }
                for i, c in enumerate(codes)
            ],
        )
        await conn.execute(
            insert(current_ratings),
            [
                {
                    "credit_code": c,
                    "rating_id": f"r0-{i}",
                    "score": 75,
                    "label": "light_green",
                    "confidence": "0.9",
                    "methodology_version": "bench@1",
                    "issued_at": ISSUED,
                    "as_of_period": "2024-12",
                    "transition_stage": "mid",
                    "vetoes": [],
                }
                for i, c in enumerate(codes)
            ],
        )
        qrows, lrows = [], []
        for i, c in enumerate(codes):
            for k in range(per):
                qid, lid = str(uuid.uuid4()), str(uuid.uuid4())
                qrows.append(
                    {
                        "quote_id": qid,
                        "bank_id": f"bank-{k % 3}",
                        "request_hash": "",
                        "credit_code": c,
                        "product": "carbon_linked_loan",
                        "amount_cny": Decimal(2_000_000),
                        "annual_rate_pct": Decimal("3.3"),
                        "rating_id": f"r0-{i}",
                        "label": "light_green",
                        "approval_track": "standard",
                        "quoted_at": ISSUED,
                        "valid_until": ISSUED,
                        "document": {},
                    }
                )
                lrows.append(
                    {
                        "loan_id": lid,
                        "bank_id": f"bank-{k % 3}",
                        "quote_id": qid,
                        "bank_loan_ref": f"L-{i}-{k}",
                        "credit_code": c,
                        "product": "carbon_linked_loan",
                        "industry_code": "4411",
                        "principal_cny": Decimal(2_000_000),
                        "outstanding_cny": Decimal(2_000_000),
                        "drawn_on": date(2025, 1, 15),
                        "term_months": 24,
                        "status": "performing",
                        "rate_pct": Decimal("3.3"),
                        "base_rate_pct": Decimal("3.0"),
                        "components": {},
                        "origin_label": "light_green",
                        "current_label": "light_green",
                        "rating_id": f"r0-{i}",
                        "approval_track": "standard",
                        "approval_sla_days": 20,
                    }
                )
        await conn.execute(insert(quotes), qrows)
        await conn.execute(insert(loans), lrows)
    await engine.dispose()
    return codes


async def main(n: int, per: int) -> None:
    url = await fresh_database("lendreprice")
    try:
        await upgrade_head(MIGRATIONS, url)
        codes = await seed(url, n, per)
        bus = InMemoryBus()
        settings = Settings(
            postgres=PostgresSettings(url=url), kafka=KafkaSettings(bootstrap_servers=""), run_workers=True
        )
        container = bootstrap(settings, bus=bus, clock=lambda: datetime(2025, 2, 10, tzinfo=UTC))
        await bus.start()
        await container.start()
        events = [
            Envelope(
                data=RatingIssued(
                    rating_id=f"r1-{i}",
                    credit_code=c,
                    as_of_period="2025-01",
                    score=Decimal(60),
                    label="yellow",
                    previous_label="light_green",
                    transition_stage="mid",
                    confidence=Decimal("0.9"),
                    methodology_version="bench@1",
                    issued_at=datetime(2025, 2, 1, tzinfo=UTC),
                ),
                source="rating",
            )
            for i, c in enumerate(codes)
        ]
        start = time.perf_counter()
        await bus.publish([to_record(e) for e in events])
        await bus.drain()
        elapsed = time.perf_counter() - start
        async with container.uow() as uow:
            changes = (
                await uow.session.execute(select(func.count()).select_from(loan_rate_changes))
            ).scalar_one()
            owed = (await uow.session.execute(select(func.count()).select_from(outbox))).scalar_one()
        print(
            f"{n} ratings, {n * per} linked loans: repriced {changes} loans in {elapsed:.2f} s "
            f"({owed} LoanRepriced/LoanAlert events in the outbox)"
        )
        await container.stop()
        await bus.stop()
    finally:
        await drop_database(url)


if __name__ == "__main__":
    args = [int(a) for a in sys.argv[1:]]
    asyncio.run(main(args[0] if args else 1100, args[1] if len(args) > 1 else 3))
