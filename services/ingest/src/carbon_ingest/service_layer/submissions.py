"""Use case: record a department's submission (HTTP batch or Kafka records; one path for both).

Order inside the one transaction, chosen so the evidence-chain lock is held briefly:
validate every record (directory looked up with one query) → take the chain lock → load the
stored heads of the batch's record ids, with the content hashes of their earlier revisions
(one query) → classify new / duplicate (content any revision had) / correction →
hash the batch's chain entries in Python → bulk-insert facts, evidence, heads → one
``FactRecorded`` per accepted fact into the outbox → re-run cross-validation once for the
enterprise-periods the batch touched → store the submission and its rejections.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime

from carbon_common.db import new_id
from carbon_common.events import FactRecorded
from carbon_ingest.domain import evidence, identifiers
from carbon_ingest.domain.catalogue import Catalogue
from carbon_ingest.domain.facts import Fact, plan_facts
from carbon_ingest.domain.quality import cross_check
from carbon_ingest.domain.records import CheckedRecord, Rejection, check_record
from carbon_ingest.service_layer.commands import RecordSubmission
from carbon_ingest.service_layer.metrics import EVIDENCE_CHAIN_LENGTH, FLAGS, RECORDS
from carbon_ingest.service_layer.ports import SubmissionReport, UnitOfWork


@dataclass(frozen=True, slots=True)
class Clock:
    """Injected time and ids, so tests can pin "today" (future-period rule) and fact ids."""

    now: Callable[[], datetime] = lambda: datetime.now(UTC)
    new_id: Callable[[], str] = new_id

    def today(self) -> date:
        return self.now().date()


async def apply_submission(
    cmd: RecordSubmission, uow: UnitOfWork, catalogue: Catalogue, clock: Clock = Clock()
) -> tuple[SubmissionReport, list[Fact]]:
    """Apply inside an open unit of work (the caller commits, possibly after several submissions)."""
    now = clock.now()
    try:
        dept = identifiers.department(cmd.department)
    except identifiers.InvalidIdentifierError as exc:
        rejected = [
            Rejection(_rid(r.record_id), "department", str(exc), i) for i, r in enumerate(cmd.records)
        ]
        report = _report(cmd, clock.new_id(), now, 0, 0, 0, rejected)
        await uow.repo.add_submission(report, catalogue.version)
        _count(cmd, report)
        return report, []

    directory = await uow.repo.registered(
        identifiers.compact_credit_code(r.credit_code) for r in cmd.records if isinstance(r.credit_code, str)
    )
    checked: list[CheckedRecord] = []
    rejected = []
    for i, raw in enumerate(cmd.records):
        result = check_record(raw, dept, catalogue, directory, clock.today(), i)
        (checked if isinstance(result, CheckedRecord) else rejected).append(result)  # type: ignore[arg-type]

    await uow.repo.lock_evidence_chain()
    heads = await uow.repo.heads(dept.id, (c.record_id for c in checked))
    plan = plan_facts(dept, checked, heads, new_id=clock.new_id, now=now)
    rejected = sorted(rejected + plan.rejections, key=lambda r: r.position)
    submission_id = clock.new_id()

    if plan.facts:
        last_seq, last_hash = await uow.repo.last_evidence()
        hashes = evidence.chain(last_hash, (_canonical(f) for f in plan.facts))
        await uow.repo.add_facts(plan.facts, hashes, last_seq + 1, last_hash, submission_id)
        EVIDENCE_CHAIN_LENGTH.set(last_seq + len(plan.facts))
        for fact, h in zip(plan.facts, hashes, strict=True):
            uow.emit(_event(fact, h))
        await _cross_validate(uow, catalogue, plan.facts)

    report = _report(cmd, submission_id, now, len(plan.facts), plan.duplicates, plan.corrections, rejected)
    await uow.repo.add_submission(report, catalogue.version)
    _count(cmd, report)
    return report, plan.facts


async def record_submission(
    cmd: RecordSubmission, uow: UnitOfWork, catalogue: Catalogue, clock: Clock = Clock()
) -> SubmissionReport:
    """The HTTP use case: one submission, one transaction."""
    async with uow:
        report, _ = await apply_submission(cmd, uow, catalogue, clock)
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
