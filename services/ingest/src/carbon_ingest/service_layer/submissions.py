"""Use case: record a department's submission (HTTP batch or Kafka records; one path for both).

Two phases inside the one transaction, so that concurrent submissions overlap and only the
evidence-chain append is serialised:

1. ``apply_submission`` (per department; concurrent with other departments): validate every
   record (directory looked up with one query) → take the *department's* advisory lock (the
   record-id dedupe of one department is serialised; other departments run in parallel) → load
   the stored heads of the batch's record ids with the content hashes of their earlier
   revisions (one query) → classify new / duplicate (content any revision had) / correction →
   upsert the heads → re-run the plausibility checks (one department's own history, so the
   department lock suffices) → store the submission and its rejections → encode the facts'
   canonical bytes and ``FactRecorded`` events (everything that does not need the chain).
2. ``append_to_chain`` (once per transaction, the last step before COMMIT): take the global
   chain lock → re-run cross-validation once for the enterprise-periods touched (it compares
   departments, so it needs every other department's committed heads) → read the last entry →
   hash the entries → one INSERT of facts, evidence and outbox rows (the events carry the
   entry hashes) → the caller commits, which releases the lock. The lock is taken last, so a
   transaction never waits for a department lock while holding the chain (no deadlock with a
   Kafka batch that spans departments).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime

import orjson

from carbon_common.db import new_id
from carbon_common.events import Envelope, FactRecorded, encode
from carbon_common.telemetry import current_traceparent
from carbon_ingest.domain import evidence, identifiers
from carbon_ingest.domain.catalogue import Catalogue
from carbon_ingest.domain.facts import Fact, plan_facts
from carbon_ingest.domain.quality import cross_check
from carbon_ingest.domain.records import CheckedRecord, Rejection, check_record
from carbon_ingest.service_layer.commands import RecordSubmission
from carbon_ingest.service_layer.metrics import EVIDENCE_CHAIN_LENGTH, FLAGS, RECORDS
from carbon_ingest.service_layer.plausibility import check_plausibility
from carbon_ingest.service_layer.ports import OutboxRow, SubmissionReport, UnitOfWork

#: the evidence hash of an event encoded before its chain entry exists (replaced under the lock)
_UNCHAINED = "0" * 64
#: ``FactRecorded`` serialises ``evidence_hash`` after every submitted (user) field, so the *last*
#: occurrence of this in the encoded value is the field itself, whatever the attributes hold
_HASH_FIELD = b'"evidence_hash":"' + _UNCHAINED.encode() + b'"'


@dataclass(frozen=True, slots=True)
class Clock:
    """Injected time and ids, so tests can pin "today" (future-period rule) and fact ids."""

    now: Callable[[], datetime] = lambda: datetime.now(UTC)
    new_id: Callable[[], str] = new_id

    def today(self) -> date:
        return self.now().date()


@dataclass(slots=True)
class Accepted:
    """The new facts of one submission, prepared for the evidence chain (``append_to_chain``)."""

    submission_id: str
    facts: list[Fact] = field(default_factory=list)
    #: canonical bytes of each fact (what its chain entry hashes)
    canonical: list[bytes] = field(default_factory=list)
    #: each fact's encoded ``FactRecorded`` outbox row, ``evidence_hash`` still the placeholder:
    #: encoding before the chain lock keeps it out of the serialised section
    events: list[OutboxRow] = field(default_factory=list)


async def apply_submission(
    cmd: RecordSubmission, uow: UnitOfWork, catalogue: Catalogue, clock: Clock = Clock()
) -> tuple[SubmissionReport, Accepted]:
    """Phase 1 inside an open unit of work: everything but the chain append. The caller passes
    the ``Accepted`` facts of every submission of the transaction to ``append_to_chain`` once,
    then commits."""
    now = clock.now()
    submission_id = clock.new_id()
    try:
        dept = identifiers.department(cmd.department)
    except identifiers.InvalidIdentifierError as exc:
        rejected = [
            Rejection(_rid(r.record_id), "department", str(exc), i) for i, r in enumerate(cmd.records)
        ]
        report = _report(cmd, submission_id, now, 0, 0, 0, rejected)
        await uow.repo.add_submission(report, catalogue.version)
        _count(cmd, report)
        return report, Accepted(submission_id)

    directory = await uow.repo.registered(
        identifiers.compact_credit_code(r.credit_code) for r in cmd.records if isinstance(r.credit_code, str)
    )
    checked: list[CheckedRecord] = []
    rejected = []
    today = clock.today()
    for i, raw in enumerate(cmd.records):
        result = check_record(raw, dept, catalogue, directory, today, i)
        (checked if isinstance(result, CheckedRecord) else rejected).append(result)  # type: ignore[arg-type]

    await uow.repo.lock_department(dept.id)
    heads = await uow.repo.heads(dept.id, (c.record_id for c in checked))
    plan = plan_facts(dept, checked, heads, new_id=clock.new_id, now=now)
    rejected = sorted(rejected + plan.rejections, key=lambda r: r.position)
    accepted = Accepted(submission_id, plan.facts)

    if plan.facts:
        await uow.repo.upsert_heads(plan.facts)
        await check_plausibility(uow, catalogue, plan.facts)
        accepted.canonical = [_canonical(f) for f in plan.facts]
        traceparent = current_traceparent()
        accepted.events = [_encoded(_event(f, _UNCHAINED), uow.source, traceparent) for f in plan.facts]

    report = _report(cmd, submission_id, now, len(plan.facts), plan.duplicates, plan.corrections, rejected)
    await uow.repo.add_submission(report, catalogue.version)
    _count(cmd, report)
    return report, accepted


async def append_to_chain(uow: UnitOfWork, catalogue: Catalogue, batches: Sequence[Accepted]) -> None:
    """Phase 2, the only serialised step: re-run cross-validation, append the transaction's new
    facts to the evidence chain and stage their ``FactRecorded``. Call once, last before COMMIT
    (which releases the chain lock).

    Cross-validation compares *different* departments' values of one enterprise-period, so it
    runs under the chain lock: every transaction that adds facts holds it, hence the one that
    commits second sees the first one's heads (two departments' concurrent submissions would
    otherwise each miss the other's value, and race on the same flag rows)."""
    if not any(b.facts for b in batches):
        return
    await uow.repo.lock_evidence_chain()
    await _cross_validate(uow, catalogue, [f for b in batches for f in b.facts])
    last_seq, last_hash = await uow.repo.last_evidence()
    seq, previous = last_seq + 1, last_hash
    for b in batches:
        if not b.facts:
            continue
        hashes = evidence.chain(previous, b.canonical)
        events = [_with_hash(e, h) for e, h in zip(b.events, hashes, strict=True)]
        await uow.repo.add_facts(b.facts, hashes, seq, previous, b.submission_id, events)
        uow.written_to_outbox(len(events))
        seq += len(b.facts)
        previous = hashes[-1]
    EVIDENCE_CHAIN_LENGTH.set(seq - 1)


