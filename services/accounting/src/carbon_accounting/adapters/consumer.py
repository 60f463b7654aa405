"""The inbound event adapter: bus batches → commands → one commit.

It lives in ``adapters`` (not ``entrypoints``) because the composition root must wire the
subscription and import-linter forbids ``bootstrap`` from importing ``entrypoints``.

Tolerant reader: enterprise events become the directory read model; ``FactRecorded`` of the
families accounting uses become facts (others — compliance, ETS, transition, capex — are
claimed and ignored). A fact in a unit accounting cannot interpret, or a non-finite value, can
never be applied: it is raised as ``PoisonRecord`` and dead-lettered; the rest of the batch goes on.

**Idempotency without an inbox.** Every effect of a batch is idempotent on its natural key, so
a redelivered batch (e.g. after a crash between the database commit and the offset commit)
changes nothing and emits nothing: a fact revision already seen conflicts on
``fact_history``'s key (``fact_key``, ``revision``) and is not higher than the current one, so
no current fact changes and no month is recomputed; a directory entry keeps the highest
revision and restates months only when its industry changes. No per-event inbox row is
written (it used to be, without being read: a quarter of the facts upsert's database time).

**Decoding** (``decode_record``, the subscription's decoder): a ``FactRecorded`` in the exact
shape its producer writes (``model_dump_json``: plain JSON types, a decimal string value, an ISO
timestamp) is read with orjson and checked field by field (``_fast_fact``); anything else —
another event type, a missing or mistyped field, a value out of bounds, odd headers — goes
through the full pydantic decode, which accepts or rejects it (``ContractError`` → dead-letter
topic) exactly as before. The fast path only accepts what the full decode accepts, with the same
field values (property-tested in ``tests/test_decoding.py``); it cost a third of the consumer's
CPU per fact (docs/performance-notes.md).
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable, Sequence
from datetime import datetime
from decimal import Decimal, InvalidOperation
from typing import Any, NamedTuple

import orjson

from carbon_accounting.adapters.unit_of_work import SqlUnitOfWork
from carbon_accounting.domain.model import Enterprise, Fact
from carbon_accounting.domain.quality import TOLERANCE
from carbon_accounting.domain.units import accepted_units, is_accounted, unit_ok
from carbon_accounting.service_layer.commands import ApplyBatch
from carbon_accounting.service_layer.factor_sets import FactorSets
from carbon_accounting.service_layer.handlers import apply_batch
from carbon_common.bus.port import Decoded, PoisonRecord, Record, Subscription
from carbon_common.events import (
    EVENT_TYPES,
    EnterpriseRegistered,
    Envelope,
    Event,
    FactRecorded,
    Topics,
    decode,
)
from carbon_common.events.envelope import SPEC_VERSION

log = logging.getLogger("carbon_accounting.consumer")

GROUP = "accounting"
TOPICS = (Topics.ENTERPRISES, Topics.FACTS)


class Inbound(NamedTuple):
    """One decoded record, as accounting uses it."""

    id: str  #: the event id (``ce_id``), for logs and tests
    fact: Fact | None = None  #: a fact of an accounted family
    enterprise: Enterprise | None = None  #: a directory entry
    unusable: str | None = None  #: why this fact can never be accounted (dead-lettered)


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


def unusable(fact: Fact) -> str | None:
    """Why a fact can never be accounted, or None."""
    if not fact.value.is_finite():
        return f"fact {fact.fact_key}: value {fact.value} is not a finite number"
    if not unit_ok(fact.indicator, fact.unit):
        expected = sorted(accepted_units(fact.indicator) or ())
        return f"fact {fact.fact_key}: unit {fact.unit!r} of {fact.indicator} is not one of {expected}"
    return None


def _inbound_fact(event_id: str, fact: Fact) -> Inbound:
    if not is_accounted(fact.indicator):
        return Inbound(event_id)  # claimed and ignored
    return Inbound(event_id, fact, unusable=unusable(fact))


def from_envelope(env: Envelope[Event]) -> Inbound:
    """A fully decoded envelope → what accounting keeps of it (other event types: nothing)."""
    data = env.data
    if isinstance(data, FactRecorded):
        return _inbound_fact(env.id, to_fact(data))
    if isinstance(data, EnterpriseRegistered):
        return Inbound(env.id, enterprise=to_enterprise(data))
    return Inbound(env.id)


# --- the fast path for FactRecorded -----------------------------------------------------------
_FACT_TYPE = FactRecorded.ce_type.encode()
_SPEC = SPEC_VERSION.encode()
#: ASCII-only patterns, each a subset of what the contract's validators accept
_PERIOD = re.compile(r"[0-9]{4}-(?:0[1-9]|1[0-2])")
_DECIMAL = re.compile(r"-?[0-9]{1,60}(?:\.[0-9]{1,60})?(?:E[-+]?[0-9]{1,3})?")
_TIMESTAMP = re.compile(
    r"[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}(?:\.[0-9]{1,6})?(?:Z|[+-][0-9]{2}:[0-9]{2})"
)
#: FactRecorded.value's bounds (exclusive)
_LOW, _HIGH = Decimal("-1e15"), Decimal("1e15")
_MAX_SAFE_INT = 2**53
_STR_FIELDS = ("fact_id", "fact_key", "department", "record_id", "indicator", "unit", "evidence_hash")


def _plain_attributes(attrs: Any) -> bool:
    """Flat attributes of JSON scalars that every JSON parser reads alike."""
    if type(attrs) is not dict:
        return False
    for k, v in attrs.items():
        if type(k) is not str:
            return False
        t = type(v)
        if t is int:
            if not -_MAX_SAFE_INT < v < _MAX_SAFE_INT:
                return False
        elif not (t is str or t is bool or v is None):
            return False
    return True


#: the keys and JSON types ``FactRecorded.model_dump_json`` writes, in its order: a payload in
#: exactly this shape is checked with two tuple comparisons instead of one look-up per field
_KEYS = tuple(FactRecorded.model_fields)
_TYPES = tuple({"revision": int, "authoritative": bool, "attributes": dict}.get(name, str) for name in _KEYS)
if _KEYS != (
    "fact_id", "fact_key", "revision", "credit_code", "department", "record_id", "indicator", "period",
    "value", "unit", "attributes", "evidence_hash", "authoritative", "recorded_at",
):  # fmt: skip  # pragma: no cover - the fast path unpacks these fields in this order
    raise ImportError("FactRecorded's fields changed: update _fast_fact in the accounting consumer")
#: timestamps (``ce_time`` bytes, ``recorded_at`` text) already found valid: a submission's facts
#: share their ``recorded_at`` (ingest), so most are checked once instead of once per fact
_VALID_TIMES: set[str | bytes] = set()


def _remember(valid_time: str | bytes) -> None:
    if len(_VALID_TIMES) >= 4096:
        _VALID_TIMES.clear()
    _VALID_TIMES.add(valid_time)


#: (indicator, unit) → (accounted, unit accepted): the few combinations the stream carries
_CLASSIFIED: dict[tuple[str, str], tuple[bool, bool]] = {}


def _classify(indicator: str, unit: str) -> tuple[bool, bool]:
    found = _CLASSIFIED.get((indicator, unit))
    if found is None:
        found = (is_accounted(indicator), unit_ok(indicator, unit))
        if len(_CLASSIFIED) < 10_000:  # strings from events: bounded
            _CLASSIFIED[(indicator, unit)] = found
    return found


def _fast_fact(record: Record) -> Inbound | None:
    """A FactRecorded in its producer's canonical shape → Inbound; None: use the full decode."""
    try:  # ``core_headers``' answer (later duplicates win), built in C
        headers = dict(record.headers or ())
    except (TypeError, ValueError):
        return None
    ce_type, spec, ce_id, ce_time = (
        headers.get("ce_type"), headers.get("ce_specversion"), headers.get("ce_id"), headers.get("ce_time"),
    )  # fmt: skip
    if ce_type != _FACT_TYPE or spec != _SPEC or type(ce_id) is not bytes or not ce_id:
        return None
    if ce_time is not None and (type(ce_time) is not bytes or ce_time not in _VALID_TIMES):
        if type(ce_time) is not bytes:
            return None
        try:
            datetime.fromisoformat(ce_time.decode())
        except ValueError:
            return None
        _remember(ce_time)
    if record.value is None:
        return None
    try:
        d = orjson.loads(record.value)
    except orjson.JSONDecodeError:
        return None
    if type(d) is not dict:
        return None
    if tuple(d) == _KEYS and tuple(map(type, d.values())) == _TYPES:  # the producer's exact shape
        fact_id, key, revision, code, department, record_id, indicator, period, value, unit, attributes, evidence, authoritative, recorded_at = d.values()  # fmt: skip
    else:  # any order, defaults for the optional fields, extra fields ignored
        get = d.get
        for name in _STR_FIELDS:
            if type(get(name)) is not str:
                return None
        fact_id, key, code, department, record_id, indicator, unit, evidence = (
            d["fact_id"], d["fact_key"], get("credit_code"), d["department"], d["record_id"],
            d["indicator"], d["unit"], d["evidence_hash"],
        )  # fmt: skip
        period, value, recorded_at = get("period"), get("value"), get("recorded_at")
        revision, authoritative, attributes = (
            get("revision", 1),
            get("authoritative", True),
            get("attributes", {}),
        )
        if type(code) is not str or type(period) is not str or type(value) is not str:
            return None
        if type(recorded_at) is not str or type(revision) is not int or type(authoritative) is not bool:
            return None
    if len(code) != 18 or _PERIOD.fullmatch(period) is None or _DECIMAL.fullmatch(value) is None:
        return None
    if not _plain_attributes(attributes):
        return None
    if recorded_at not in _VALID_TIMES:
        if _TIMESTAMP.fullmatch(recorded_at) is None:
            return None
        try:
            datetime.fromisoformat(recorded_at)
        except ValueError:
            return None
        _remember(recorded_at)
    try:
        amount = Decimal(value)
    except (ValueError, InvalidOperation):
        return None
    if not _LOW < amount < _HIGH:
        return None
    event_id = ce_id.decode("utf-8", "replace")
    accounted, unit_accepted = _classify(indicator, unit)
    if not accounted:
        return Inbound(event_id)  # claimed and ignored
    fact = Fact(
        key, fact_id, revision, code, department, record_id, indicator, period, amount, unit, evidence,
        authoritative, attributes,
    )  # fmt: skip
    # the value is finite (``_DECIMAL``): only the unit can make the fact unusable
    return Inbound(event_id, fact, unusable=None if unit_accepted else unusable(fact))


