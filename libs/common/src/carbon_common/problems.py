"""RFC 9457 problem details (``application/problem+json``) for every error a service returns."""

from __future__ import annotations

import logging
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field
from sqlalchemy.exc import StatementError
from starlette.exceptions import HTTPException as StarletteHTTPException

_log = logging.getLogger(__name__)

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

    async def _unhandled(request: Request, exc: Exception) -> JSONResponse:
        # the body names no exception, message or stack frame (they may carry SQL, a DSN or a
        # secret); the server logs the traceback (Starlette re-raises after this answer)
        return problem_response(
            Problem(
                type=TYPE_BASE + "internal",
                title="Internal Server Error",
                status=500,
                detail="an unexpected error; it has been logged",
            ),
            request,
        )

    async def _storage(request: Request, exc: Exception) -> JSONResponse:
        # input PostgreSQL cannot hold (text with U+0000 or a lone surrogate, an integer beyond
        # int64, a numeric overflow) is the client's error, found late: a 422, not a 500
        if _unstorable_input(exc):
            return problem_response(
                Problem(
                    type=TYPE_BASE + "validation",
                    title="Request validation failed",
                    status=422,
                    detail="a value cannot be stored: text with a NUL character or an unpaired "
                    "surrogate, or a number out of range",
                ),
                request,
            )
        _log.error("unhandled error in %s %s", request.method, request.url.path, exc_info=exc)
        return await _unhandled(request, exc)

    app.add_exception_handler(ProblemError, _problem)
    app.add_exception_handler(RequestValidationError, _validation)
    app.add_exception_handler(StarletteHTTPException, _http)
    app.add_exception_handler(StatementError, _storage)
    app.add_exception_handler(UnicodeEncodeError, _storage)
    app.add_exception_handler(Exception, _unhandled)


#: asyncpg's names for the database refusing a value (no import: carbon_common does not need asyncpg)
_UNSTORABLE = ("CharacterNotInRepertoireError", "UntranslatableCharacterError", "NumericValueOutOfRangeError")


def _unstorable_input(exc: BaseException) -> bool:
    """Whether a value the driver or the database cannot hold is behind ``exc``: text that does
    not encode, an integer parameter beyond int64 (``OverflowError`` in the driver), a numeric
    overflow in PostgreSQL."""
    todo: list[BaseException | None] = [exc]
    for _ in range(20):
        if not todo:
            break
        e = todo.pop()
        if e is None:
            continue
        if (
            (isinstance(e, UnicodeEncodeError) and "surrogate" in e.reason)
            or isinstance(e, OverflowError)
            or type(e).__name__ in _UNSTORABLE
        ):
            return True
        orig = getattr(e, "orig", None)
        todo += [e.__cause__, e.__context__, orig if isinstance(orig, BaseException) else None]
    return False


_ERROR_SCHEMAS = ("#/components/schemas/Problem", "#/components/schemas/HTTPValidationError")


def document_problems(app: FastAPI) -> None:
    """Make the OpenAPI schema say what the handlers answer: every error response documented as
    ``application/problem+json`` with the ``Problem`` schema (FastAPI's default 422 says
    ``application/json`` ``HTTPValidationError``, and ``PROBLEM_RESPONSES`` put the schema under
    ``application/json``), so clients and contract tests validate the real error bodies."""
    original = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is not None:
            return app.openapi_schema
        schema = original()
        add_problem_schema(schema)
        for item in schema.get("paths", {}).values():
            for op in item.values():
                if not isinstance(op, dict):
                    continue  # path-level "parameters" or "$ref"
                for code, response in (op.get("responses") or {}).items():
                    content = response.get("content") or {}
                    ref = content.get("application/json", {}).get("schema", {}).get("$ref")
                    if not str(code).startswith(("4", "5")) or (PROBLEM_JSON not in content and ref is None):
                        continue
                    if ref is not None and ref not in _ERROR_SCHEMAS:
                        continue  # a route's own error body: leave it as documented
                    response["content"] = {PROBLEM_JSON: {"schema": {"$ref": "#/components/schemas/Problem"}}}
                    if response.get("description") == "Validation Error":
                        response["description"] = "Validation failed: `errors` names each field"
        app.openapi_schema = schema
        return schema

    setattr(app, "openapi", openapi)  # noqa: B010 - FastAPI's documented way to customise the schema


def _safe(value: Any) -> Any:
    if isinstance(value, str | int | float | bool) or value is None:
        return value if not isinstance(value, str) else value[:200]
    return None


def add_problem_schema(schema: dict[str, Any]) -> None:
    """Put the ``Problem`` schema (and the models it refers to) into an OpenAPI document's
    components, once."""
    components = schema.setdefault("components", {}).setdefault("schemas", {})
    if "Problem" not in components:
        problem = Problem.model_json_schema(ref_template="#/components/schemas/{model}")
        components.update(problem.pop("$defs", {}))
        components["Problem"] = problem
