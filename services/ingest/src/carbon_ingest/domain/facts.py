"""Facts: accepted records with a revision. Re-sending a record is a no-op or a correction.

The idempotency key is ``department/record_id`` (the ``fact_key``). Same content again changes
nothing; different content supersedes the earlier value with ``revision + 1`` (the earlier
revision stays in the history), unless the catalogue forbids that department kind to correct
the indicator. A batch that repeats a record_id is read in order, like separate submissions.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from typing import Any

from carbon_ingest.domain.identifiers import Department
from carbon_ingest.domain.records import CheckedRecord, Rejection


@dataclass(frozen=True, slots=True)
class Head:
    """The latest revision stored for one fact key."""

    record_id: str
    revision: int
    content_hash: str
    indicator: str


@dataclass(frozen=True, slots=True)
class Fact:
    fact_id: str
    department: str
    record_id: str
    revision: int
    credit_code: str
    indicator: str
    period: str
    value: Decimal
    unit: str
    original_value: str
    original_unit: str
    attributes: Mapping[str, Any]
    authoritative: bool
    content_hash: str
    recorded_at: datetime

    @property
    def fact_key(self) -> str:
        return f"{self.department}/{self.record_id}"


@dataclass
class Plan:
    facts: list[Fact] = field(default_factory=list)
    rejections: list[Rejection] = field(default_factory=list)
    duplicates: int = 0
    corrections: int = 0


def plan_facts(
    department: Department,
    records: Sequence[CheckedRecord],
    heads: Mapping[str, Head],
    *,
    new_id: Callable[[], str],
    now: datetime,
) -> Plan:
    """Decide, per checked record, new fact / duplicate / correction / forbidden correction."""
    plan = Plan()
    latest = dict(heads)
    for rec in records:
        head = latest.get(rec.record_id)
        content = rec.content_hash
        if head is not None and head.content_hash == content:
            plan.duplicates += 1
            continue
        if head is not None and not rec.indicator.may_correct(department.kind):
            plan.rejections.append(
                Rejection(
                    rec.record_id,
                    "record_id",
                    f"{rec.indicator.code} may not be corrected by {department.kind} departments; "
                    f"revision {head.revision} stands",
                    rec.position,
                )
            )
            continue
        revision = 1 if head is None else head.revision + 1
        if head is not None:
            plan.corrections += 1
        fact = Fact(
            fact_id=new_id(),
            department=department.id,
            record_id=rec.record_id,
            revision=revision,
            credit_code=rec.credit_code,
            indicator=rec.indicator.code,
            period=rec.period,
            value=rec.value,
            unit=rec.unit,
            original_value=rec.original_value,
            original_unit=rec.original_unit,
            attributes=rec.attributes,
            authoritative=department.kind in rec.indicator.authoritative,
            content_hash=content,
            recorded_at=now,
        )
        plan.facts.append(fact)
        latest[rec.record_id] = Head(rec.record_id, revision, content, rec.indicator.code)
    return plan
