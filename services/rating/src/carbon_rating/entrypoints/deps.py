"""Request-scoped access to the container (built by the lifespan or passed in by the host)."""

from __future__ import annotations

from fastapi import Request

from carbon_common.problems import ProblemError
from carbon_rating.bootstrap import Container
from carbon_rating.service_layer.handlers import NotFound


def container(request: Request) -> Container:
    c: Container | None = request.app.state.container
    if c is None:
        raise ProblemError(503, "Service starting", "the rating service is not started yet", slug="starting")
    return c


def not_found(exc: NotFound) -> ProblemError:
    return ProblemError(404, "Not found", str(exc), slug="not-found")
