"""The fuzz checks can fail: the same ``exercise`` used on the services, against a small app with
a planted 5xx, a planted schema violation and a planted unstructured 4xx, must report each one."""

from __future__ import annotations

import asyncio
import socket
import threading
from collections.abc import Iterator
from typing import Any

import pytest
import schemathesis
import uvicorn
from fastapi import FastAPI
from fastapi.responses import JSONResponse, PlainTextResponse
from hypothesis import HealthCheck, Phase, given, settings
from pydantic import BaseModel

from carbon_common.problems import install_problem_handlers

from .conftest import Stats
from .fuzzing import exercise


class Named(BaseModel):
    name: str


def planted() -> FastAPI:
    app = FastAPI(title="canary")
    install_problem_handlers(app)

    @app.get("/crash/{n}", response_model=Named)
    async def crash(n: int) -> Named:
        if n < 0:
            raise RuntimeError("planted bug")
        return Named(name=str(n))

    @app.get("/shape/{n}", response_model=None, responses={200: {"model": Named}})
    async def shape(n: int) -> JSONResponse:
        return JSONResponse({"name": n})  # an integer where the schema says string

    @app.get("/text/{n}", response_model=Named, responses={400: {"description": "refused"}})
    async def text(n: int) -> Any:
        return PlainTextResponse("no", 400)  # a 4xx without a problem document

    return app


class _Served:
    name = "canary"

    def __init__(self, app: FastAPI) -> None:
        sock = socket.socket()
        sock.bind(("127.0.0.1", 0))
        self.base_url = f"http://127.0.0.1:{sock.getsockname()[1]}"
        self.server = uvicorn.Server(uvicorn.Config(app, log_level="critical", lifespan="off"))
        self.thread = threading.Thread(
            target=lambda: asyncio.run(self.server.serve(sockets=[sock])), daemon=True
        )


@pytest.fixture(scope="module")
def canary() -> Iterator[tuple[FastAPI, _Served]]:
    app = planted()
    served = _Served(app)
    served.thread.start()
    while not served.server.started:
        threading.Event().wait(0.02)
    yield app, served
    served.server.should_exit = True
    served.thread.join(10)


@pytest.mark.parametrize(
    ("path", "reported"),
    [
        ("/crash/{n}", "Server error"),
        ("/shape/{n}", "Response violates schema"),
        ("/text/{n}", "not a problem document"),
    ],
)
def test_the_fuzz_checks_report_a_planted_bug(
    canary: tuple[FastAPI, _Served], path: str, reported: str
) -> None:
    app, served = canary
    operation = schemathesis.openapi.from_dict(app.openapi())[path]["GET"]

    @given(case=operation.as_strategy())
    @settings(
        max_examples=100,
        deadline=None,
        database=None,
        phases=[Phase.generate],
        suppress_health_check=list(HealthCheck),
    )
    def fuzz(case: Any) -> None:
        exercise(case, served, Stats())  # type: ignore[arg-type]

    with pytest.raises(BaseException) as found:
        fuzz()
    assert reported in str(found.value) + repr(found.value) + "".join(
        str(e) for e in getattr(found.value, "exceptions", ())
    ), found.value
