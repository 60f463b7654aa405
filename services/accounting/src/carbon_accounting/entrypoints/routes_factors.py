"""``/v1/emission-factors`` (alias ``/v1/factors``) and ``/v1/factor-sets``: the versioned emission factor library.

Publishing a version stores it (immutable); activating it restates every enterprise-month whose
figures change and emits ``AccountUpdated`` with ``calculation_version`` + 1 for each. Both are
recorded with who (the token's subject and organisation) and when in the append-only audit trail,
``GET /v1/factor-sets/changes`` (service_layer.factor_audit).
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated

from fastapi import APIRouter, Depends, Query

from carbon_accounting.bootstrap import Container
from carbon_accounting.domain.factors import FactorSet
from carbon_accounting.entrypoints.deps import get_container
from carbon_accounting.entrypoints.schemas import (
    ActivateIn,
    FactorOut,
    FactorSetChangeOut,
    FactorSetChangesOut,
    FactorSetIn,
    FactorSetSummary,
    FactorsOut,
    RestatementOut,
)
from carbon_accounting.service_layer import factor_audit, handlers
from carbon_accounting.service_layer.commands import ActivateFactorSet, ChangedBy, PublishFactorSet
from carbon_accounting.service_layer.factor_sets import FactorSetNotFound
from carbon_accounting.service_layer.ports import FactorSetChange
from carbon_common.auth import Principal, require
from carbon_common.problems import PROBLEM_RESPONSES, ProblemError

router = APIRouter(tags=["emission factors"])
Dep = Annotated[Container, Depends(get_container)]
Admin = Annotated[Principal, Depends(require("factors:admin"))]
#: PostgreSQL bigint: a larger ``before`` is refused (422), never a 500
MAX_ID = 2**63 - 1


def changed_by(who: Principal, reason: str | None) -> ChangedBy:
    """The actor to record: the token's subject (development without auth: the ``X-Org`` caller)."""
    actor = who.subject if who.authenticated else (who.acting_org or "development")
    return ChangedBy(actor, who.acting_org, datetime.now(UTC), reason)


def change_out(c: FactorSetChange) -> FactorSetChangeOut:
    previous = None if c.previous_set_id is None else f"{c.previous_set_id}@{c.previous_version}"
    return FactorSetChangeOut(
        id=c.id or 0,
        changed_at=c.changed_at,
        actor=c.actor,
        actor_org=c.actor_org,
        action=c.action,  # type: ignore[arg-type]
        factor_set=f"{c.set_id}@{c.version}",
        set_id=c.set_id,
        version=c.version,
        digest=c.digest,
        previous_factor_set=previous,
        reason=c.reason,
    )


@router.get(
    "/v1/emission-factors",
    summary="Emission factors of the active (or a named) factor set",
    description=(
        "Every factor with its value, unit, source citation, data year (grid) and validity years. "
        "`verified=false` marks factors whose official text was not found (e.g. the ETS reporting "
        "grid factor 0.5703). Fuels also list NCV × carbon content × oxidation, the parameters the "
        "published factor derives from."
    ),
    response_model=FactorsOut,
    responses=PROBLEM_RESPONSES,
    dependencies=[Depends(require())],
)
@router.get(
    "/v1/factors",
    summary="Emission factors (the same as `/v1/emission-factors`, kept for existing callers)",
    response_model=FactorsOut,
    responses=PROBLEM_RESPONSES,
    dependencies=[Depends(require())],
)
async def list_factors(
    container: Dep,
    factor_set: Annotated[
        str | None, Query(description="id@version; default: the active set", examples=["cn-default@1"])
    ] = None,
) -> FactorsOut:
    async with container.uow() as uow:
        try:
            if factor_set:
                set_id, _, version = factor_set.partition("@")
                fs = await container.factor_sets.get(uow.repo, set_id, version)
            else:
                fs = await container.factor_sets.active(uow.repo)
        except FactorSetNotFound as exc:
            raise ProblemError(404, "Factor set not found", str(exc)) from exc
    return FactorsOut(
        factor_set=fs.ref,
        title=fs.title,
        factors=[FactorOut.model_validate(f.to_dict()) for f in fs.factors],
    )


