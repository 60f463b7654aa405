"""``/v1/emission-factors`` (alias ``/v1/factors``) and ``/v1/factor-sets``: the versioned emission factor library.

Publishing a version stores it (immutable); activating it restates every enterprise-month whose
figures change and emits ``AccountUpdated`` with ``calculation_version`` + 1 for each.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Query

from carbon_accounting.bootstrap import Container
from carbon_accounting.domain.factors import FactorSet
from carbon_accounting.entrypoints.deps import get_container
from carbon_accounting.entrypoints.schemas import (
    ActivateIn,
    FactorOut,
    FactorSetIn,
    FactorSetSummary,
    FactorsOut,
    RestatementOut,
)
from carbon_accounting.service_layer import handlers
from carbon_accounting.service_layer.commands import ActivateFactorSet, PublishFactorSet
from carbon_accounting.service_layer.factor_sets import FactorSetNotFound
from carbon_common.auth import require
from carbon_common.problems import PROBLEM_RESPONSES, ProblemError

router = APIRouter(tags=["emission factors"])
Dep = Annotated[Container, Depends(get_container)]


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
    description="Versions are immutable: publishing an existing id@version answers 409.",
    response_model=FactorSetSummary,
    responses=PROBLEM_RESPONSES,
    dependencies=[Depends(require("factors:admin"))],
)
async def publish_factor_set(body: FactorSetIn, container: Dep) -> FactorSetSummary:
    fs = FactorSet.from_dict(body.as_dict())
    async with container.uow() as uow:
        created = await handlers.publish_factor_set(uow, PublishFactorSet(fs))
        if not created:
            raise ProblemError(409, "Factor set exists", f"{fs.ref} is already stored; publish a new version")
        await uow.commit()
    return FactorSetSummary(id=fs.id, version=fs.version, ref=fs.ref, title=fs.title, active=False)


@router.post(
    "/v1/factor-sets/{set_id}/activate",
    summary="Activate a factor-set version and restate the accounts it changes",
    description=(
        "Every enterprise-month is recomputed with the new version in one transaction; those whose "
        "figures change are stored with `calculation_version` + 1 and published as `AccountUpdated`."
    ),
    response_model=RestatementOut,
    responses=PROBLEM_RESPONSES,
    dependencies=[Depends(require("factors:admin"))],
)
async def activate_factor_set(set_id: str, body: ActivateIn, container: Dep) -> RestatementOut:
    async with container.uow() as uow:
        try:
            outcome = await handlers.activate_factor_set(
                uow,
                ActivateFactorSet(set_id, body.version),
                container.factor_sets,
                container.settings.verification_tolerance,
            )
        except FactorSetNotFound as exc:
            raise ProblemError(404, "Factor set not found", str(exc)) from exc
        await uow.commit()
    return RestatementOut(
        factor_set=f"{set_id}@{body.version}", recomputed=outcome.recomputed, restated=outcome.restated
    )