async def record_submission(
    cmd: RecordSubmission, uow: UnitOfWork, catalogue: Catalogue, clock: Clock = Clock()
) -> SubmissionReport:
    """The HTTP use case: one submission, one transaction."""
    async with uow:
        report, accepted = await apply_submission(cmd, uow, catalogue, clock)
        await append_to_chain(uow, catalogue, [accepted])
        await uow.commit()
    return report


async def _cross_validate(uow: UnitOfWork, catalogue: Catalogue, new: Sequence[Fact]) -> None:
    """Recompute the flags of the enterprise-periods this batch touched, once per batch."""
    checked = catalogue.cross_checked
    touched = [f for f in new if f.indicator in checked]
    if not touched:
        return
    codes = {f.credit_code for f in touched}
    periods = {f.period for f in touched}
    indicators = {f.indicator for f in touched}
    values = await uow.repo.source_values(codes, periods, indicators)
    tolerance = {
        code: tol
        for code in indicators
        if (tol := catalogue.indicators[code].cross_check_tolerance) is not None
    }
    flags = cross_check(values, tolerance)
    await uow.repo.replace_flags(codes, periods, indicators, flags)
    for f in flags:
        FLAGS.labels(f.indicator).inc()


def _canonical(f: Fact) -> bytes:
    return evidence.canonical_fact(
        fact_id=f.fact_id,
        department=f.department,
        record_id=f.record_id,
        revision=f.revision,
        credit_code=f.credit_code,
        indicator=f.indicator,
        period=f.period,
        value=f.value,
        unit=f.unit,
        original_value=f.original_value,
        original_unit=f.original_unit,
        attributes=f.attributes,
        authoritative=f.authoritative,
        recorded_at=f.recorded_at,
    )


def _event(f: Fact, evidence_hash: str) -> FactRecorded:
    return FactRecorded(
        fact_id=f.fact_id,
        fact_key=f.fact_key,
        revision=f.revision,
        credit_code=f.credit_code,
        department=f.department,
        record_id=f.record_id,
        indicator=f.indicator,
        period=f.period,
        value=f.value,
        unit=f.unit,
        attributes=dict(f.attributes),
        evidence_hash=evidence_hash,
        authoritative=f.authoritative,
        recorded_at=f.recorded_at,
    )


def _encoded(event: FactRecorded, source: str, traceparent: str | None) -> OutboxRow:
    """The outbox row of ``event`` exactly as ``UnitOfWork.emit`` would stage it."""
    env: Envelope[FactRecorded] = Envelope(data=event, source=source, id=new_id(), traceparent=traceparent)
    key, value, headers = encode(env)
    return OutboxRow(
        env.id, env.topic, key, value, orjson.dumps([[k, v.decode()] for k, v in headers]).decode()
    )


def _with_hash(row: OutboxRow, evidence_hash: str) -> OutboxRow:
    """The row with the placeholder ``evidence_hash`` replaced (its last occurrence: the field)."""
    at = row.value.rfind(_HASH_FIELD)
    if at < 0:
        raise AssertionError("encoded FactRecorded without its evidence_hash placeholder")
    start = at + len(_HASH_FIELD) - 65
    value = row.value[:start] + evidence_hash.encode() + row.value[start + 64 :]
    return OutboxRow(row.event_id, row.topic, row.key, value, row.headers_json)


def _rid(value: object) -> str:
    return value if isinstance(value, str) else ""


def _report(
    cmd: RecordSubmission,
    submission_id: str,
    now: datetime,
    accepted: int,
    duplicates: int,
    corrections: int,
    rejected: list[Rejection],
) -> SubmissionReport:
    return SubmissionReport(
        submission_id=submission_id,
        department=cmd.department,
        channel=cmd.channel,
        received_at=now,
        received=len(cmd.records),
        accepted=accepted,
        duplicates=duplicates,
        corrections=corrections,
        rejected=rejected,
    )


def _count(cmd: RecordSubmission, r: SubmissionReport) -> None:
    RECORDS.labels("accepted", cmd.channel).inc(r.accepted - r.corrections)
    RECORDS.labels("correction", cmd.channel).inc(r.corrections)
    RECORDS.labels("duplicate", cmd.channel).inc(r.duplicates)
    RECORDS.labels("rejected", cmd.channel).inc(len(r.rejected))
