"""The consumer: map upstream events to lending's read-model commands, one unit of work per batch.

* ``ingest.enterprises.v1`` → the directory; ``rating.ratings.v1`` → ratings, label repricing
  and alerts, and objections to ratings (``ObjectionChanged``: an open one sends quotes to
  manual review);
* ``accounting.accounts.v1`` → the borrowers' monthly emissions (PCAF, KPI ratchets);
* ``ingest.credit-facts.v1`` (the credit families of ``ingest.facts.v1``: conduct, ETS,
  transition and finance facts, the same events) → only the finance facts PCAF attribution reads
  (``finance.total_debt``, ``finance.total_equity``, ``finance.revenue``). Every other fact is
  dropped by :func:`decoder` before it is decoded (a byte search; lending keeps about 43 % of the
  credit stream, 14 % of all facts), and it is neither claimed nor applied.

A redelivered batch changes nothing. The ids of directory and objection events (and of types
lending ignores) are claimed in the inbox in the same transaction as the effect. Ratings,
accounts and finance facts are not: their effects are upserts where the newest
``(issued_at, rating_id)`` (current rating; the history is keyed by ``rating_id``), the highest
``calculation_version`` (accounts) or the authoritative, latest-recorded fact (finance) wins, so
applying one again writes what is already there; a rating repricing happens only when a rating
becomes current, which a redelivered one no longer does, and the KPI repricing compares with the
stored ratchet (no second ``LoanRepriced`` or ``LoanAlert``; tested). An inbox row per event
(about 310k in the pilot replay) bought nothing there.
Events are coalesced per enterprise and written in bulk; the
bus runs each batch in one CONSUMER span parented on the producer. Event types lending does not
use are claimed and ignored (tolerant reader), and so is a well-formed CloudEvent of a type this
build does not know yet but that one of the bureau's services publishes (``cn.carbonbureau.*``,
e.g. a type added on a topic before lending is upgraded): it is skipped, never dead-lettered. A
record that is not a CloudEvent, or of a foreign type, still goes to the DLQ. After the commit,
``on_applied`` is told which enterprises' directory entry, rating or objections changed (the
quote path's in-memory read model).
"""

from __future__ import annotations

import logging
from collections import defaultdict
from collections.abc import Callable, Iterable, Sequence
from datetime import datetime
from typing import Any

from carbon_common.bus.port import Decoded, Decoder, PoisonRecord, Record, envelope_decoder
from carbon_common.events import (
    EVENT_TYPES,
    AccountUpdated,
    ContractError,
    EnterpriseRegistered,
    Envelope,
    Event,
    FactRecorded,
    ObjectionChanged,
    RatingIssued,
    Topics,
)
from carbon_common.events.contracts import CE_PREFIX
from carbon_common.events.envelope import SPEC_VERSION, header_map
from carbon_lending.domain.pcaf import PCAF_INDICATORS
from carbon_lending.domain.policy import PolicyBook
from carbon_lending.service_layer.ingestion import (
    apply_accounts,
    apply_directory,
    apply_finance,
    apply_objections,
    apply_ratings,
)
from carbon_lending.service_layer.ports import UnitOfWorkPort

TOPICS = (Topics.ENTERPRISES, Topics.RATINGS, Topics.ACCOUNTS, Topics.CREDIT_FACTS)
GROUP = "lending"

BatchHandler = Callable[[Sequence[Decoded[Envelope[Any] | None]]], Any]
_FINANCE_MARK = b'"finance.'
_KEPT_FACT_MARKS = tuple(f'"{indicator}"'.encode() for indicator in sorted(PCAF_INDICATORS))
_OWN_TYPES = f"{CE_PREFIX}."
_MODELS: dict[bytes, type[Event]] = {t.encode(): m for t, m in EVENT_TYPES.items()}
_SPEC = SPEC_VERSION.encode()
log = logging.getLogger("carbon_lending.consumers")


def may_be_kept_fact(value: bytes) -> bool:
    """Whether a fact's JSON can be one lending keeps (its indicator decides after decoding).

    A byte search, no parsing: ``"finance.`` first (absent from most facts), then the names."""
    return _FINANCE_MARK in value and any(mark in value for mark in _KEPT_FACT_MARKS)


def newer_own_type(record: Record) -> str | None:
    """The ``ce_type`` of a well-formed CloudEvent (spec 1.0, with an id) that one of the bureau's
    services publishes but this build does not know, else None."""
    h = header_map(record.headers)
    ce_type: str = h.get("ce_type", "")
    known = ce_type in EVENT_TYPES or not ce_type.startswith(_OWN_TYPES)
    if known or h.get("ce_specversion") != SPEC_VERSION or not h.get("ce_id"):
        return None
    return ce_type


