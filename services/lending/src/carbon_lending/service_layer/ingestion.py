"""Read models from other services' events: the enterprise directory, ratings, objections to
ratings, the borrowers' monthly carbon accounts and their finance facts.

All are bulk writes coalesced per key: a batch that carries many versions of one enterprise
writes the highest revision once; of many ratings, all enter the history and only the newest
(by issued_at, rating_id) competes to become current; an objection keeps its highest
(sequence, changed_at), in the batch and against the table; an account keeps its highest
``calculation_version``; a finance fact per (enterprise, indicator, period) keeps the
authoritative source, then the latest recorded (a correction supersedes).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from carbon_common.events import (
    AccountUpdated,
    EnterpriseRegistered,
    FactRecorded,
    ObjectionChanged,
    RatingIssued,
)
from carbon_lending.domain.model import Enterprise, Rating
from carbon_lending.domain.policy import PolicyBook
from carbon_lending.service_layer.monitoring import reprice_on_kpis, reprice_on_ratings
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
) -> list[str]:
    """Store ratings; reprice the loans of enterprises whose current rating changed. Returns
    those enterprises (the ones whose cached read-model entry is now stale)."""
    if not events:
        return []
    became_current = await uow.repo.add_ratings([to_rating(r) for r in events])
    await reprice_on_ratings(uow, became_current, book, now)
    return [r.credit_code for r in became_current]


async def apply_objections(uow: UnitOfWorkPort, events: Sequence[ObjectionChanged]) -> None:
    """Keep each objection's latest state (quotes see the open ones: manual review)."""
    latest: dict[str, ObjectionChanged] = {}
    for o in events:
        held = latest.get(o.objection_id)
        if held is None or (o.sequence, o.changed_at) > (held.sequence, held.changed_at):
            latest[o.objection_id] = o
    await uow.repo.upsert_objections(
        [
            {
                "objection_id": o.objection_id,
                "credit_code": o.credit_code,
                "rating_id": o.rating_id,
                "state": o.state,
                "open": o.open,
                "sequence": o.sequence,
                "changed_at": o.changed_at,
            }
            for o in sorted(latest.values(), key=lambda o: o.objection_id)
        ]
    )


async def apply_finance(uow: UnitOfWorkPort, facts: Sequence[FactRecorded]) -> None:
    latest: dict[tuple[str, str, str], FactRecorded] = {}
    for f in facts:
        key = (f.credit_code, f.indicator, f.period)
        held = latest.get(key)
        # as the upsert decides between batches: authoritative first, then the later record; on
        # a tie the later event (so a batch ends where its facts one by one would)
        if held is None or (f.authoritative, f.recorded_at) >= (held.authoritative, held.recorded_at):
            latest[key] = f
    await uow.repo.upsert_finance(
        [
            (f.credit_code, f.indicator, f.period, f.value, f.unit, f.authoritative, f.recorded_at, f.fact_id)
            for f in latest.values()
        ]
    )


async def apply_accounts(
    uow: UnitOfWorkPort, accounts: Sequence[AccountUpdated], book: PolicyBook, now: datetime
) -> int:
    """Store the accounts; re-evaluate the KPI-linked loans of the enterprises they touch."""
    if not accounts:
        return 0
    latest: dict[tuple[str, str], AccountUpdated] = {}
    for a in accounts:
        key = (a.credit_code, a.period)
        if key not in latest or a.calculation_version >= latest[key].calculation_version:
            latest[key] = a
    await uow.repo.upsert_accounts(
        [
            (
                a.credit_code,
                a.period,
                a.total_tco2,
                a.output_quantity,
                a.output_unit,
                a.data_quality_score,
                a.calculation_version,
            )
            for a in latest.values()
        ]
    )
    return await reprice_on_kpis(uow, sorted({a.credit_code for a in latest.values()}), book, now)
