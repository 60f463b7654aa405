"""Request dependencies: the container, the calling bank, and domain errors as problems."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, FastAPI, Header, Request
from fastapi.responses import JSONResponse

from carbon_common.problems import TYPE_BASE, FieldError, Problem, ProblemError, problem_response
from carbon_lending.bootstrap import Container
from carbon_lending.domain.errors import LendingError


def get_container(request: Request) -> Container:
    container: Container = request.app.state.container
    return container


def bank_id(
    x_org: Annotated[
        str | None,
        Header(
            alias="X-Org",
            description="Calling bank's id. Interim: taken from this header until bearer-token auth "
            "sets it from the token's `org` claim; never from the body.",
            examples=["bank-jincheng"],
        ),
    ] = None,
) -> str:
    if not x_org or not x_org.strip():
        raise ProblemError(
            401, "Bank identity missing", "send the X-Org header with your bank id", slug="no-identity"
        )
    return x_org.strip()


ContainerDep = Annotated[Container, Depends(get_container)]
BankDep = Annotated[str, Depends(bank_id)]


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
