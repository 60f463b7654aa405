"""HTTP plumbing shared by the services: health, metrics, problem details, instrumentation."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from typing import Any, Protocol

from fastapi import APIRouter, FastAPI, Response
from fastapi.responses import JSONResponse
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from carbon_common.metrics import HTTP_ACTIVE, HTTP_DURATION, READY
from carbon_common.problems import install_problem_handlers

Readiness = Callable[[], Awaitable[dict[str, bool]]]


class ServiceContainer(Protocol):
    """What a service's composition root (``bootstrap``) returns."""

    runtime: Any

    async def start(self) -> None: ...

    async def stop(self) -> None: ...


def container_lifespan(
    given: ServiceContainer | None, build: Callable[[], ServiceContainer]
) -> Callable[[FastAPI], Any]:
    """The app's lifespan: build and run the container, unless the host passed one in.

    The embedded host builds the containers itself and starts and stops them around one shared
    bus (mounted sub-apps get no lifespan of their own), so a given container is only attached.
    """

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        if given is not None:
            app.state.container = given
            yield
            return
        built = build()
        await built.start()
        app.state.container = built
        try:
            yield
        finally:
            await built.stop()
            app.state.container = None

    return lifespan


def container_readiness(app: FastAPI) -> Readiness:
    """Readiness of whatever container the app runs (not ready before it is built)."""

    async def readiness() -> dict[str, bool]:
        current: ServiceContainer | None = getattr(app.state, "container", None)
        if current is None:
            return {"container": False}
        checks: dict[str, bool] = await current.runtime.readiness()
        return checks

    return readiness


#: paths left out of the request histogram (scrapes and probes would drown the traffic)
UNMEASURED = frozenset({"/metrics", "/livez"})


def ops_router(readiness: Readiness, service: str = "") -> APIRouter:
    """``/livez`` (the process answers), ``/readyz`` (database and bus reachable), ``/metrics``."""
    router = APIRouter(tags=["operations"])

    @router.get("/livez", summary="Liveness: the process is up")
    async def livez() -> dict[str, str]:
        return {"status": "ok"}

    @router.get("/readyz", summary="Readiness: database and event bus reachable")
    async def readyz() -> JSONResponse:
        checks = await readiness()
        for check, passed in checks.items():
            READY.labels(service, check).set(1 if passed else 0)
        ok = all(checks.values())
        return JSONResponse({"status": "ok" if ok else "unavailable", "checks": checks}, 200 if ok else 503)

    @router.get("/metrics", summary="Prometheus metrics", include_in_schema=False)
    async def metrics() -> Response:
        return Response(generate_latest(), media_type=CONTENT_TYPE_LATEST)

    return router


class RequestMetrics:
    """ASGI middleware: ``http_server_request_duration_seconds`` by route template, method, status.

    The route label is the matched template (``/v1/ratings/{credit_code}``), never the raw path;
    a request that matches no route is counted under ``unmatched``. Pure ASGI, so streaming
    responses are timed to their last byte and nothing is buffered.
    """

    def __init__(self, app: ASGIApp, service: str) -> None:
        self.app = app
        self.service = service

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope.get("path", "") in UNMEASURED:
            await self.app(scope, receive, send)
            return
        status = 500
        start = time.perf_counter()

        async def send_wrapper(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        active = HTTP_ACTIVE.labels(self.service)
        active.inc()
        try:
            await self.app(scope, receive, send_wrapper)
        finally:
            active.dec()
            route = scope.get("route")
            HTTP_DURATION.labels(
                self.service,
                scope.get("method", ""),
                getattr(route, "path", None) or "unmatched",
                str(status),
            ).observe(time.perf_counter() - start)


def service_name_of(app: FastAPI) -> str:
    """``ingest`` from the title ``Carbon Bureau — ingest`` (the services' convention)."""
    return app.title.rsplit("—", 1)[-1].strip().lower() or "app"


def finish_app(app: FastAPI, readiness: Readiness, service: str | None = None) -> FastAPI:
    """Add ops routes, request metrics, problem-details handlers and OpenTelemetry instrumentation."""
    name = service or service_name_of(app)
    app.include_router(ops_router(readiness, name))
    install_problem_handlers(app)
    app.add_middleware(RequestMetrics, service=name)
    try:
        from opentelemetry.instrumentation.fastapi import FastAPIInstrumentor

        # the per-message "http receive"/"http send" spans add volume and no insight
        FastAPIInstrumentor.instrument_app(
            app, excluded_urls="livez,readyz,metrics", exclude_spans=["receive", "send"]
        )
    except Exception:
        pass
    return app
