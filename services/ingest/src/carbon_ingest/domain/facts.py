"""Facts: accepted records with a revision. Re-sending a record is a no-op or a correction.

The idempotency key is ``department/record_id`` (the ``fact_key``). Content that any earlier
revision of the key already carried changes nothing: department systems deliver at least once
and may re-send an *older* version of a record after its correction (a replay of their outbox,
a retried batch), which must not flip the fact back and forth. Content never seen for the key
supersedes the current value with ``revision + 1`` (the earlier revisions stay in the
history), unless the catalogue forbids that department kind to correct the indicator. The
consequence: a department that wants an earlier value back sends it under a new record id
(restating it in another unit is the same content: the hash is taken in canonical units). A
batch that repeats a record_id is read in order, like separate submissions.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from typing import Any, NamedTuple

from carbon_ingest.domain.identifiers import Department
from carbon_ingest.domain.records import CheckedRecord, Rejection
from carbon_ingest.domain.units import canonical_decimal


class Head(NamedTuple):
    """The latest revision stored for one fact key, and the content of every revision so far (a
    ``NamedTuple``, like ``Fact``: one per accepted record)."""

    record_id: str
    revision: int
    content_hash: str
    indicator: str
    #: content hashes of the earlier revisions (the latest's is ``content_hash``); empty when
    #: the key has a single revision, so the common case costs nothing to load
    earlier_hashes: frozenset[str] = frozenset()

    def has_seen(self, content_hash: str) -> bool:
        """Did any revision of this key carry ``content_hash``?"""
        return content_hash == self.content_hash or content_hash in self.earlier_hashes


class Fact(NamedTuple):
    """An accepted record with its revision. A ``NamedTuple``: immutable like a frozen dataclass, but
    built in one C call (one per accepted record, on the hot path; a frozen dataclass sets each field
    through ``object.__setattr__``)."""

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
    #: ``canonical_decimal(value)``, when the validator had it already ("" = not given)
    value_text: str = ""

    @property
    def fact_key(self) -> str:
        return f"{self.department}/{self.record_id}"

    @property
    def spelled_value(self) -> str:
        """The value's canonical text (``canonical_decimal``)."""
        return self.value_text or canonical_decimal(self.value)


_NO_HASHES: frozenset[str] = frozenset()


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
    return plan_onto(department, records, dict(heads), new_id=new_id, now=now)


def plan_onto(
    department: Department,
    records: Sequence[CheckedRecord],
    latest: dict[str, Head],
    *,
    new_id: Callable[[], str],
    now: datetime,
) -> Plan:
    """``plan_facts`` that reads the heads from ``latest`` and leaves this submission's new heads
    in it: several submissions of one department planned one after the other (a group commit, a
    Kafka batch) each see the earlier ones' facts, exactly as if each had been committed first."""
    plan = Plan()
    dept_id, kind = department.id, department.kind
    for rec in records:
        head = latest.get(rec.record_id)
        content = rec.content_hash
        ind = rec.indicator
        if head is None:
            revision = 1
            earlier = _NO_HASHES
        else:
            if head.has_seen(content):
                plan.duplicates += 1
                continue
            if not ind.may_correct(kind):
                plan.rejections.append(
                    Rejection(
                        rec.record_id,
                        "record_id",
                        f"{ind.code} may not be corrected by {kind} departments; "
                        f"revision {head.revision} stands",
                        rec.position,
                    )
                )
                continue
            revision = head.revision + 1
            earlier = head.earlier_hashes | {head.content_hash}
            plan.corrections += 1
        plan.facts.append(
            Fact(
                new_id(),
                dept_id,
                rec.record_id,
                revision,
                rec.credit_code,
                ind.code,
                rec.period,
                rec.value,
                ind.unit,
                rec.original_value,
                rec.original_unit,
                rec.attributes,
                kind in ind.authoritative,
                content,
                now,
                rec.value_text,
            )
        )
        latest[rec.record_id] = Head(rec.record_id, revision, content, ind.code, earlier)
    return plan
