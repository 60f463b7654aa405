"""HTTP plumbing shared by the services: health, metrics, problem details, instrumentation."""

from __future__ import annotations

import asyncio
import json
import os
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from typing import Any, Protocol

from fastapi import APIRouter, FastAPI, HTTPException, Response
from fastapi.responses import JSONResponse
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from carbon_common.metrics import HTTP_ACTIVE, HTTP_DURATION, READY
from carbon_common.problems import PROBLEM_JSON, TYPE_BASE, document_problems, install_problem_handlers

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


#: a request body above this many bytes is refused with 413 (``CARBON_HTTP_MAX_BODY_BYTES``); the
#: largest legitimate body is a 10,000-record department submission (about 2 MB)
MAX_BODY_BYTES = int(os.environ.get("CARBON_HTTP_MAX_BODY_BYTES", str(16 * 1024 * 1024)))
#: a request still unanswered after this many seconds is cancelled (its transaction rolls back) and
#: answered 503 (``CARBON_HTTP_REQUEST_TIMEOUT_S``)
REQUEST_TIMEOUT_S = float(os.environ.get("CARBON_HTTP_REQUEST_TIMEOUT_S", "60"))


class RequestLimits:
    """ASGI middleware: the request body size limit and the per-request deadline.

    A declared ``Content-Length`` over the limit is refused before the body is read; a chunked
    body is counted as it streams and refused when it crosses the limit (413, problem details).
    A request that has not started its response when the deadline passes is cancelled and
    answered 503 ``request-timeout``; one already streaming its response is cut off.
    """

    def __init__(
        self, app: ASGIApp, max_body_bytes: int | None = None, timeout_s: float | None = None
    ) -> None:
        self.app = app
        self.max_body_bytes = MAX_BODY_BYTES if max_body_bytes is None else max_body_bytes
        self.timeout_s = REQUEST_TIMEOUT_S if timeout_s is None else timeout_s

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        limit = self.max_body_bytes
        for name, value in scope.get("headers", ()):
            if name == b"content-length":
                if not value.isdigit():
                    await _send_problem(send, scope, 400, "Invalid Content-Length", "bad-request")
                    return
                if int(value) > limit:
                    await _send_problem(
                        send, scope, 413, "Request body too large", "too-large", f"at most {limit} bytes"
                    )
                    return
        received = 0
        started = False

        async def limited_receive() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > limit:
                    raise HTTPException(413, f"Request body too large: at most {limit} bytes")
            return message

        async def tracking_send(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        deadline = asyncio.timeout(self.timeout_s)
        try:
            async with deadline:
                await self.app(scope, limited_receive, tracking_send)
        except TimeoutError:
            if started or not deadline.expired():  # not ours (e.g. a driver's own timeout)
                raise
            await _send_problem(
                send,
                scope,
                503,
                "Request timed out",
                "request-timeout",
                f"no answer within {self.timeout_s:g} s",
            )


async def _send_problem(
    send: Send, scope: Scope, status: int, title: str, slug: str, detail: str = ""
) -> None:
    problem = {"type": TYPE_BASE + slug, "title": title, "status": status, "instance": scope.get("path", "")}
    if detail:
        problem["detail"] = detail
    body = json.dumps(problem).encode()
    headers = [(b"content-type", PROBLEM_JSON.encode()), (b"content-length", str(len(body)).encode())]
    if status == 413:
        headers.append((b"connection", b"close"))
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})


def service_name_of(app: FastAPI) -> str:
    """``ingest`` from the title ``Carbon Bureau — ingest`` (the services' convention)."""
    return app.title.rsplit("—", 1)[-1].strip().lower() or "app"


def finish_app(app: FastAPI, readiness: Readiness, service: str | None = None) -> FastAPI:
    """Add ops routes, request metrics, request limits (body size, deadline), problem-details
    handlers and OpenTelemetry instrumentation."""
    name = service or service_name_of(app)
    app.include_router(ops_router(readiness, name))
    install_problem_handlers(app)
    document_problems(app)
    app.add_middleware(RequestLimits)
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
