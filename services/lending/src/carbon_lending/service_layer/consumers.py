"""The consumer: map upstream events to lending's read-model commands, one unit of work per batch.

* ``ingest.enterprises.v1`` → the directory; ``rating.ratings.v1`` → ratings, label repricing
  and alerts, and objections to ratings (``ObjectionChanged``: an open one sends quotes to
  manual review);
* ``accounting.accounts.v1`` → the borrowers' monthly emissions (PCAF, KPI ratchets);
* ``ingest.facts.v1`` → only ``finance.*`` facts (debt, equity, revenue for PCAF attribution).
  Every other fact is dropped by :func:`decoder` before it is decoded (lending reads a small
  share of that topic), and it is neither claimed nor applied.

The ids of a batch are claimed in the inbox in the same transaction as the effect, so a
redelivered batch changes nothing. Events are coalesced per enterprise and written in bulk; the
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
    FactRecorded,
    ObjectionChanged,
    RatingIssued,
    Topics,
)
from carbon_common.events.contracts import CE_PREFIX
from carbon_common.events.envelope import SPEC_VERSION, header_map
from carbon_lending.domain.policy import PolicyBook
from carbon_lending.service_layer.ingestion import (
    FINANCE_PREFIX,
    apply_accounts,
    apply_directory,
    apply_finance,
    apply_objections,
    apply_ratings,
)
from carbon_lending.service_layer.ports import UnitOfWorkPort

TOPICS = (Topics.ENTERPRISES, Topics.RATINGS, Topics.ACCOUNTS, Topics.FACTS)
GROUP = "lending"

BatchHandler = Callable[[Sequence[Decoded[Envelope[Any] | None]]], Any]
_FINANCE_MARK = f'"{FINANCE_PREFIX}'.encode()
_OWN_TYPES = f"{CE_PREFIX}."
log = logging.getLogger("carbon_lending.consumers")


def newer_own_type(record: Record) -> str | None:
    """The ``ce_type`` of a well-formed CloudEvent (spec 1.0, with an id) that one of the bureau's
    services publishes but this build does not know, else None."""
    h = header_map(record.headers)
    ce_type: str = h.get("ce_type", "")
    known = ce_type in EVENT_TYPES or not ce_type.startswith(_OWN_TYPES)
    if known or h.get("ce_specversion") != SPEC_VERSION or not h.get("ce_id"):
        return None
    return ce_type


def decoder() -> Decoder[Envelope[Any] | None]:
    """The envelope decoder, except that (``None``: skipped, neither claimed nor applied)

    * a fact whose bytes do not even mention ``"finance.`` is skipped without being decoded;
    * an event of a bureau type this build does not know yet is skipped (tolerant reader).

    The rest are decoded (and filtered) in full; what cannot be decoded is dead-lettered."""
    full = envelope_decoder()
    unknown_seen: set[str] = set()

    def _decode(record: Record) -> Envelope[Any] | None:
        if record.topic == Topics.FACTS and record.value is not None and _FINANCE_MARK not in record.value:
            return None
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


def make_handler(
    uow_factory: Callable[[], UnitOfWorkPort],
    book: PolicyBook,
    clock: Callable[[], datetime],
    on_applied: Callable[[Iterable[str]], None] | None = None,
) -> BatchHandler:
    async def handle(batch: Sequence[Decoded[Envelope[Any] | None]]) -> None:
        by_topic: dict[str, list[tuple[Decoded[Any], Envelope[Any]]]] = defaultdict(list)
        for d in batch:
            env = d.item
            if env is None:
                continue
            if isinstance(env.data, FactRecorded) and not env.data.indicator.startswith(FINANCE_PREFIX):
                continue
            by_topic[d.record.topic].append((d, env))
        if not by_topic:
            return
        directory: list[EnterpriseRegistered] = []
        ratings: list[RatingIssued] = []
        accounts: list[AccountUpdated] = []
        facts: list[FactRecorded] = []
        objections: list[ObjectionChanged] = []
        async with uow_factory() as uow:
            for topic, items in by_topic.items():
                new = await uow.repo.claim(f"{GROUP}:{topic}", [env.id for _, env in items])
                for d, env in items:
                    if env.id not in new:
                        continue
                    data = env.data
                    if isinstance(data, EnterpriseRegistered):  # includes EnterpriseUpdated
                        directory.append(data)
                    elif isinstance(data, RatingIssued):
                        if data.issued_at.tzinfo is None:
                            raise PoisonRecord(d.record, "RatingIssued.issued_at has no time zone")
                        ratings.append(data)
                    elif isinstance(data, ObjectionChanged):
                        if data.changed_at.tzinfo is None:
                            raise PoisonRecord(d.record, "ObjectionChanged.changed_at has no time zone")
                        objections.append(data)
                    elif isinstance(data, AccountUpdated):
                        accounts.append(data)
                    elif isinstance(data, FactRecorded):
                        facts.append(data)
            await apply_directory(uow, directory)
            now = clock()
            await apply_ratings(uow, ratings, book, now)
            await apply_objections(uow, objections)
            await apply_finance(uow, facts)
            await apply_accounts(uow, accounts, book, now)
            await uow.commit()
        if on_applied is not None and (directory or ratings or objections):
            codes = {e.credit_code for e in directory} | {r.credit_code for r in ratings}
            on_applied(codes | {o.credit_code for o in objections})

    return handle
