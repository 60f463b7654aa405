"""HTTP plumbing shared by the services: health, metrics, problem details, instrumentation."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from fastapi import APIRouter, FastAPI, Response
from fastapi.responses import JSONResponse
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from carbon_common.problems import install_problem_handlers

Readiness = Callable[[], Awaitable[dict[str, bool]]]


def ops_router(readiness: Readiness) -> APIRouter:
    """``/livez`` (the process answers), ``/readyz`` (database and bus reachable), ``/metrics``."""
    router = APIRouter(tags=["operations"])

    @router.get("/livez", summary="Liveness: the process is up")
    async def livez() -> dict[str, str]:
        return {"status": "ok"}

    @router.get("/readyz", summary="Readiness: database and event bus reachable")
    async def readyz() -> JSONResponse:
        checks = await readiness()
        ok = all(checks.values())
        return JSONResponse({"status": "ok" if ok else "unavailable", "checks": checks}, 200 if ok else 503)

    @router.get("/metrics", summary="Prometheus metrics", include_in_schema=False)
    async def metrics() -> Response:
        return Response(generate_latest(), media_type=CONTENT_TYPE_LATEST)

    return router


def finish_app(app: FastAPI, readiness: Readiness) -> FastAPI:
    """Add ops routes, problem-details handlers and OpenTelemetry instrumentation."""
    app.include_router(ops_router(readiness))
    install_problem_handlers(app)
    try:
        from opentelemetry.instrumentation.fastapi import FastAPIInstrumentor

        FastAPIInstrumentor.instrument_app(app, excluded_urls="livez,readyz,metrics")
    except Exception:
        pass
    return app
