"""Read models from other services' events: the enterprise directory and ratings.

Both are bulk writes coalesced per enterprise: a batch that carries many versions of one
enterprise writes the highest revision once; of many ratings, all enter the history and only
the newest (by issued_at, rating_id) competes to become current.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from carbon_common.events import EnterpriseRegistered, RatingIssued
from carbon_lending.domain.model import Enterprise, Rating
from carbon_lending.domain.policy import PolicyBook
from carbon_lending.service_layer.monitoring import reprice_on_ratings
from carbon_lending.service_layer.ports import UnitOfWorkPort


def to_enterprise(e: EnterpriseRegistered) -> tuple[Enterprise, int]:
    return (
        Enterprise(
            credit_code=e.credit_code,
            name=e.name,
            industry_code=e.industry_code,
            region_code=e.region_code,
            size_class=e.size_class,
            transition_stage=e.transition_stage,
            ets_participant=e.ets_participant,
        ),
        e.revision,
    )


def to_rating(r: RatingIssued) -> tuple[Rating, str | None]:
    return (
        Rating(
            rating_id=r.rating_id,
            credit_code=r.credit_code,
            score=r.score,
            label=r.label,
            confidence=r.confidence,
            methodology_version=r.methodology_version,
            issued_at=r.issued_at,
            as_of_period=r.as_of_period,
            transition_stage=r.transition_stage,
            vetoes=tuple(r.vetoes),
        ),
        r.previous_label,
    )


async def apply_directory(uow: UnitOfWorkPort, events: Sequence[EnterpriseRegistered]) -> None:
    latest: dict[str, tuple[Enterprise, int]] = {}
    for e in events:
        ent, rev = to_enterprise(e)
        if ent.credit_code not in latest or rev >= latest[ent.credit_code][1]:
            latest[ent.credit_code] = (ent, rev)
    await uow.repo.upsert_enterprises(list(latest.values()))


async def apply_ratings(
    uow: UnitOfWorkPort, events: Sequence[RatingIssued], book: PolicyBook, now: datetime
) -> tuple[int, int]:
    """Store ratings; reprice the loans of enterprises whose current rating changed."""
    if not events:
        return 0, 0
    became_current = await uow.repo.add_ratings([to_rating(r) for r in events])
    return await reprice_on_ratings(uow, became_current, book, now)
