"""RFC 9457 problem details (``application/problem+json``) for every error a service returns."""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field
from starlette.exceptions import HTTPException as StarletteHTTPException

PROBLEM_JSON = "application/problem+json"
TYPE_BASE = "https://carbon-bureau.example/problems/"


class FieldError(BaseModel):
    """One thing wrong with one field of one record."""

    record: str | None = Field(
        None, description="record id (batch validation) or null for the request itself"
    )
    field: str = Field(description="dotted path of the field")
    reason: str = Field(description="what is wrong, for a person")
    value: Any | None = None


class Problem(BaseModel):
    type: str = Field(TYPE_BASE + "about-blank", description="URI identifying the problem type")
    title: str
    status: int
    detail: str | None = None
    instance: str | None = None
    errors: list[FieldError] = Field(default_factory=list)


class ProblemError(Exception):
    """Raise from a route (or a service-layer error mapped by one) to answer with a problem."""

    def __init__(
        self,
        status: int,
        title: str,
        detail: str | None = None,
        *,
        slug: str | None = None,
        errors: list[FieldError] | None = None,
    ) -> None:
        super().__init__(detail or title)
        self.problem = Problem(
            type=TYPE_BASE + (slug or title.lower().replace(" ", "-")),
            title=title,
            status=status,
            detail=detail,
            errors=errors or [],
        )


def problem_response(problem: Problem, request: Request | None = None) -> JSONResponse:
    if request is not None and problem.instance is None:
        problem = problem.model_copy(update={"instance": request.url.path})
    return JSONResponse(
        problem.model_dump(mode="json", exclude_none=True), problem.status, media_type=PROBLEM_JSON
    )


#: for route ``responses=`` so the OpenAPI documents the error shape
PROBLEM_RESPONSES: dict[int | str, dict[str, Any]] = {
    400: {"model": Problem, "description": "Bad request", "content": {PROBLEM_JSON: {}}},
    404: {"model": Problem, "description": "Not found", "content": {PROBLEM_JSON: {}}},
    409: {"model": Problem, "description": "Conflict", "content": {PROBLEM_JSON: {}}},
    422: {
        "model": Problem,
        "description": "Validation failed: `errors` names each field",
        "content": {PROBLEM_JSON: {}},
    },
}


def install_problem_handlers(app: FastAPI) -> None:
    async def _problem(request: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, ProblemError)
        return problem_response(exc.problem, request)

    async def _validation(request: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, RequestValidationError)
        errors = []
        for e in exc.errors():
            loc = [str(p) for p in e.get("loc", ()) if p not in ("body", "query", "path")]
            errors.append(
                FieldError(
                    field=".".join(loc) or "body", reason=str(e.get("msg")), value=_safe(e.get("input"))
                )
            )
        return problem_response(
            Problem(
                type=TYPE_BASE + "validation",
                title="Request validation failed",
                status=422,
                detail=f"{len(errors)} field(s) invalid",
                errors=errors,
            ),
            request,
        )

    async def _http(request: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, StarletteHTTPException)
        return problem_response(
            Problem(title=str(exc.detail), status=exc.status_code, type=TYPE_BASE + str(exc.status_code)),
            request,
        )

    app.add_exception_handler(ProblemError, _problem)
    app.add_exception_handler(RequestValidationError, _validation)
    app.add_exception_handler(StarletteHTTPException, _http)


def _safe(value: Any) -> Any:
    if isinstance(value, str | int | float | bool) or value is None:
        return value if not isinstance(value, str) else value[:200]
    return None
