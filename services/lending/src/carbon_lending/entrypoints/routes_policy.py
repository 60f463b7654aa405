"""``/v1/policy`` and ``/v1/policy/audit``: which product/policy configuration prices your loans,
and the append-only history of its versions (who, when, from → to, digest)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query

from carbon_lending.entrypoints.deps import AnyBank, ContainerDep
from carbon_lending.entrypoints.responses import FastJSON
from carbon_lending.service_layer.policy_audit import current_policy, list_policy_audit

router = APIRouter(prefix="/v1/policy", tags=["policy"])


@router.get(
    "",
    summary="The product and policy configuration that prices your bank's quotes",
    description="Its bank id (`default` when your bank has no configuration of its own), version "
    "and SHA-256 digest (the same digest as in the audit).",
)
async def get_policy(bank: AnyBank, c: ContainerDep) -> Any:
    return FastJSON(current_policy(bank, c.policy_documents))


@router.get(
    "/audit",
    summary="History of your pricing configuration: who changed it, when, from which version to which",
    description="Append-only (the database refuses updates and deletes). Lists the versions of your "
    "bank's own configuration and of the `default` one while it prices your quotes; page with "
    "`after` = last `sequence`.",
)
async def get_policy_audit(
    bank: AnyBank,
    c: ContainerDep,
    after: Annotated[int, Query(ge=0, le=2**63 - 1, description="the last `sequence` you saw")] = 0,
    limit: Annotated[int, Query(ge=1, le=200)] = 100,
) -> Any:
    items = await list_policy_audit(bank, c.policy_documents, c.uow(), after=after, limit=limit)
    return FastJSON({"items": items})
