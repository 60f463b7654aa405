"""Read-side use cases: directory pages, submission read-back, evidence verification, quality."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from carbon_ingest.domain import evidence
from carbon_ingest.domain.enterprise import Enterprise
from carbon_ingest.domain.quality import Flag
from carbon_ingest.service_layer.commands import VerifyEvidence
from carbon_ingest.service_layer.errors import NotFoundError
from carbon_ingest.service_layer.ports import SubmissionReport, UnitOfWork


async def get_enterprise(uow: UnitOfWork, credit_code: str) -> Enterprise:
    async with uow:
        found = await uow.repo.get_enterprise(credit_code)
    if found is None:
        raise NotFoundError("enterprise", credit_code)
    return found


async def list_enterprises(
    uow: UnitOfWork, region: str | None, industry: str | None, page: int, page_size: int
) -> tuple[list[Enterprise], int]:
    async with uow:
        return await uow.repo.list_enterprises(region, industry, (page - 1) * page_size, page_size)


async def get_submission(uow: UnitOfWork, submission_id: str) -> SubmissionReport:
    async with uow:
        found = await uow.repo.get_submission(submission_id)
    if found is None:
        raise NotFoundError("submission", submission_id)
    return found


@dataclass(frozen=True, slots=True)
class Verification:
    entries_checked: int
    first_broken: evidence.Broken | None
    head_hash: str


async def verify_evidence(uow: UnitOfWork, cmd: VerifyEvidence = VerifyEvidence()) -> Verification:
    """Recompute the whole chain from the stored facts, in chunks (memory stays flat at 420k facts)."""
    checked, previous, after = 0, evidence.GENESIS, 0
    async with uow:
        while True:
            entries = await uow.repo.evidence_entries(after, cmd.chunk)
            if not entries:
                return Verification(checked, None, previous)
            n, broken, previous = evidence.verify(entries, previous)
            checked += n
            if broken is not None:
                return Verification(checked, broken, previous)
            after = entries[-1].seq


async def quality_flags(
    uow: UnitOfWork, credit_code: str | None, period: str | None, limit: int
) -> list[Flag]:
    async with uow:
        return await uow.repo.flags(credit_code, period, limit)


async def quality_summary(uow: UnitOfWork, credit_code: str) -> dict[str, Any]:
    async with uow:
        if await uow.repo.get_enterprise(credit_code) is None:
            raise NotFoundError("enterprise", credit_code)
        return await uow.repo.quality_summary(credit_code)
