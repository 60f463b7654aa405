"""Methodology administration: put a version in force (recorded with who and when) and read the
append-only audit trail of every change (service_layer.methodology_admin)."""

from __future__ import annotations

import time
from datetime import UTC, datetime
from decimal import Decimal
from typing import Annotated

from fastapi import APIRouter, Depends, Query

from carbon_common.auth import Principal, require
from carbon_common.problems import PROBLEM_RESPONSES, FieldError, ProblemError
from carbon_rating.bootstrap import Container
from carbon_rating.domain.methodology import MethodologyError
from carbon_rating.entrypoints.deps import container
from carbon_rating.entrypoints.schemas import (
    ActivateMethodologyIn,
    ActivationOut,
    MethodologyChangeOut,
    MethodologyChangesOut,
    RerateOut,
)
from carbon_rating.service_layer import methodology_admin as madmin
from carbon_rating.service_layer.handlers import rerate_all
from carbon_rating.service_layer.ports import MethodologyChange

router = APIRouter(prefix="/v1/admin/methodology", tags=["methodology"])
Admin = Annotated[Principal, Depends(require("methodology:admin"))]


def change_out(c: MethodologyChange) -> MethodologyChangeOut:
    return MethodologyChangeOut(
        id=c.id or 0,
        changed_at=c.changed_at,
        actor=c.actor,
        actor_org=c.actor_org,
        source=c.source,  # type: ignore[arg-type]
        from_version=c.from_version,
        from_digest=c.from_digest,
        to_version=c.to_version,
        to_digest=c.to_digest,
        reason=c.reason,
    )


@router.put(
    "",
    response_model=ActivationOut,
    summary="Put a methodology version in force (recorded: who, when, from → to, file digests)",
    description="Loads and validates the version's file (422 naming the field when it does not "
    "validate, or when no such version is shipped), records the change in the append-only audit "
    "trail with the token's subject and organisation, and rates new inputs under it from now on; "
    "other replicas follow within `RATING_METHODOLOGY_REFRESH_SECONDS`. `rerate: true` also re-rates "
    "every enterprise now (as `POST /v1/admin/rerate?reason=methodology_change`). 409 when that "
    "version (same file) is already in force.",
    responses=PROBLEM_RESPONSES,
)
async def put_methodology(
    body: ActivateMethodologyIn, c: Annotated[Container, Depends(container)], who: Admin
) -> ActivationOut:
    actor = who.subject if who.authenticated else (who.acting_org or "development")
    try:
        change = await c.activate(body.version, actor, who.acting_org, body.reason)
    except MethodologyError as exc:
        raise ProblemError(
            422,
            "Methodology refused",
            f"methodology {body.version!r} cannot be put in force: {exc}",
            slug="methodology-invalid",
            errors=[FieldError(field=exc.field, reason=exc.reason)],
        ) from exc
    except madmin.AlreadyInForce as exc:
        raise ProblemError(409, "Already in force", str(exc), slug="methodology-in-force") from exc
    out = ActivationOut(change=change_out(change))
    if body.rerate:
        started = time.perf_counter()
        considered, issued = await rerate_all(c.uow, c.methodology, "methodology_change", datetime.now(UTC))
        out.rerate = RerateOut(
            methodology_version=c.methodology.version,
            enterprises_considered=considered,
            ratings_issued=issued,
            seconds=Decimal(str(round(time.perf_counter() - started, 3))),
        )
    return out


@router.get(
    "/changes",
    response_model=MethodologyChangesOut,
    summary="The audit trail of methodology changes (newest first)",
    description="Every change of the methodology in force: start-ups under a changed deployment "
    "setting or file (`configuration`) and activations over this API (`admin_api`), with who, when, "
    "from → to version and the sha256 of each file. The table refuses updates and deletes.",
    responses=PROBLEM_RESPONSES,
    dependencies=[Depends(require("methodology:admin", "audit:read"))],
)
async def get_changes(
    c: Annotated[Container, Depends(container)],
    limit: Annotated[int, Query(ge=1, le=200, description="page size (hard maximum 200)")] = 50,
) -> MethodologyChangesOut:
    async with c.uow() as uow:
        rows = await madmin.changes(uow, limit)
    return MethodologyChangesOut(in_force=c.methodology.version, changes=[change_out(r) for r in rows])
