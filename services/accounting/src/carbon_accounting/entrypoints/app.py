"""The accounting web app: ``create_app`` is the uvicorn factory (``--factory``).

When no container is passed, the lifespan builds one (composition root), starts it and stops it.
The embedded host passes an already-built container that it starts and stops itself; the app's
lifespan then leaves it alone.
"""

from __future__ import annotations

from fastapi import FastAPI

from carbon_accounting.bootstrap import Container, bootstrap
from carbon_accounting.entrypoints import routes_accounts, routes_factors, routes_lineage
from carbon_accounting.settings import Settings
from carbon_common.auth import install_auth
from carbon_common.http import container_lifespan, container_readiness, finish_app

DESCRIPTION = """
The carbon account of every enterprise (碳账户): monthly scope 1 (fuel combustion, process),
scope 2 (location- and market-based) and scope 3 emissions in tCO2, intensities per unit of
output and per 10k CNY, a PCAF-like data-quality score, quarterly/yearly roll-ups, and the
lineage of every figure (facts with evidence hashes × versioned emission factors).

All quantities are decimal strings. Errors are RFC 9457 problem details.
"""


def create_app(settings: Settings | None = None, container: Container | None = None) -> FastAPI:
    settings = settings or (container.settings if container is not None else Settings())
    app = FastAPI(
        title="Carbon Bureau — accounting",
        version="1.0.0",
        description=DESCRIPTION,
        lifespan=container_lifespan(container, lambda: bootstrap(settings)),
    )
    app.state.container = container
    app.include_router(routes_accounts.router)
    app.include_router(routes_lineage.router)
    app.include_router(routes_factors.router)
    install_auth(app, settings.auth, settings.environment)
    finish_app(app, container_readiness(app))
    return app
