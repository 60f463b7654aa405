"""The FastAPI app factory (uvicorn: ``carbon_rating.entrypoints.app:create_app --factory``).

When no container is passed, the lifespan builds one (``bootstrap``), starts it and stops it.
When the host passes an already-built container (the embedded mode), the host owns its lifecycle
and the lifespan leaves it alone.
"""

from __future__ import annotations

from fastapi import FastAPI

from carbon_common.auth import install_auth
from carbon_common.http import container_lifespan, container_readiness, finish_app
from carbon_rating.bootstrap import Container, bootstrap
from carbon_rating.entrypoints import routes_methodology, routes_objections, routes_ratings, routes_report
from carbon_rating.entrypoints.fonts import pdf_font
from carbon_rating.settings import Settings

DESCRIPTION = """
The carbon credit rating (碳征信评级) of enterprises with a carbon account: a transition-aware score
0–100 and label 深绿 dark green / 浅绿 light green / 黄 yellow / 红 red, with sub-scores, drivers, the gap
to the next label, vetoes and confidence; the rating history; objections (异议复核); the query log; and
the carbon credit report. Scores, weights and quantities are decimal strings. Errors are RFC 9457
problem details.
"""


def create_app(settings: Settings | None = None, container: Container | None = None) -> FastAPI:
    settings = settings or (container.settings if container is not None else Settings())
    app = FastAPI(
        title="Carbon Bureau — rating",
        version="1.0.0",
        description=DESCRIPTION,
        lifespan=container_lifespan(container, lambda: bootstrap(settings)),
    )
    app.state.container = container
    app.include_router(routes_ratings.router)
    app.include_router(routes_objections.router)
    app.include_router(routes_report.router)
    app.include_router(routes_methodology.router)
    pdf_font(settings.cjk_font)  # at start: a missing CJK font is logged now, not at the first PDF
    install_auth(app, settings.auth, settings.environment)
    finish_app(app, container_readiness(app))
    return app
