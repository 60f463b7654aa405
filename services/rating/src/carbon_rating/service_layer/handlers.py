"""Use cases, registered in one visible table (``HANDLERS``).

Every handler runs inside a unit of work that the caller opens and commits, so a consumer batch
(inbox claim + effects + owed events) or an HTTP request is one transaction.
"""

from __future__ import annotations

import dataclasses
import uuid
from collections.abc import Awaitable, Callable
from datetime import datetime
from typing import Any

from carbon_common.events import ObjectionChanged
from carbon_rating.domain import objections as obj
from carbon_rating.domain.methodology import Methodology
from carbon_rating.domain.rating import label_for, q, worse
from carbon_rating.service_layer.commands import (
    ApplyInputs,
    DecideObjection,
    FileObjection,
    RerateEnterprises,
)
from carbon_rating.service_layer.input_cache import InputReads
from carbon_rating.service_layer.issuing import PeerCache, issue_time, rating_id, rerate, to_event
from carbon_rating.service_layer.ports import Objection, StoredRating, UnitOfWorkPort


class NotFound(LookupError):
    pass


class Conflict(Exception):
    pass


async def apply_inputs(
    cmd: ApplyInputs, uow: UnitOfWorkPort, m: Methodology, reads: InputReads | None = None
) -> list[StoredRating]:
    """Store the batch's input changes in bulk, then re-rate once every enterprise whose stored
    inputs changed (``reads``: the consumer's input cache for this transaction, see
    ``input_cache``).

    Each input has a natural key that already deduplicates it (an enterprise's revision, an
    account month's calculation version, a fact's revision): a redelivered or superseded input
    changes no row, so its enterprise is not re-rated and nothing is issued — the same outcome an
    inbox claim gave, without an inbox row per event (DESIGN §5: duplicates change nothing)."""
    repo = uow.repo
    touched: set[str] = set()
    if cmd.enterprises:
        touched |= await repo.upsert_enterprises(cmd.enterprises)
    if cmd.accounts:
        touched |= await repo.upsert_accounts(cmd.accounts)
        if reads is not None:
            reads.wrote(cmd.accounts)  # rows that need not be read back (input_cache)
    if cmd.facts:
        touched |= await repo.upsert_facts(cmd.facts)
    if not touched or cmd.issued_at is None:
        return []
    return await rerate(uow, touched, m, cmd.issued_at, "inputs_changed", reads=reads)


async def rerate_enterprises(
    cmd: RerateEnterprises, uow: UnitOfWorkPort, m: Methodology
) -> list[StoredRating]:
    codes = cmd.credit_codes if cmd.credit_codes is not None else await uow.repo.all_rateable_codes()
    return await rerate(uow, codes, m, cmd.issued_at, cmd.reason)


def objection_event(o: Objection, changed_at: datetime) -> ObjectionChanged:
    """The ``ObjectionChanged`` owed for ``o``'s current state (lending routes quotes to manual
    review while it is open)."""
    return ObjectionChanged(
        objection_id=o.objection_id,
        credit_code=o.credit_code,
        rating_id=o.rating_id,
        state=o.status,
        open=obj.is_open(o.status),
        sequence=obj.sequence(o.status),
        changed_at=changed_at,
        new_rating_id=o.new_rating_id,
    )


async def file_objection(cmd: FileObjection, uow: UnitOfWorkPort, sla_working_days: int) -> Objection:
    current = (await uow.repo.current_ratings([cmd.credit_code])).get(cmd.credit_code)
    if current is None:
        raise NotFound(f"no rating for {cmd.credit_code}: nothing to object to")
    o = Objection(
        objection_id=str(uuid.uuid4()),
        credit_code=cmd.credit_code,
        rating_id=current.rating_id,
        filed_by=cmd.filed_by,
        reason=cmd.reason,
        status=obj.OPEN,
        filed_at=cmd.filed_at,
        due_at=obj.due_date(cmd.filed_at, sla_working_days),
        evidence=list(cmd.evidence),
    )
    await uow.repo.add_objection(o)
    uow.emit(objection_event(o, cmd.filed_at))
    return o


async def decide_objection(cmd: DecideObjection, uow: UnitOfWorkPort, m: Methodology) -> Objection:
    """Decide; a ``revised`` outcome issues a new rating marked as a revision of this objection.

    The revised rating keeps the sub-scores of the rating under objection, takes the reviewer's
    score (or the same score when only a veto was found wrong) and re-derives the label with the
    remaining vetoes, so the label stays consistent with the methodology's thresholds.
    """
    o = await uow.repo.get_objection(cmd.objection_id, lock=True)
    if o is None:
        raise NotFound(f"no objection {cmd.objection_id}")
    o.status = obj.transition(o.status, cmd.outcome)
    o.decided_at, o.reviewer, o.decision_reason = cmd.decided_at, cmd.reviewer, cmd.reason
    if cmd.outcome == "revised":
        if cmd.revised_score is None:
            raise Conflict("a revised outcome needs revised_score")
        current = (await uow.repo.current_ratings([o.credit_code], lock=True))[o.credit_code]
        score = q(cmd.revised_score)
        label = label_for(m, score)
        for v in current.vetoes:
            label = worse(label, m.vetoes[v].cap) if v in m.vetoes else label
        details: dict[str, Any] = {
            **current.details,
            "revision_of": current.rating_id,
            "revision_reason": cmd.reason,
            "uncapped_label": label_for(m, score),
        }
        new = dataclasses.replace(
            current,
            rating_id=rating_id(current.credit_code, current.seq + 1),
            seq=current.seq + 1,
            score=score,
            label=label,
            previous_label=current.label,
            details=details,
            reason="objection_revision",
            issued_at=issue_time(cmd.decided_at, current),
            objection_id=o.objection_id,
        )
        await uow.repo.add_ratings([new])
        uow.emit(to_event(new))
        o.new_rating_id = new.rating_id
    await uow.repo.save_objection(o)
    uow.emit(objection_event(o, cmd.decided_at))
    return o


Handler = Callable[..., Awaitable[Any]]
HANDLERS: dict[type, Handler] = {
    ApplyInputs: apply_inputs,
    RerateEnterprises: rerate_enterprises,
    FileObjection: file_objection,
    DecideObjection: decide_objection,
}


async def rerate_all(
    uow_factory: Callable[[], UnitOfWorkPort],
    m: Methodology,
    reason: str,
    issued_at: datetime,
    chunk: int = 200,
    on_progress: Callable[[int, int, int], None] | None = None,
) -> tuple[int, int]:
    """Re-rate every rateable enterprise in chunks (one transaction each, so a long cycle never
    holds one huge transaction and progress is visible); returns (considered, issued)."""
    async with uow_factory() as uow:
        codes = await uow.repo.all_rateable_codes()
    issued = 0
    peers: PeerCache = {}
    for start in range(0, len(codes), chunk):
        async with uow_factory() as uow:
            issued += len(await rerate(uow, codes[start : start + chunk], m, issued_at, reason, peers))
            await uow.commit()
        if on_progress is not None:
            on_progress(min(start + chunk, len(codes)), len(codes), issued)
    return len(codes), issued
