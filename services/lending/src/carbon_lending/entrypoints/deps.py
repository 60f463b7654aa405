"""Request dependencies: the container, the calling bank (the token's ``org``, holding the
route's scope), and domain errors as problems.

Dependencies are ``async def``: FastAPI runs a plain ``def`` dependency in a thread pool, and
that hop (twice per request) was a visible share of the quote path's latency.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import Depends, FastAPI, Request
from fastapi.responses import JSONResponse

from carbon_common.auth import Principal, require
from carbon_common.problems import TYPE_BASE, FieldError, Problem, ProblemError, problem_response
from carbon_lending.bootstrap import Container
from carbon_lending.domain.errors import LendingError


async def get_container(request: Request) -> Container:
    container: Container = request.app.state.container
    return container


def bank(*scopes: str) -> Any:
    """A dependency: the calling bank's id, from the token's ``org`` (never from the body),
    holding any of ``scopes``. With auth disabled (development) it is the ``X-Org`` header."""

    async def bank_id(principal: Principal = Depends(require(*scopes))) -> str:
        if principal.anonymous:
            raise ProblemError(
                401, "Bank identity missing", "send the X-Org header with your bank id", slug="no-identity"
            )
        org: str = principal.org
        return org

    return bank_id


ContainerDep = Annotated[Container, Depends(get_container)]
QuotingBank = Annotated[str, Depends(bank("quotes:write"))]
LendingBank = Annotated[str, Depends(bank("loans:write"))]
PortfolioBank = Annotated[str, Depends(bank("portfolio:read"))]
AnyBank = Annotated[str, Depends(bank("quotes:write", "loans:write", "portfolio:read"))]
MarketFeed = Annotated[str, Depends(bank("market:write"))]


def install_domain_errors(app: FastAPI) -> None:
    async def _handler(request: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, LendingError)
        titles = {404: "Not found", 409: "Conflict", 422: "Request refused by the product rules"}
        response: JSONResponse = problem_response(
            Problem(
                type=TYPE_BASE + exc.slug,
                title=titles.get(exc.status, "Lending error"),
                status=exc.status,
                detail=exc.reason,
                errors=[FieldError(field=exc.field, reason=exc.reason)],
            ),
            request,
        )
        return response

    app.add_exception_handler(LendingError, _handler)