def fast_decode(record: Record) -> Envelope[Any] | None:
    """The envelope of a well-formed record of a known type, or None: then the full decoder
    decides (and names what is wrong).

    It looks up the raw header bytes it needs instead of first decoding every header into a
    dict of strings (half of the decoder's time in the profile); for a well-formed
    record the envelope is the one ``carbon_common``'s decoder returns (tested)."""
    h = dict(record.headers)  # later duplicates win, as in header_map
    ce_type, ce_id, spec, ce_time = (
        h.get("ce_type"),
        h.get("ce_id"),
        h.get("ce_specversion"),
        h.get("ce_time"),
    )
    if spec != _SPEC or type(ce_type) is not bytes or type(ce_id) is not bytes or not ce_id:
        return None
    model = _MODELS.get(ce_type)
    if model is None or type(ce_time) is not bytes or record.value is None:
        return None
    try:
        data = model.model_validate_json(record.value)
        return Envelope(
            data=data,
            source=_text(h.get("ce_source", b"unknown")),
            id=ce_id.decode(),
            time=datetime.fromisoformat(ce_time.decode()),
            traceparent=_text(h.get("traceparent")),
            tracestate=_text(h.get("tracestate")),
        )
    except ValueError:  # ValidationError, UnicodeDecodeError, a bad ce_time: the full path says why
        return None


def _text(value: object) -> Any:
    """A header's text (strict UTF-8); a value that is not bytes sends the record down the full path."""
    if value is None:
        return None
    if type(value) is not bytes:
        raise ValueError("not bytes")
    return value.decode()


def decoder() -> Decoder[Envelope[Any] | None]:
    """The envelope decoder, except that (``None``: skipped, neither claimed nor applied)

    * a fact whose bytes do not even mention one of the indicators lending keeps is skipped
      without being decoded;
    * an event of a bureau type this build does not know yet is skipped (tolerant reader).

    The rest are decoded (and filtered) in full; what cannot be decoded is dead-lettered."""
    full = envelope_decoder()
    unknown_seen: set[str] = set()

    def _decode(record: Record) -> Envelope[Any] | None:
        if (
            record.topic == Topics.CREDIT_FACTS
            and record.value is not None
            and not may_be_kept_fact(record.value)
        ):
            return None
        env = fast_decode(record)
        if env is not None:
            return env
        try:
            return full(record)
        except ContractError as exc:
            ce_type = newer_own_type(record) if exc.field == "ce_type" else None
            if ce_type is None:
                raise
            if ce_type not in unknown_seen and len(unknown_seen) < 100:  # log each type once
                unknown_seen.add(ce_type)
                log.warning("skipping events of a type this build does not know", extra={"ce_type": ce_type})
            return None

    return _decode


def _kind(cls: type[Any]) -> str | None:
    """What the handler does with events of ``cls`` (a subclass counts as its base, e.g.
    ``EnterpriseUpdated`` as ``EnterpriseRegistered``); None: claimed and ignored."""
    kind = _KINDS.get(cls, "")
    if kind == "":
        kind = next((k for base, k in _KIND_BASES if issubclass(cls, base)), None)
        _KINDS[cls] = kind
    return kind


_KIND_BASES: tuple[tuple[type[Event], str], ...] = (
    (EnterpriseRegistered, "directory"),
    (RatingIssued, "rating"),
    (ObjectionChanged, "objection"),
    (AccountUpdated, "account"),
    (FactRecorded, "fact"),
)
_KINDS: dict[type[Any], str | None] = {}
#: effects that are idempotent by version (module docstring): their events are not claimed
UNCLAIMED_KINDS = frozenset({"rating", "account", "fact"})


def make_handler(
    uow_factory: Callable[[], UnitOfWorkPort],
    book: PolicyBook,
    clock: Callable[[], datetime],
    on_applied: Callable[[Iterable[str]], None] | None = None,
) -> BatchHandler:
    async def handle(batch: Sequence[Decoded[Envelope[Any] | None]]) -> None:
        # the events to claim first (per topic), and the rest by kind
        claimed: dict[str, list[tuple[Decoded[Any], Envelope[Any], str | None]]] = defaultdict(list)
        by_kind: dict[str, list[Any]] = defaultdict(list)
        for d in batch:
            env = d.item
            if env is None:
                continue
            data = env.data
            kind = _kind(type(data))
            if kind in UNCLAIMED_KINDS:
                if kind == "fact" and data.indicator not in PCAF_INDICATORS:
                    continue
                if kind == "rating" and data.issued_at.tzinfo is None:
                    raise PoisonRecord(d.record, "RatingIssued.issued_at has no time zone")
                by_kind[kind].append(data)
            else:
                claimed[d.record.topic].append((d, env, kind))
        if not claimed and not by_kind:
            return
        async with uow_factory() as uow:
            for topic, items in claimed.items():
                new = await uow.repo.claim(f"{GROUP}:{topic}", [env.id for _, env, _ in items])
                for d, env, kind in items:
                    if env.id not in new or kind is None:
                        continue
                    if kind == "objection" and env.data.changed_at.tzinfo is None:
                        raise PoisonRecord(d.record, "ObjectionChanged.changed_at has no time zone")
                    by_kind[kind].append(env.data)
            directory: list[EnterpriseRegistered] = by_kind["directory"]
            objections: list[ObjectionChanged] = by_kind["objection"]
            await apply_directory(uow, directory)
            now = clock()
            rated = await apply_ratings(uow, by_kind["rating"], book, now)
            await apply_objections(uow, objections)
            await apply_finance(uow, by_kind["fact"])
            await apply_accounts(uow, by_kind["account"], book, now)
            await uow.commit()
        if on_applied is not None and (directory or rated or objections):
            # only what changed: an older rating that did not become current keeps the cache
            on_applied({e.credit_code for e in directory} | set(rated) | {o.credit_code for o in objections})

    return handle
