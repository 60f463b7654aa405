"""The consumer: map ``ingest.enterprises.v1`` and ``rating.ratings.v1`` events to lending's
read-model commands, one unit of work per batch.

The ids of a batch are claimed in the inbox in the same transaction as the effect, so a
redelivered batch changes nothing. Events are coalesced per enterprise (one write per
enterprise per batch) and written in bulk; each record gets its CONSUMER span, a child of the
producer's. Event types lending does not use are claimed and ignored (tolerant reader).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Sequence
from datetime import datetime
from typing import Any

from carbon_common.bus.port import Decoded, PoisonRecord
from carbon_common.events import EnterpriseRegistered, Envelope, RatingIssued, Topics
from carbon_common.telemetry import consume_span
from carbon_lending.domain.policy import PolicyBook
from carbon_lending.service_layer.ingestion import apply_directory, apply_ratings
from carbon_lending.service_layer.ports import UnitOfWorkPort

TOPICS = (Topics.ENTERPRISES, Topics.RATINGS)
GROUP = "lending"

BatchHandler = Callable[[Sequence[Decoded[Envelope[Any]]]], Any]


def make_handler(
    uow_factory: Callable[[], UnitOfWorkPort], book: PolicyBook, clock: Callable[[], datetime]
) -> BatchHandler:
    async def handle(batch: Sequence[Decoded[Envelope[Any]]]) -> None:
        by_topic: dict[str, list[Decoded[Envelope[Any]]]] = defaultdict(list)
        for d in batch:
            by_topic[d.record.topic].append(d)
        async with uow_factory() as uow:
            directory: list[EnterpriseRegistered] = []
            ratings: list[RatingIssued] = []
            for topic, items in by_topic.items():
                new = await uow.repo.claim(f"{GROUP}:{topic}", [d.item.id for d in items])
                for d in items:
                    if d.item.id not in new:
                        continue
                    env = d.item
                    with consume_span(f"lending consume {topic}", env.traceparent, event_type=env.type):
                        data = env.data
                        if isinstance(data, EnterpriseRegistered):  # includes EnterpriseUpdated
                            directory.append(data)
                        elif isinstance(data, RatingIssued):
                            if data.issued_at.tzinfo is None:
                                raise PoisonRecord(d.record, "RatingIssued.issued_at has no time zone")
                            ratings.append(data)
            await apply_directory(uow, directory)
            await apply_ratings(uow, ratings, book, clock())
            await uow.commit()

    return handle
