"""Objections (异议复核): the enterprise files, a reviewer decides within the SLA."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated

from fastapi import APIRouter, Depends, Query

from carbon_common.auth import Principal, check_own, require
from carbon_common.problems import PROBLEM_RESPONSES, ProblemError
from carbon_rating.bootstrap import Container
from carbon_rating.domain import objections as obj
from carbon_rating.entrypoints.deps import container, not_found
from carbon_rating.entrypoints.routes_ratings import CreditCode
from carbon_rating.entrypoints.schemas import DecisionIn, ObjectionBody, ObjectionIn, ObjectionOut
from carbon_rating.entrypoints.views import objection_out
from carbon_rating.service_layer.commands import DecideObjection, FileObjection
from carbon_rating.service_layer.handlers import Conflict, NotFound, decide_objection, file_objection

router = APIRouter(prefix="/v1", tags=["objections"])
#: the enterprise files for itself only
Filer = Annotated[Principal, Depends(require("objections:write"))]
#: reviewers see every objection; an enterprise sees its own
Viewer = Annotated[Principal, Depends(require("objections:review", "objections:write", "self:read"))]
Reviewer = Annotated[Principal, Depends(require("objections:review"))]


async def _file(c: Container, code: str, body: ObjectionBody | ObjectionIn, who: Principal) -> ObjectionOut:
    check_own(who, code, "enterprise")
    now = datetime.now(UTC)
    cmd = FileObjection(code, who.acting_org or code, body.reason, now, tuple(body.evidence))
    try:
        async with c.uow() as uow:
            o = await file_objection(cmd, uow, c.settings.objection_sla_working_days)
            await uow.commit()
    except NotFound as exc:
        raise not_found(exc) from exc
    return objection_out(o, now)


@router.post(
    "/objections",
    status_code=201,
    response_model=ObjectionOut,
    summary="File an objection against an enterprise's current rating",
    description="The answer is due within the SLA (default 20 working days, per 征信业管理条例). While it is "
    "open, the rating shows `open_objections`.",
    responses=PROBLEM_RESPONSES,
)
async def post_objection(
    body: ObjectionIn, c: Annotated[Container, Depends(container)], who: Filer
) -> ObjectionOut:
    return await _file(c, body.credit_code, body, who)


@router.post(
    "/ratings/{credit_code}/objections",
    status_code=201,
    response_model=ObjectionOut,
    summary="File an objection (credit code in the path)",
    responses=PROBLEM_RESPONSES,
)
async def post_rating_objection(
    credit_code: CreditCode,
    body: ObjectionBody,
    c: Annotated[Container, Depends(container)],
    who: Filer,
) -> ObjectionOut:
    return await _file(c, credit_code, body, who)


@router.get(
    "/objections",
    response_model=list[ObjectionOut],
    summary="List objections (filter by enterprise, status, or overdue only)",
    description="Reviewers (`objections:review`) list all; an enterprise lists only its own. Oldest "
    "filed first (the SLA clock runs from filing); paged with `offset` and `limit` (hard maximum 200).",
    responses=PROBLEM_RESPONSES,
)
async def list_objections(
    c: Annotated[Container, Depends(container)],
    who: Viewer,
    credit_code: Annotated[str | None, Query(min_length=18, max_length=18)] = None,
    status: Annotated[
        str | None, Query(pattern="^(open|in_review|upheld|revised|rejected|withdrawn)$")
    ] = None,
    overdue: bool = False,
    offset: Annotated[int, Query(ge=0, le=1_000_000, description="objections to skip")] = 0,
    limit: Annotated[int, Query(ge=1, le=200, description="page size (hard maximum 200)")] = 100,
) -> list[ObjectionOut]:
    now = datetime.now(UTC)
    if not who.has("objections:review"):
        if credit_code is not None:
            check_own(who, credit_code, "enterprise")
        credit_code = who.org
    async with c.uow() as uow:
        rows = await uow.repo.objections(credit_code, [status] if status else None)
    out = [objection_out(o, now) for o in rows]
    if overdue:
        out = [o for o in out if o.overdue]
    return out[offset : offset + limit]


@router.get(
    "/objections/{objection_id}",
    response_model=ObjectionOut,
    summary="One objection",
    responses=PROBLEM_RESPONSES,
)
async def get_objection(
    objection_id: str, c: Annotated[Container, Depends(container)], who: Viewer
) -> ObjectionOut:
    async with c.uow() as uow:
        o = await uow.repo.get_objection(objection_id)
    if o is None or not (who.has("objections:review") or who.owns(o.credit_code)):
        raise ProblemError(404, "Not found", f"no objection {objection_id}", slug="not-found")
    return objection_out(o, datetime.now(UTC))


@router.post(
    "/objections/{objection_id}/decision",
    response_model=ObjectionOut,
    summary="Decide (or move) an objection",
    description="`upheld` confirms the rating; `revised` issues a new rating marked as a revision (give "
    "`revised_score`); `rejected` closes it as unfounded; `in_review` and `withdrawn` move it. A decided "
    "objection is final: any further decision is refused with 409.",
    responses=PROBLEM_RESPONSES,
)
async def post_decision(
    objection_id: str, body: DecisionIn, c: Annotated[Container, Depends(container)], who: Reviewer
) -> ObjectionOut:
    now = datetime.now(UTC)
    reviewer = who.subject if who.authenticated else (who.acting_org or "reviewer")
    cmd = DecideObjection(objection_id, body.outcome, body.reason, reviewer, now, body.revised_score)
    try:
        async with c.uow() as uow:
            o = await decide_objection(cmd, uow, c.methodology)
            await uow.commit()
    except NotFound as exc:
        raise not_found(exc) from exc
    except obj.IllegalTransition as exc:
        raise ProblemError(
            409, "Illegal objection transition", str(exc), slug="objection-transition"
        ) from exc
    except Conflict as exc:
        raise ProblemError(422, "Decision incomplete", str(exc), slug="decision-incomplete") from exc
    return objection_out(o, now)
