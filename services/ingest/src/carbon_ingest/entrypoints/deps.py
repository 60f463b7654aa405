"""FastAPI dependencies: the container the app was built with (set in ``create_app``/lifespan)."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request

from carbon_ingest.bootstrap import Container


async def _container(request: Request) -> Container:
    # async: FastAPI runs a plain ``def`` dependency in a worker thread, a thread hop per request
    container: Container = request.app.state.container
    return container


ContainerDep = Annotated[Container, Depends(_container)]