def decode_record(record: Record) -> Inbound:
    """The subscription's decoder: the fast path for canonical facts, else the full decode
    (``ContractError`` for a record that is not a valid contract event → dead-letter topic)."""
    fast = _fast_fact(record)
    if fast is not None:
        return fast
    return from_envelope(decode(record.value, record.headers, EVENT_TYPES))


def to_command(batch: Sequence[Decoded[Inbound]]) -> ApplyBatch:
    """The claimed records of a batch → one command (a fact that cannot be applied is poison).

    No span per record: the bus already runs the whole batch in one CONSUMER span parented on
    the producer (``telemetry.process_span``); a span per event cost a quarter of the batch CPU.
    """
    cmd = ApplyBatch()
    for d in batch:
        item = d.item
        if item.fact is not None:
            if item.unusable is not None:
                raise PoisonRecord(d.record, item.unusable)
            cmd.facts.append(item.fact)
        elif item.enterprise is not None:
            cmd.enterprises.append(item.enterprise)
    return cmd


def batch_handler(
    uow_factory: Callable[[], SqlUnitOfWork], factor_sets: FactorSets, tolerance: Decimal = TOLERANCE
) -> Callable[[Sequence[Decoded[Inbound]]], Any]:
    async def handle(batch: Sequence[Decoded[Inbound]]) -> None:
        # a fact that can never be applied is raised before any database work (dead-lettered)
        cmd = to_command(batch)
        async with uow_factory() as uow:
            # the batch is applied whole: every effect is idempotent on its natural key (above)
            outcome = await apply_batch(uow, cmd, factor_sets, tolerance)
            await uow.commit()
        log.debug("batch applied", extra={"records": len(batch), "restated": outcome.restated})

    return handle


def subscription(
    uow_factory: Callable[[], SqlUnitOfWork],
    factor_sets: FactorSets,
    max_batch: int = 500,
    tolerance: Decimal = TOLERANCE,
    burst_linger_ms: int = 0,
) -> Subscription[Inbound]:
    return Subscription(
        group=GROUP,
        topics=list(TOPICS),
        decoder=decode_record,
        handler=batch_handler(uow_factory, factor_sets, tolerance),
        max_batch=max_batch,
        burst_linger_ms=burst_linger_ms,
    )
