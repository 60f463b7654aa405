"""Evidence-chain verification."""

from __future__ import annotations

from fastapi import APIRouter, Depends

from carbon_common.auth import require
from carbon_ingest.entrypoints.deps import ContainerDep
from carbon_ingest.entrypoints.schemas import BrokenOut, VerificationOut
from carbon_ingest.service_layer import queries

router = APIRouter(prefix="/v1/evidence", tags=["evidence"])


@router.get(
    "/verify",
    summary="Recompute the evidence hash chain and name the first broken entry",
    description="Rebuilds every entry's hash from the stored fact and the previous entry's hash. "
    "`ok: false` names the first entry (sequence number and fact id) whose fact was altered or "
    "whose link does not match. Reads the whole chain: an operator's call, not a hot path.",
    response_model=VerificationOut,
    dependencies=[Depends(require("audit:read"))],
)
async def verify(container: ContainerDep) -> VerificationOut:
    v = await queries.verify_evidence(container.uow())
    broken = v.first_broken
    return VerificationOut(
        ok=broken is None,
        entries_checked=v.entries_checked,
        head_hash=v.head_hash,
        first_broken=None
        if broken is None
        else BrokenOut(seq=broken.seq, fact_id=broken.fact_id, reason=broken.reason),
    )
