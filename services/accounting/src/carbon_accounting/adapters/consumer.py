"""The inbound event adapter: bus batches → inbox claim → commands → one commit.

It lives in ``adapters`` (not ``entrypoints``) because the composition root must wire the
subscription and import-linter forbids ``bootstrap`` from importing ``entrypoints``.

Tolerant reader: enterprise events become the directory read model; ``FactRecorded`` of the
families accounting uses become facts (others — compliance, ETS, transition, capex — are
claimed and ignored). A fact in a unit accounting cannot interpret, or a non-finite value, can
never be applied: it is raised as ``PoisonRecord`` and dead-lettered; the rest of the batch goes on.
"""

from __future__ import annotations

import logging
from collections import defaultdict
from collections.abc import Callable, Sequence
from decimal import Decimal
from typing import Any

from carbon_accounting.adapters.unit_of_work import SqlUnitOfWork
from carbon_accounting.domain.model import Enterprise, Fact
from carbon_accounting.domain.quality import TOLERANCE
from carbon_accounting.domain.units import accepted_units, is_accounted, unit_ok
from carbon_accounting.service_layer.commands import ApplyBatch
from carbon_accounting.service_layer.factor_sets import FactorSets
from carbon_accounting.service_layer.handlers import apply_batch
from carbon_common.bus.port import Decoded, PoisonRecord, Subscription, envelope_decoder
from carbon_common.events import EnterpriseRegistered, Envelope, Event, FactRecorded, Topics
from carbon_common.inbox import claim

log = logging.getLogger("carbon_accounting.consumer")

GROUP = "accounting"
TOPICS = (Topics.ENTERPRISES, Topics.FACTS)


def to_enterprise(event: EnterpriseRegistered) -> Enterprise:
    """EnterpriseRegistered and EnterpriseUpdated (a subclass) carry the full state."""
    return Enterprise(
        credit_code=event.credit_code,
        industry_code=event.industry_code or None,
        region_code=event.region_code or None,
        ets_participant=event.ets_participant,
        revision=event.revision,
    )


def to_fact(event: FactRecorded) -> Fact:
    return Fact(
        fact_key=event.fact_key,
        fact_id=event.fact_id,
        revision=event.revision,
        credit_code=event.credit_code,
        department=event.department,
        record_id=event.record_id,
        indicator=event.indicator,
        period=event.period,
        value=event.value,
        unit=event.unit,
        evidence_hash=event.evidence_hash,
        authoritative=event.authoritative,
        attributes=event.attributes,
    )


def unusable(event: FactRecorded) -> str | None:
    """Why a fact can never be accounted, or None."""
    if not event.value.is_finite():
        return f"fact {event.fact_key}: value {event.value} is not a finite number"
    if not unit_ok(event.indicator, event.unit):
        expected = sorted(accepted_units(event.indicator) or ())
        return f"fact {event.fact_key}: unit {event.unit!r} of {event.indicator} is not one of {expected}"
    return None


def _add_fact(cmd: ApplyBatch, d: Decoded[Envelope[Event]], data: FactRecorded) -> None:
    if not is_accounted(data.indicator):
        return
    reason = unusable(data)
    if reason is not None:
        raise PoisonRecord(d.record, reason)
    cmd.facts.append(to_fact(data))


def to_command(batch: Sequence[Decoded[Envelope[Event]]]) -> ApplyBatch:
    cmd = ApplyBatch()
    # No span per record: the bus already runs the whole batch in one CONSUMER span parented on
    # the producer (``telemetry.process_span``); a span per event cost a quarter of the batch CPU.
    for d in batch:
        data = d.item.data
        if type(data) is FactRecorded:  # exact type first: isinstance on pydantic goes via ABCMeta
            _add_fact(cmd, d, data)
        elif isinstance(data, EnterpriseRegistered):
            cmd.enterprises.append(to_enterprise(data))
        elif isinstance(data, FactRecorded):
            _add_fact(cmd, d, data)
    return cmd


def batch_handler(
    uow_factory: Callable[[], SqlUnitOfWork], factor_sets: FactorSets, tolerance: Decimal = TOLERANCE
) -> Callable[[Sequence[Decoded[Envelope[Event]]]], Any]:
    async def handle(batch: Sequence[Decoded[Envelope[Event]]]) -> None:
        by_topic: dict[str, list[Decoded[Envelope[Event]]]] = defaultdict(list)
        for d in batch:
            by_topic[d.record.topic].append(d)
        async with uow_factory() as uow:
            fresh: list[Decoded[Envelope[Event]]] = []
            for topic in sorted(by_topic, key=lambda t: t != Topics.ENTERPRISES):  # directory first
                items = by_topic[topic]
                new = await claim(uow.session, f"{GROUP}:{topic}", [d.item.id for d in items])
                fresh.extend(d for d in items if d.item.id in new)
            if not fresh:
                return
            outcome = await apply_batch(uow, to_command(fresh), factor_sets, tolerance)
            await uow.commit()
        log.debug("batch applied", extra={"records": len(batch), "restated": outcome.restated})

    return handle


def subscription(
    uow_factory: Callable[[], SqlUnitOfWork],
    factor_sets: FactorSets,
    max_batch: int = 500,
    tolerance: Decimal = TOLERANCE,
) -> Subscription[Envelope[Event]]:
    return Subscription(
        group=GROUP,
        topics=list(TOPICS),
        decoder=envelope_decoder(),
        handler=batch_handler(uow_factory, factor_sets, tolerance),
        max_batch=max_batch,
    )
