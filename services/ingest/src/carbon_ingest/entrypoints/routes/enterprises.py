"""Directory endpoints (名录库): register, update, read, list."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Path, Query, Response, status

from carbon_common.auth import require, require_own_or
from carbon_common.problems import PROBLEM_RESPONSES, FieldError, ProblemError
from carbon_ingest.domain.enterprise import Change, DirectoryError, Enterprise
from carbon_ingest.entrypoints.deps import ContainerDep
from carbon_ingest.entrypoints.schemas import (
    EnterpriseIn,
    EnterpriseOut,
    EnterprisePage,
    EnterpriseUpdateIn,
    EnterpriseWrite,
)
from carbon_ingest.service_layer import queries
from carbon_ingest.service_layer.commands import RegisterEnterprise
from carbon_ingest.service_layer.enterprises import register_enterprise
from carbon_ingest.service_layer.errors import NotFoundError

router = APIRouter(prefix="/v1/enterprises", tags=["directory"])
CreditCode = Annotated[str, Path(description="18-character unified social credit code")]


def _out(e: Enterprise) -> EnterpriseOut:
    return EnterpriseOut(**{k: getattr(e, k) for k in EnterpriseOut.model_fields})


def _invalid(exc: DirectoryError) -> ProblemError:
    return ProblemError(
        422,
        "Invalid enterprise",
        str(exc),
        slug="validation",
        errors=[FieldError(field=exc.field, reason=exc.reason)],
    )


async def _register(
    container: ContainerDep, body: EnterpriseIn, code: str, must_exist: bool
) -> EnterpriseWrite:
    cmd = RegisterEnterprise(**{**body.model_dump(), "credit_code": code, "must_exist": must_exist})
    try:
        change, saved = await register_enterprise(cmd, container.uow())
    except DirectoryError as exc:
        raise _invalid(exc) from exc
    except NotFoundError as exc:
        raise ProblemError(404, "Enterprise not found", str(exc), slug="not-found") from exc
    return EnterpriseWrite(**_out(saved).model_dump(), change=change.value)


@router.post(
    "",
    summary="Register an enterprise (or update it when the content differs)",
    description="Validates the credit code with its check character (GB 32100-2015), the region "
    "(GB/T 2260) and industry (GB/T 4754-2017) codes. A new enterprise emits `EnterpriseRegistered` "
    "(201); different content for a known one emits `EnterpriseUpdated` with revision + 1 (200); "
    "the same content again changes nothing (200, `change: unchanged`).",
    response_model=EnterpriseWrite,
    status_code=status.HTTP_201_CREATED,
    responses={
        200: {"model": EnterpriseWrite, "description": "Already registered: updated or unchanged"},
        **PROBLEM_RESPONSES,
    },
    dependencies=[Depends(require("enterprises:write"))],
)
async def register(body: EnterpriseIn, container: ContainerDep, response: Response) -> EnterpriseWrite:
    out = await _register(container, body, body.credit_code, must_exist=False)
    if out.change != Change.REGISTERED.value:
        response.status_code = status.HTTP_200_OK
    return out


@router.put(
    "/{credit_code}",
    summary="Update a registered enterprise",
    description="Full replacement of the directory entry; emits `EnterpriseUpdated` (revision + 1) "
    "when anything changed. 404 when the enterprise is not registered.",
    response_model=EnterpriseWrite,
    responses=PROBLEM_RESPONSES,
    dependencies=[Depends(require("enterprises:write"))],
)
async def update(
    credit_code: CreditCode, body: EnterpriseUpdateIn, container: ContainerDep
) -> EnterpriseWrite:
    if body.credit_code is not None and body.credit_code != credit_code:
        raise ProblemError(
            422,
            "Credit code mismatch",
            "the body's credit_code differs from the path",
            slug="validation",
            errors=[FieldError(field="credit_code", reason="must equal the credit code in the path")],
        )
    return await _register(
        container, EnterpriseIn(**{**body.model_dump(), "credit_code": credit_code}), credit_code, True
    )


@router.get(
    "/{credit_code}",
    summary="Read one enterprise",
    response_model=EnterpriseOut,
    responses=PROBLEM_RESPONSES,
    dependencies=[Depends(require_own_or("enterprises:read", "enterprises:write"))],
)
async def get(credit_code: CreditCode, container: ContainerDep) -> EnterpriseOut:
    try:
        return _out(await queries.get_enterprise(container.uow(), credit_code.strip().upper()))
    except NotFoundError as exc:
        raise ProblemError(404, "Enterprise not found", str(exc), slug="not-found") from exc


@router.get(
    "",
    summary="List enterprises, filtered by region and industry",
    description="Ordered by credit code. `industry` matches a GB/T 4754 prefix (e.g. `31` = all of "
    "division 31). `page_size` has a hard maximum.",
    response_model=EnterprisePage,
    responses=PROBLEM_RESPONSES,
    dependencies=[Depends(require("enterprises:read", "enterprises:write"))],
)
async def list_(
    container: ContainerDep,
    region: Annotated[str | None, Query(description="GB/T 2260 code, e.g. 140400")] = None,
    industry: Annotated[str | None, Query(description="GB/T 4754 code or prefix, e.g. 3120")] = None,
    page: Annotated[int, Query(ge=1)] = 1,
    page_size: Annotated[int, Query(ge=1, description="at most 500")] = 100,
) -> EnterprisePage:
    size = min(page_size, container.settings.max_page_size)
    items, total = await queries.list_enterprises(container.uow(), region, industry, page, size)
    return EnterprisePage(items=[_out(e) for e in items], page=page, page_size=size, total=total)
