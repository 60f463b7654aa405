"""Route dependencies: the container the app was built with (set in the lifespan or by the host)."""

from __future__ import annotations

from fastapi import Request

from carbon_accounting.bootstrap import Container


def get_container(request: Request) -> Container:
    container: Container | None = getattr(request.app.state, "container", None)
    if container is None:  # only between process start and the end of the lifespan start-up
        from carbon_common.problems import ProblemError

        raise ProblemError(503, "Service starting", "the accounting container is not ready yet")
    return container
