"""HTTP robustness limits of every service: request body size, page size, request deadline, and
error bodies that echo no secret and no stack trace.

The body-size, deadline and 500 tests run each service's real ``create_app`` (authentication on)
without a database: the limits sit in front of routing, and the 500 handler is the app's own.
The page-size tests run against the live, seeded services of the fuzz suite (real PostgreSQL).
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from importlib import import_module
from typing import Any
from urllib.parse import quote

import httpx
import pytest
from fastapi import FastAPI

from carbon_common import http as common_http
from carbon_common.settings import AuthSettings, PostgresSettings

from .conftest import Live
from .harness import BANK, CODE, token

SERVICES = ("ingest", "accounting", "rating", "lending")
#: a write route of each service that takes a JSON body
WRITE_ROUTE = {
    "ingest": "/v1/enterprises",
    "accounting": "/v1/factor-sets",
    "rating": "/v1/objections",
    "lending": "/v1/quotes",
}
SECRET = "s3cr3t-Pa55w0rd-for-the-fuzz-test"
DSN = f"postgresql+asyncpg://carbon:{SECRET}@db.internal:5432/carbon"


def build(name: str) -> FastAPI:
    settings = import_module(f"carbon_{name}.settings").Settings(
        auth=AuthSettings(enabled=True), postgres=PostgresSettings(url=DSN)
    )
    app: FastAPI = import_module(f"carbon_{name}.entrypoints.app").create_app(settings)
    return app


def client(app: FastAPI) -> httpx.AsyncClient:
    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
    return httpx.AsyncClient(transport=transport, base_url="http://limits")


def problem(r: httpx.Response, status: int) -> dict[str, Any]:
    assert r.status_code == status, (r.status_code, r.text[:300])
    assert r.headers["content-type"].startswith("application/problem+json"), r.headers
    body: dict[str, Any] = r.json()
    assert body["status"] == status and isinstance(body["title"], str), body
    return body


def auth(*scopes: str, org: str = BANK) -> dict[str, str]:
    return {"Authorization": f"Bearer {token(org, scopes)}"}


# --- request body size ---------------------------------------------------------------------------


@pytest.mark.parametrize("svc", SERVICES)
async def test_a_body_over_the_default_limit_is_refused_with_413(svc: str) -> None:
    assert common_http.MAX_BODY_BYTES == 16 * 1024 * 1024  # the documented default
    body = b'{"pad": "' + b"x" * common_http.MAX_BODY_BYTES + b'"}'
    async with client(build(svc)) as c:
        r = await c.post(WRITE_ROUTE[svc], content=body, headers={"content-type": "application/json"})
        p = problem(r, 413)
        assert len(r.content) < 1000 and "x" * 50 not in r.text
        assert str(common_http.MAX_BODY_BYTES) in p["detail"]
        # just under the limit, the same route reads the body (and refuses it as invalid, not as too large)
        small = await c.post(WRITE_ROUTE[svc], json={"pad": "x" * 1000}, headers=auth())
        assert small.status_code != 413


@pytest.mark.parametrize("svc", SERVICES)
async def test_a_streamed_body_crossing_the_limit_is_refused_with_413(
    svc: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(common_http, "MAX_BODY_BYTES", 64 * 1024)

    async def chunks() -> AsyncIterator[bytes]:  # no Content-Length: the body is counted as it arrives
        yield b'{"pad": "'
        for _ in range(100):
            yield b"y" * 1024
        yield b'"}'

    async with client(build(svc)) as c:
        r = await c.post(
            WRITE_ROUTE[svc], content=chunks(), headers=auth() | {"content-type": "application/json"}
        )
    assert "content-length" not in r.request.headers
    problem(r, 413)
    assert "y" * 50 not in r.text


@pytest.mark.parametrize("svc", SERVICES)
async def test_a_malformed_content_length_is_a_400_problem(svc: str) -> None:
    async with client(build(svc)) as c:
        r = await c.post(WRITE_ROUTE[svc], content=b"{}", headers={"content-length": "-5"})
    problem(r, 400)


# --- deadline and 500s ---------------------------------------------------------------------------


def _faulty(svc: str) -> FastAPI:
    app = build(svc)

    @app.get("/test-only/db-failure")
    async def db_failure() -> None:
        # what a driver error looks like when it quotes the connection string
        raise ConnectionError(f"could not connect to {DSN}: password authentication failed")

    @app.get("/test-only/driver-timeout")
    async def driver_timeout() -> None:
        raise TimeoutError("pool exhausted")  # a timeout of its own, not the request deadline

    @app.get("/test-only/slow")
    async def slow() -> dict[str, str]:
        await asyncio.sleep(30)
        return {"status": "late"}

    return app


@pytest.mark.parametrize("svc", SERVICES)
async def test_a_500_body_has_no_traceback_and_no_secret(svc: str) -> None:
    async with client(_faulty(svc)) as c:
        r = await c.get("/test-only/db-failure", headers={"Authorization": f"Bearer {SECRET}"})
    body = problem(r, 500)
    assert body["type"].endswith("/internal")
    for leak in (SECRET, "Traceback", "ConnectionError", "postgresql", 'File "', "db.internal"):
        assert leak not in r.text, leak


@pytest.mark.parametrize("svc", SERVICES)
async def test_a_request_over_the_deadline_is_cancelled_with_503(
    svc: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(common_http, "REQUEST_TIMEOUT_S", 0.2)
    async with client(_faulty(svc)) as c:
        r = await c.get("/test-only/slow")
    body = problem(r, 503)
    assert body["type"].endswith("/request-timeout")
    assert "late" not in r.text
    async with client(_faulty(svc)) as c:
        own = await c.get("/test-only/driver-timeout")
    assert problem(own, 500)["type"].endswith("/internal")  # not taken for the deadline


@pytest.mark.integration
@pytest.mark.parametrize("svc", SERVICES)
def test_a_rejected_token_is_not_echoed(live: Live, svc: str) -> None:
    with httpx.Client(base_url=live[svc].base_url, timeout=60) as c:
        r = c.post(WRITE_ROUTE[svc], json={}, headers={"Authorization": f"Bearer {SECRET}"})
    assert r.status_code == 401 and r.headers["content-type"].startswith("application/problem+json"), r.text
    assert SECRET not in r.text


# --- page sizes (live services, real PostgreSQL) --------------------------------------------------

#: list endpoints with a hard maximum page size: over it, the request is refused (422 problem)
REFUSED = [
    ("ingest", "/v1/quality/flags?limit=1001", ("audit:read",)),
    ("rating", f"/v1/ratings/{CODE}/history?limit=201", ("ratings:read",)),
    ("rating", f"/v1/ratings/{CODE}/queries?limit=201", ("audit:read",)),
    ("lending", "/v1/loans?limit=201", ("loans:write",)),
    ("lending", "/v1/loan-events?limit=201", ("loans:write",)),
]


@pytest.mark.integration
@pytest.mark.parametrize(("svc", "path", "scopes"), REFUSED)
def test_a_page_size_over_the_maximum_is_refused(
    live: Live, svc: str, path: str, scopes: tuple[str, ...]
) -> None:
    service = live[svc]
    with httpx.Client(base_url=service.base_url, timeout=60) as c:
        over = c.get(path, headers=auth(*scopes))
        at_max = c.get(path.replace("1001", "1000").replace("201", "200"), headers=auth(*scopes))
    body = json.loads(over.text)
    assert over.status_code == 422 and body["errors"][0]["field"] == "limit", over.text
    assert at_max.status_code == 200, at_max.text


@pytest.mark.integration
def test_the_enterprise_directory_clamps_the_page_size(live: Live) -> None:
    service = live["ingest"]
    with httpx.Client(base_url=service.base_url, timeout=60) as c:
        r = c.get("/v1/enterprises?page_size=100000", headers=auth("enterprises:read"))
    assert r.status_code == 200, r.text
    page = r.json()
    assert page["page_size"] == service.container.settings.max_page_size == 500
    assert len(page["items"]) <= page["page_size"]


# --- text PostgreSQL cannot store ----------------------------------------------------------------

#: (service, method, path, scopes, body): strings that reach a database query
UNSTORABLE = [
    ("lending", "POST", "/v1/quotes", ("quotes:write",), "credit_code"),
    ("rating", "GET", "/v1/ratings/{}", ("ratings:read",), None),
    ("ingest", "GET", "/v1/enterprises/{}", ("enterprises:read",), None),
    ("accounting", "GET", "/v1/accounts/{}", ("accounts:read",), None),
]


@pytest.mark.integration
@pytest.mark.parametrize("bad", ["\x00", "\ud800"], ids=["nul", "lone-surrogate"])
@pytest.mark.parametrize(("svc", "method", "path", "scopes", "field"), UNSTORABLE)
def test_unstorable_text_is_a_422_not_a_500(
    live: Live, svc: str, method: str, path: str, scopes: tuple[str, ...], field: str | None, bad: str
) -> None:
    code = CODE[:8] + bad + CODE[9:]  # still 18 characters
    with httpx.Client(base_url=live[svc].base_url, timeout=60) as c:
        if field is None:
            # a surrogate has no UTF-8 form: the path carries its CESU-8 bytes, which are invalid UTF-8
            escaped = quote(code) if bad == "\x00" else CODE[:8] + "%ED%A0%80" + CODE[9:]
            r = c.request(method, path.format(escaped), headers=auth(*scopes))
        else:
            body = {"credit_code": code, "product": "green_loan", "amount_cny": "1000000", "term_months": 12}
            raw = json.dumps(body)  # ensure_ascii: the surrogate travels as \\ud800
            r = c.request(
                method, path, content=raw, headers=auth(*scopes) | {"content-type": "application/json"}
            )
    assert r.status_code in (404, 422), (r.status_code, r.text)
    assert r.headers["content-type"].startswith("application/problem+json")


#: integers beyond int64 in query parameters that reach a database query
HUGE = [
    ("ingest", f"/v1/enterprises?page={10**30}", ("enterprises:read",)),
    ("lending", f"/v1/loan-events?after={2**70}", ("loans:write",)),
    ("lending", f"/v1/policy/audit?after={-(2**70)}", ("quotes:write",)),
]


@pytest.mark.integration
@pytest.mark.parametrize(("svc", "path", "scopes"), HUGE)
def test_an_integer_beyond_int64_is_a_422_not_a_500(
    live: Live, svc: str, path: str, scopes: tuple[str, ...]
) -> None:
    with httpx.Client(base_url=live[svc].base_url, timeout=60) as c:
        r = c.get(path, headers=auth(*scopes))
    problem(r, 422)
