"""Department submissions over HTTP: the same validation path as the Kafka topic."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends

from carbon_common.auth import Principal, require
from carbon_common.problems import PROBLEM_JSON, PROBLEM_RESPONSES, FieldError, Problem, ProblemError
from carbon_ingest.domain import identifiers
from carbon_ingest.domain.records import RawRecord
from carbon_ingest.entrypoints.deps import ContainerDep
from carbon_ingest.entrypoints.schemas import RejectedOut, SubmissionIn, SubmissionOut
from carbon_ingest.service_layer import queries
from carbon_ingest.service_layer.commands import RecordSubmission
from carbon_ingest.service_layer.errors import NotFoundError
from carbon_ingest.service_layer.ports import SubmissionReport

router = APIRouter(prefix="/v1/submissions", tags=["submissions"])
Submitter = Annotated[Principal, Depends(require("submissions:write"))]
Reader = Annotated[Principal, Depends(require("submissions:write", "audit:read"))]
RESPONSES = {
    **PROBLEM_RESPONSES,
    413: {"model": Problem, "description": "Too many records", "content": {PROBLEM_JSON: {}}},
}


def _out(r: SubmissionReport) -> SubmissionOut:
    return SubmissionOut(
        submission_id=r.submission_id,
        department=r.department,
        channel=r.channel,
        received_at=r.received_at,
        received=r.received,
        accepted=r.accepted,
        duplicates=r.duplicates,
        corrections=r.corrections,
        rejected=[RejectedOut(record_id=x.record_id, field=x.field, reason=x.reason) for x in r.rejected],
    )


@router.post(
    "",
    summary="Submit a department's batch of indicator records",
    description="Each record is validated on its own: a registered enterprise with a valid credit "
    "code, a catalogue indicator this department kind may report, a `YYYY-MM` period not in the "
    "future, a finite decimal value within the indicator's rules, an accepted unit (converted to "
    "the canonical unit), required attributes. Accepted records become facts (`FactRecorded`, "
    "evidence-chained); the response lists every rejected record with its field and reason. "
    "Re-sending a `record_id` with the same content is a no-op (`duplicates`); with different "
    "content it is a correction (`corrections`, revision + 1). The answer can be read again at "
    "`GET /v1/submissions/{submission_id}`. With authentication on, the department is the token's "
    "`org`: a body `department` that differs is refused (403).",
    response_model=SubmissionOut,
    responses=RESPONSES,
)
async def submit(body: SubmissionIn, container: ContainerDep, principal: Submitter) -> SubmissionOut:
    # a department submits as itself; an enterprise (org = credit code) declares as `self-<code>`
    if principal.authenticated and body.department.strip() not in (principal.org, f"self-{principal.org}"):
        raise ProblemError(
            403,
            "Forbidden",
            f"your token submits for department {principal.org}, not {body.department[:100]}",
            slug="forbidden",
            errors=[FieldError(field="department", reason="must equal the token's org")],
        )
    limit = container.settings.max_submission_records
    if len(body.records) > limit:
        raise ProblemError(
            413,
            "Submission too large",
            f"{len(body.records)} records; at most {limit} per submission",
            slug="too-large",
            errors=[FieldError(field="records", reason=f"at most {limit} records")],
        )
    try:
        identifiers.department(body.department)
    except identifiers.InvalidIdentifierError as exc:
        raise ProblemError(
            422,
            "Invalid department",
            str(exc),
            slug="validation",
            errors=[FieldError(field="department", reason=str(exc), value=body.department[:200])],
        ) from exc
    raws = [
        RawRecord(r.record_id, r.credit_code, r.indicator, r.period, r.value, r.unit, r.attributes)
        for r in body.records
    ]
    # group commit: concurrent submissions share one transaction (service_layer/group_commit.py)
    report = await container.submissions.submit(RecordSubmission(body.department, raws, "http"))
    return _out(report)


@router.get(
    "/{submission_id}",
    summary="Read a submission's outcome again (accepted, duplicates, corrections, rejections)",
    description="Works for HTTP submissions and for the batches the Kafka consumer recorded. A "
    "department reads only its own submissions (another's answers 404); `audit:read` reads any.",
    response_model=SubmissionOut,
    responses=PROBLEM_RESPONSES,
)
async def get(submission_id: str, container: ContainerDep, principal: Reader) -> SubmissionOut:
    try:
        report = await queries.get_submission(container.uow(), submission_id)
        if not principal.has("audit:read") and report.department not in (
            principal.org,
            f"self-{principal.org}",
        ):
            raise NotFoundError("submission", submission_id)  # another department's: not yours to see
    except NotFoundError as exc:
        raise ProblemError(404, "Submission not found", str(exc), slug="not-found") from exc
    return _out(report)
