"""Events in → commands: the tolerant reader of ingest's and accounting's events.

One batch is one unit of work: the envelopes are mapped to input changes, which are bulk-written
as upserts keyed by their natural keys; every enterprise whose stored inputs changed is re-rated
once, owed ``RatingIssued`` events go to the outbox, and the whole thing commits once. No inbox
row is claimed per event: a redelivered or superseded input changes no row (its revision or
calculation version is not newer), so it re-rates nothing and issues nothing (``apply_inputs``).

Facts come from ``ingest.credit-facts.v1`` (the same ``FactRecorded`` events as
``ingest.facts.v1``, only the credit families: ``compliance.*``, ``ets.*``, ``transition.*``,
``finance.*``); ingest writes that copy in the same outbox transaction as the main one, so it is
complete and ordered per enterprise. Of those, only the families rating rates on are kept
(compliance.*, ets.*, finance.reduction_capex, finance.total_capex, transition.*); the others on
that stream (lending's ``finance.revenue`` / ``total_debt`` / ``total_equity``) never reach the
handler as events: ``rating_decoder`` reads their indicator with orjson and their id and time
from the CloudEvents headers, without validating the payload (≈ 5× cheaper than a full decode),
and the handler does not open a transaction for a batch of nothing else; their time still counts
for the batch's ``issued_at``, as before. (The
mapping lives in the service layer rather than ``entrypoints/`` because the composition root,
which sits below entrypoints in the import-linter layers, registers it.)
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, TypeAlias

import orjson

from carbon_common.bus.port import Decoded, Decoder, PoisonRecord, Record, envelope_decoder
from carbon_common.events import AccountUpdated, EnterpriseRegistered, Envelope, Event, FactRecorded, Topics
from carbon_common.events.envelope import SPEC_VERSION, core_headers
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


@dataclass(frozen=True, slots=True)
class IgnoredFact:
    """A ``FactRecorded`` of a family rating does not keep: only its event id and time."""

    id: str
    time: datetime


Item: TypeAlias = Envelope[Event] | IgnoredFact
_FACT_TYPE = FactRecorded.ce_type.encode()
_SPEC = SPEC_VERSION.encode()


def _ignored_fact(record: Record) -> IgnoredFact | None:
    """The record as an ``IgnoredFact`` when it is a well-formed ``FactRecorded`` (headers, JSON
    object) whose string ``indicator`` rating does not keep; None when it needs the full decoder."""
    ce_type, spec, ce_id, ce_time = core_headers(record.headers)
    if ce_type != _FACT_TYPE or spec != _SPEC or not ce_id or not ce_time or record.value is None:
        return None
    try:
        body = orjson.loads(record.value)
        indicator = body.get("indicator") if isinstance(body, dict) else None
        if not isinstance(indicator, str) or keeps(indicator):
            return None
        return IgnoredFact(ce_id.decode("utf-8", "replace"), datetime.fromisoformat(ce_time.decode()))
    except (ValueError, AttributeError):  # bad JSON, UTF-8 or time; AttributeError: str headers
        return None


def rating_decoder() -> Decoder[Item]:
    """The consumer's decoder: ``IgnoredFact`` for the fact families rating does not read, the
    full CloudEvents decoder (``ContractError`` → dead letter) for everything else."""
    full = envelope_decoder()

    def decode(record: Record) -> Item:
        if record.topic == Topics.CREDIT_FACTS:
            ignored = _ignored_fact(record)
            if ignored is not None:
                return ignored
        return full(record)

    return decode


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


def to_command(batch: Sequence[Decoded[Envelope[Event]]], latest: datetime | None = None) -> ApplyInputs:
    """Map envelopes (already deduplicated) to one ``ApplyInputs``; raise ``PoisonRecord`` when unusable.

    ``latest``: the newest time of the batch's ignored facts (``issued_at`` is the newest input's)."""
    ents: list[tuple[EnterpriseProfile, int]] = []
    accts: list[AccountRow] = []
    facts: list[FactRow] = []
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

    async def handle(batch: Sequence[Decoded[Item]]) -> None:
        by_topic: dict[str, list[Decoded[Envelope[Event]]]] = defaultdict(list)
        ignored: datetime | None = None  # the newest ignored fact's time
        for d in batch:
            item = d.item
            if type(item) is IgnoredFact:
                ignored = item.time if ignored is None or item.time > ignored else ignored
            else:
                by_topic[d.record.topic].append(d)  # type: ignore[arg-type]
        if not by_topic:
            return  # only facts rating does not read: nothing to claim, store or rate
        cmd = to_command([d for items in by_topic.values() for d in items], ignored)
        if not (cmd.enterprises or cmd.accounts or cmd.facts):
            return  # e.g. event types rating does not read
        reads = inputs.begin()
        async with uow_factory() as uow:
            await apply_inputs(cmd, uow, methodology(), reads)
            await uow.commit()
        reads.publish()

    return handle
