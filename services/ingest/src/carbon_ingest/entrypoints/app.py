"""The ingest HTTP application (uvicorn factory: ``carbon_ingest.entrypoints.app:create_app``).

When no container is passed, the lifespan builds, starts and stops one (standalone process).
When the embedded host passes an already-built container, it owns its life: the lifespan
leaves it alone.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI

from carbon_common.auth import install_auth
from carbon_common.http import finish_app
from carbon_ingest.bootstrap import Container, bootstrap
from carbon_ingest.entrypoints.routes import catalogue, enterprises, evidence, quality, submissions
from carbon_ingest.settings import Settings

DESCRIPTION = """
Ingest service of the Carbon Bureau (碳征信): the **enterprise directory** (名录库), the
**indicator catalogue**, **department submissions** (HTTP here, or Kafka topic
`dept.submissions.v1`), **data-quality** cross-validation and the tamper-evident **evidence chain**.

Quantities are decimal strings with their unit; errors are RFC 9457 problem details
(`application/problem+json`) whose `errors` list names the record and field.
"""


def create_app(settings: Settings | None = None, container: Container | None = None) -> FastAPI:
    owns = container is None
    settings = settings or (container.settings if container is not None else Settings())

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        if not owns:
            yield
            return
        built = bootstrap(settings or Settings())
        app.state.container = built
        await built.start()
        try:
            yield
        finally:
            await built.stop()

    app = FastAPI(title="Carbon Bureau — ingest", version="1.0.0", description=DESCRIPTION, lifespan=lifespan)
    if container is not None:
        app.state.container = container
    for module in (enterprises, submissions, catalogue, quality, evidence):
        app.include_router(module.router)

    async def readiness() -> dict[str, bool]:
        built: Container | None = getattr(app.state, "container", None)
        return {"started": False} if built is None else await built.runtime.readiness()

    install_auth(app, settings.auth, settings.environment)
    finish_app(app, readiness)
    return app
