"""The ingest HTTP application (uvicorn factory: ``carbon_ingest.entrypoints.app:create_app``).

When no container is passed, the lifespan builds, starts and stops one (standalone process).
When the embedded host passes an already-built container, it owns its life: the lifespan
leaves it alone.
"""

from __future__ import annotations

from fastapi import FastAPI

from carbon_common.auth import install_auth
from carbon_common.http import container_lifespan, container_readiness, finish_app
from carbon_common.token_cache import cache_verified_tokens
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
    settings = settings or (container.settings if container is not None else Settings())
    app = FastAPI(
        title="Carbon Bureau — ingest",
        version="1.0.0",
        description=DESCRIPTION,
        lifespan=container_lifespan(container, lambda: bootstrap(settings)),
    )
    app.state.container = container
    for module in (enterprises, submissions, catalogue, quality, evidence):
        app.include_router(module.router)
    install_auth(app, settings.auth, settings.environment)
    cache_verified_tokens(app.state)  # a department sends the same token with every submission
    finish_app(app, container_readiness(app))
    return app
