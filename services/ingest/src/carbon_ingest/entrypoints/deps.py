"""FastAPI dependencies: the container the app was built with (set in ``create_app``/lifespan)."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request

from carbon_ingest.bootstrap import Container


def _container(request: Request) -> Container:
    container: Container = request.app.state.container
    return container


ContainerDep = Annotated[Container, Depends(_container)]
