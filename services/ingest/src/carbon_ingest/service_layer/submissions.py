"""Use case: record a department's submission (HTTP batch or Kafka records; one path for both).

Two phases inside the one transaction, so that concurrent submissions overlap and only the
evidence-chain append is serialised:

1. ``apply_submissions`` (a group of submissions — an HTTP group commit, a Kafka batch — with a
   fixed number of statements; concurrent with other groups of other departments): validate
   every record (directory looked up with one query) → take the group's *department* advisory
   locks in one statement, sorted (the record-id dedupe of one department is serialised; other
   departments run in parallel) → load the stored heads of the group's record ids with the
   content hashes of their earlier revisions (one query) → classify new / duplicate (content any
   revision had) / correction, submission by submission in arrival order, in memory → upsert the
   heads → re-run the plausibility checks (one department's own history, so the department lock
   suffices) → store the submissions and their rejections (one statement) → encode the facts'
   canonical bytes and ``FactRecorded`` events, noting which also go on the credit stream
   (``fact_events``; everything that does not need the chain).
2. ``append_to_chain`` (once per transaction, the last step before COMMIT): take the global
   chain lock → re-run cross-validation once for the enterprise-periods touched (it compares
   departments, so it needs every other department's committed heads) → read the last entry →
   hash the entries → one INSERT of facts, evidence and outbox rows for the whole transaction
   (the events carry the entry hashes; a credit-family fact's event is written twice, once per
   topic, from the same arrays) → the caller commits, which releases the lock. The lock
   is taken last, so a transaction never waits for a department lock while holding the chain (no
   deadlock with a Kafka batch that spans departments).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime

from carbon_common.db import time_ordered_id
from carbon_common.telemetry import current_traceparent
from carbon_ingest.domain import evidence, identifiers
from carbon_ingest.domain.catalogue import Catalogue
from carbon_ingest.domain.facts import Fact, plan_onto
from carbon_ingest.domain.quality import cross_check
from carbon_ingest.domain.records import CheckedRecord, Rejection, check_record
from carbon_ingest.service_layer.commands import RecordSubmission
from carbon_ingest.service_layer.fact_events import FactEvents, encode_facts
from carbon_ingest.service_layer.metrics import EVIDENCE_CHAIN_LENGTH, FLAGS, RECORDS
from carbon_ingest.service_layer.plausibility import check_plausibility
from carbon_ingest.service_layer.ports import SubmissionReport, UnitOfWork


@dataclass(frozen=True, slots=True)
class Clock:
    """Injected time and ids, so tests can pin "today" (future-period rule) and fact ids. Fact
    and submission ids are time-ordered (``carbon_common.db.time_ordered_id``: B-tree friendly keys)."""

    now: Callable[[], datetime] = lambda: datetime.now(UTC)
    new_id: Callable[[], str] = time_ordered_id

    def today(self) -> date:
        return self.now().date()


@dataclass(slots=True)
class Accepted:
    """The new facts of one submission, prepared for the evidence chain (``append_to_chain``)."""

    submission_id: str
    facts: list[Fact] = field(default_factory=list)
    #: canonical bytes of each fact (what its chain entry hashes)
    canonical: list[bytes] = field(default_factory=list)
    #: each fact's encoded ``FactRecorded`` (and the extra streams' copies), ``evidence_hash`` left
    #: out: encoding before the chain lock keeps it out of the serialised section
    events: FactEvents = field(default_factory=FactEvents)


async def apply_submission(
    cmd: RecordSubmission, uow: UnitOfWork, catalogue: Catalogue, clock: Clock = Clock()
) -> tuple[SubmissionReport, Accepted]:
    """Phase 1 of one submission (``apply_submissions`` of a group of one); its events carry the
    current trace."""
    return (await apply_submissions([cmd], uow, catalogue, clock))[0]


async def apply_submissions(
    cmds: Sequence[RecordSubmission],
    uow: UnitOfWork,
    catalogue: Catalogue,
    clock: Clock = Clock(),
    traceparents: Sequence[str | None] | None = None,
) -> list[tuple[SubmissionReport, Accepted]]:
    """Phase 1 of a group of submissions inside an open unit of work: everything but the chain
    append, with a fixed number of statements whatever the group's size. The caller passes the
    ``Accepted`` facts of every submission to ``append_to_chain`` once, then commits.

    The result is, per submission (in the order given), what applying them one after the other
    would give: a later submission of a department sees the heads and new facts of the earlier
    ones (duplicates, corrections, forbidden corrections decided in arrival order, in memory).
    The statements: one directory query for every record, all the departments' locks in one
    statement (sorted by department id: the one lock order of every writer, so no deadlock with
    a Kafka batch or another replica), one heads query, one heads upsert, one plausibility pass
    over all the new facts (flags of a month then see every fact of the group, as one Kafka
    batch does), one INSERT of the submissions with their rejections. ``traceparents`` (one per
    submission) is the trace each submission's ``FactRecorded`` events carry (default: the
    current one)."""
    if traceparents is None:
        traceparents = [current_traceparent()] * len(cmds)
    # identities first: one "now" and one id per submission
    stamps = [(clock.now(), clock.new_id()) for _ in cmds]
    depts: list[identifiers.Department | None] = []
    dept_errors: list[str] = []
    for cmd in cmds:
        try:
            depts.append(identifiers.department(cmd.department))
            dept_errors.append("")
        except identifiers.InvalidIdentifierError as exc:
            depts.append(None)
            dept_errors.append(str(exc))

    directory = await uow.repo.registered(
        identifiers.compact_credit_code(r.credit_code)
        for cmd, dept in zip(cmds, depts, strict=True)
        if dept is not None
        for r in cmd.records
        if isinstance(r.credit_code, str)
    )
    today = clock.today()
    checked: list[list[CheckedRecord]] = []
    rejected: list[list[Rejection]] = []
    record_ids: dict[str, list[str]] = {}
    for cmd, dept, error in zip(cmds, depts, dept_errors, strict=True):
        ok: list[CheckedRecord] = []
        bad: list[Rejection] = []
        if dept is None:
            bad = [Rejection(_rid(r.record_id), "department", error, i) for i, r in enumerate(cmd.records)]
        else:
            for i, raw in enumerate(cmd.records):
                result = check_record(raw, dept, catalogue, directory, today, i)
                if isinstance(result, CheckedRecord):
                    ok.append(result)
                else:
                    bad.append(result)
            if ok:
                record_ids.setdefault(dept.id, []).extend(c.record_id for c in ok)
        checked.append(ok)
        rejected.append(bad)

    await uow.repo.lock_departments(sorted(record_ids))
    heads = await uow.repo.heads(record_ids)

    out: list[tuple[SubmissionReport, Accepted]] = []
    new_facts: list[Fact] = []
    for k, cmd in enumerate(cmds):
        now, submission_id = stamps[k]
        dept = depts[k]
        accepted = Accepted(submission_id)
        if dept is None or not checked[k]:
            report = _report(cmd, submission_id, now, 0, 0, 0, rejected[k])
        else:
            plan = plan_onto(dept, checked[k], heads[dept.id], new_id=clock.new_id, now=now)
            accepted.facts = plan.facts
            if plan.facts:
                new_facts += plan.facts
                accepted.canonical = _canonical(plan.facts)
                accepted.events = encode_facts(
                    plan.facts, uow.source, traceparents[k], catalogue.stream_indicators
                )
            rejections = rejected[k] + plan.rejections if plan.rejections else rejected[k]
            rejections.sort(key=lambda r: r.position)
            report = _report(
                cmd, submission_id, now, len(plan.facts), plan.duplicates, plan.corrections, rejections
            )
        out.append((report, accepted))

    if new_facts:
        await uow.repo.upsert_heads(new_facts)
        await check_plausibility(uow, catalogue, new_facts)
    await uow.repo.add_submissions([r for r, _ in out], catalogue.version)
    for cmd, (report, _) in zip(cmds, out, strict=True):
        _count(cmd, report)
    return out


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
    # the whole transaction's facts in one statement (a group of 64 submissions: 1 round trip
    # under the chain lock, not 64), in submission order
    facts: list[Fact] = []
    canonical: list[bytes] = []
    events = FactEvents()
    submission_ids: list[str] = []
    for b in batches:
        facts += b.facts
        canonical += b.canonical
        events.extend(b.events)
        submission_ids += [b.submission_id] * len(b.facts)
    hashes = evidence.chain(last_hash, canonical)
    rows = events.rows(hashes)
    await uow.repo.add_facts(facts, hashes, last_seq + 1, last_hash, submission_ids, rows)
    uow.written_to_outbox(len(rows.ids))  # a copy to the extra stream is in its fact's row
    EVIDENCE_CHAIN_LENGTH.set(last_seq + len(facts))


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
    months = {(f.credit_code, f.indicator, f.period) for f in new if f.indicator in checked}
    if not months:
        return
    values = await uow.repo.source_values_for_recheck(months)  # their old flags deleted
    indicators = {m[1] for m in months}
    tolerance = {
        code: tol
        for code in indicators
        if (tol := catalogue.indicators[code].cross_check_tolerance) is not None
    }
    flags = cross_check(values, tolerance)
    await uow.repo.add_flags(flags)
    for f in flags:
        FLAGS.labels(f.indicator).inc()


def _canonical(facts: Sequence[Fact]) -> list[bytes]:
    """The canonical bytes of a submission's facts (``evidence.canonical_fact``, the time spelled
    once: a submission's facts share their ``recorded_at``)."""
    spelled: dict[datetime, str] = {}
    out: list[bytes] = []
    for f in facts:
        at = spelled.get(f.recorded_at)
        if at is None:
            at = spelled[f.recorded_at] = evidence.utc_text(f.recorded_at)
        out.append(
            evidence.canonical_bytes(
                fact_id=f.fact_id,
                department=f.department,
                record_id=f.record_id,
                revision=f.revision,
                credit_code=f.credit_code,
                indicator=f.indicator,
                period=f.period,
                value=f.spelled_value,
                unit=f.unit,
                original_value=f.original_value,
                original_unit=f.original_unit,
                attributes=f.attributes,
                authoritative=f.authoritative,
                recorded_at=at,
            )
        )
    return out


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