@router.get(
    "/v1/factor-sets",
    summary="Stored factor-set versions and which one is active",
    response_model=list[FactorSetSummary],
    dependencies=[Depends(require())],
)
async def list_factor_sets(container: Dep) -> list[FactorSetSummary]:
    async with container.uow() as uow:
        rows = await uow.repo.factor_sets()
    return [FactorSetSummary(id=i, version=v, ref=f"{i}@{v}", title=t, active=a) for i, v, a, t in rows]


@router.post(
    "/v1/factor-sets",
    status_code=201,
    summary="Publish a new factor-set version (stored, not yet active)",
    description=(
        "Versions are immutable: publishing an existing id@version answers 409 (and records "
        "nothing). A stored version is recorded in the audit trail with the token's subject and "
        "organisation, the time, the sha256 of its content and the optional `reason`."
    ),
    response_model=FactorSetSummary,
    responses=PROBLEM_RESPONSES,
)
async def publish_factor_set(body: FactorSetIn, container: Dep, who: Admin) -> FactorSetSummary:
    fs = FactorSet.from_dict(body.as_dict())
    async with container.uow() as uow:
        created = await handlers.publish_factor_set(uow, PublishFactorSet(fs, changed_by(who, body.reason)))
        if not created:
            raise ProblemError(409, "Factor set exists", f"{fs.ref} is already stored; publish a new version")
        await uow.commit()
    return FactorSetSummary(id=fs.id, version=fs.version, ref=fs.ref, title=fs.title, active=False)


@router.post(
    "/v1/factor-sets/{set_id}/activate",
    summary="Activate a factor-set version and restate the accounts it changes",
    description=(
        "Every enterprise-month is recomputed with the new version in one transaction; those whose "
        "figures change are stored with `calculation_version` + 1 and published as `AccountUpdated`. "
        "The activation is recorded (who, when, the set it replaced, content sha256) in the same "
        "transaction; re-activating the active set is recorded too (it restates nothing)."
    ),
    response_model=RestatementOut,
    responses=PROBLEM_RESPONSES,
)
async def activate_factor_set(set_id: str, body: ActivateIn, container: Dep, who: Admin) -> RestatementOut:
    async with container.uow() as uow:
        try:
            outcome = await handlers.activate_factor_set(
                uow,
                ActivateFactorSet(set_id, body.version, changed_by(who, body.reason)),
                container.factor_sets,
                container.settings.verification_tolerance,
            )
        except FactorSetNotFound as exc:
            raise ProblemError(404, "Factor set not found", str(exc)) from exc
        await uow.commit()
    return RestatementOut(
        factor_set=f"{set_id}@{body.version}", recomputed=outcome.recomputed, restated=outcome.restated
    )


@router.get(
    "/v1/factor-sets/changes",
    summary="The audit trail of factor-set changes (newest first)",
    description=(
        "Every publication (`published`), activation (`activated`, with the set it replaced) and "
        "start-up seeding of the packaged set (`seeded`), with who (token subject and organisation; "
        "the deployment for start-up changes), when, the sha256 of the set's canonical content and "
        "the reason given. The table refuses updates, deletes and truncation. Page with `before` "
        "(the `next_before` of the previous page)."
    ),
    response_model=FactorSetChangesOut,
    responses=PROBLEM_RESPONSES,
    dependencies=[Depends(require("factors:admin", "audit:read"))],
)
async def list_factor_set_changes(
    container: Dep,
    limit: Annotated[
        int, Query(ge=1, le=factor_audit.MAX_PAGE, description="page size (hard maximum 200)")
    ] = 50,
    before: Annotated[
        int | None, Query(ge=1, le=MAX_ID, description="only entries with a smaller id (next page)")
    ] = None,
) -> FactorSetChangesOut:
    async with container.uow() as uow:
        rows = await factor_audit.changes(uow, limit, before)
        active = await uow.repo.active_factor_set_ref()
    return FactorSetChangesOut(
        active=None if active is None else f"{active[0]}@{active[1]}",
        changes=[change_out(r) for r in rows],
        next_before=rows[-1].id if len(rows) == limit else None,
    )
