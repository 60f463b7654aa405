"""Events in → commands: the tolerant reader of ingest's and accounting's events.

One batch is one unit of work: the inbox claims the batch's event ids (per topic), only newly
claimed envelopes are mapped (each under a consumer span continuing the producer's trace), the
resulting input changes are bulk-written, every touched enterprise is re-rated once, owed
``RatingIssued`` events go to the outbox, and the whole thing commits once.

Of ``ingest.facts.v1`` only the families rating needs are kept (compliance.*, ets.*,
finance.reduction_capex, finance.total_capex, transition.*); everything else is claimed and
ignored. (The mapping lives in the service layer rather than ``entrypoints/`` because the
composition root, which sits below entrypoints in the import-linter layers, registers it.)
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Awaitable, Callable, Sequence
from datetime import datetime
from typing import Any

from carbon_common.bus.port import Decoded, PoisonRecord
from carbon_common.events import AccountUpdated, EnterpriseRegistered, Envelope, Event, FactRecorded
from carbon_rating.domain.inputs import AccountMonth, ConductFact, EnterpriseProfile
from carbon_rating.domain.methodology import STAGES, Methodology
from carbon_rating.service_layer.commands import ApplyInputs
from carbon_rating.service_layer.handlers import apply_inputs
from carbon_rating.service_layer.input_cache import InputCache
from carbon_rating.service_layer.ports import AccountRow, FactRow, UnitOfWorkPort

KEPT_PREFIXES = ("compliance.", "ets.", "transition.")
KEPT_INDICATORS = frozenset({"finance.reduction_capex", "finance.total_capex"})


def keeps(indicator: str) -> bool:
    return indicator in KEPT_INDICATORS or indicator.startswith(KEPT_PREFIXES)


def _enterprise(e: EnterpriseRegistered) -> tuple[EnterpriseProfile, int]:
    return (
        EnterpriseProfile(
            e.credit_code,
            e.name,
            e.industry_code,
            e.region_code,
            e.size_class,
            e.transition_stage,
            e.ets_participant,
        ),
        e.revision,
    )


def _account(a: AccountUpdated) -> AccountRow:
    return AccountRow(
        credit_code=a.credit_code,
        industry_code=a.industry_code,
        factor_set=a.factor_set,
        month=AccountMonth(
            period=a.period,
            total_tco2=a.total_tco2,
            output_quantity=a.output_quantity,
            output_unit=a.output_unit,
            revenue_10k_cny=a.revenue_10k_cny,
            data_quality_score=a.data_quality_score,
            calculation_version=a.calculation_version,
        ),
    )


def _fact(f: FactRecorded) -> FactRow:
    return FactRow(
        f.fact_key, f.revision, f.credit_code, ConductFact(f.indicator, f.period, f.value, f.attributes)
    )


def to_command(batch: Sequence[Decoded[Envelope[Event]]]) -> ApplyInputs:
    """Map envelopes (already deduplicated) to one ``ApplyInputs``; raise ``PoisonRecord`` when unusable."""
    ents: list[tuple[EnterpriseProfile, int]] = []
    accts: list[AccountRow] = []
    facts: list[FactRow] = []
    latest: datetime | None = None
    # No span per record: the bus runs the batch in one CONSUMER span parented on the producer.
    for d in batch:
        env = d.item
        data = env.data
        if isinstance(data, EnterpriseRegistered):  # EnterpriseUpdated is a subclass
            if data.transition_stage not in STAGES:
                raise PoisonRecord(d.record, f"unknown transition stage {data.transition_stage!r}")
            ents.append(_enterprise(data))
        elif isinstance(data, AccountUpdated):
            if data.total_tco2 < 0:
                raise PoisonRecord(d.record, "negative total_tco2")
            accts.append(_account(data))
        elif isinstance(data, FactRecorded):
            if keeps(data.indicator):
                facts.append(_fact(data))
        else:
            continue  # another event type on a consumed topic: not ours to read
        latest = env.time if latest is None or env.time > latest else latest
    return ApplyInputs(enterprises=ents, accounts=accts, facts=facts, issued_at=latest)


def make_batch_handler(
    uow_factory: Callable[[], UnitOfWorkPort],
    methodology: Callable[[], Methodology],
    cache: InputCache | None = None,
) -> Callable[[Sequence[Decoded[Any]]], Awaitable[None]]:
    """``methodology`` returns the one in force when a batch starts (it can change at run time).

    ``cache``: account months and facts kept between batches (``input_cache``; a new one when not given).
    What a batch read enters it only after the batch committed."""
    inputs = InputCache() if cache is None else cache

    async def handle(batch: Sequence[Decoded[Envelope[Event]]]) -> None:
        by_topic: dict[str, list[Decoded[Envelope[Event]]]] = defaultdict(list)
        for d in batch:
            by_topic[d.record.topic].append(d)
        reads = inputs.begin()
        async with uow_factory() as uow:
            fresh: list[Decoded[Envelope[Event]]] = []
            for topic, items in by_topic.items():
                new = await uow.repo.claim(f"rating:{topic}", [d.item.id for d in items])
                fresh.extend(d for d in items if d.item.id in new)
            if fresh:
                await apply_inputs(to_command(fresh), uow, methodology(), reads)
            await uow.commit()
        reads.publish()

    return handle
