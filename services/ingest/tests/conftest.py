"""Shared fixtures: a migrated template database (once per session), cloned per test; the service
built with the in-process bus; an HTTP client over ASGI; helpers for valid credit codes."""

from __future__ import annotations

import asyncio
import re
import uuid
from collections.abc import AsyncIterator, Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import asyncpg
import httpx
import pytest
from stdnum.cn import uscc

import carbon_ingest
from carbon_common.bus.memory import InMemoryBus
from carbon_common.migrations import upgrade_head
from carbon_common.settings import PostgresSettings
from carbon_common.testing import drop_database, fresh_database, pg_url_base
from carbon_ingest.bootstrap import Container, bootstrap
from carbon_ingest.entrypoints.app import create_app
from carbon_ingest.service_layer.submissions import Clock
from carbon_ingest.settings import Settings

MIGRATIONS = Path(carbon_ingest.__file__).parent / "migrations"
#: tests pin "now" so the future-period rule is deterministic
NOW = datetime(2024, 6, 15, 8, 30, tzinfo=UTC)


def _dsn(url: str) -> str:
    return re.sub(r"^postgresql\+asyncpg://", "postgresql://", url)


@pytest.fixture(scope="session")
async def template_db() -> AsyncIterator[str]:
    url = await fresh_database("ingest_tmpl")
    await upgrade_head(MIGRATIONS, url)
    yield url.rpartition("/")[2]
    await drop_database(url)


async def clone_template(template_db: str) -> str:
    """A new database cloned from the migrated template; its URL."""
    base = pg_url_base()
    name = f"ingest_{uuid.uuid4().hex[:10]}"
    conn = await asyncpg.connect(_dsn(base) + "/postgres")
    try:
        await conn.execute(f'CREATE DATABASE "{name}" TEMPLATE "{template_db}"')
    finally:
        await conn.close()
    return f"{base}/{name}"


@pytest.fixture
async def db_url(template_db: str) -> AsyncIterator[str]:
    url = await clone_template(template_db)
    yield url
    await drop_database(url)


@pytest.fixture
async def other_db_url(template_db: str) -> AsyncIterator[str]:
    """A second database of the same test (to compare two paths on identical input)."""
    url = await clone_template(template_db)
    yield url
    await drop_database(url)


@pytest.fixture
async def sql(db_url: str) -> AsyncIterator[asyncpg.Connection]:
    """A raw connection to the test database (to inspect or tamper with rows)."""
    conn = await asyncpg.connect(_dsn(db_url))
    yield conn
    await conn.close()


def make_settings(db_url: str, **overrides: Any) -> Settings:
    return Settings(postgres=PostgresSettings(url=db_url), **overrides)


@pytest.fixture
def settings_overrides() -> dict[str, Any]:
    """Override in a test module to change settings (e.g. the catalogue path)."""
    return {}


@pytest.fixture
async def service(
    db_url: str, settings_overrides: dict[str, Any]
) -> AsyncIterator[tuple[Container, InMemoryBus]]:
    bus = InMemoryBus()
    container = bootstrap(make_settings(db_url, **settings_overrides), bus=bus, clock=Clock(now=lambda: NOW))
    await container.start()
    await bus.start()
    yield container, bus
    await bus.stop()
    await container.stop()


@pytest.fixture
async def client(service: tuple[Container, InMemoryBus]) -> AsyncIterator[httpx.AsyncClient]:
    container, _ = service
    app = create_app(container.settings, container)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://ingest") as c:
        yield c


@pytest.fixture
def bus(service: tuple[Container, InMemoryBus]) -> InMemoryBus:
    return service[1]


def credit_code(n: int, region: str = "140400") -> str:
    """A valid USCC (check character computed by python-stdnum) for test enterprise ``n``."""
    body = f"91{region}MA{n:07d}"[:17]
    return body + uscc.calc_check_digit(body)


@pytest.fixture
def code() -> Callable[..., str]:
    return credit_code


@pytest.fixture
def wait_records(bus: InMemoryBus) -> Callable[..., Any]:
    """Wait until the outbox relay has published ``n`` records to ``topic``."""

    async def _wait(topic: str, n: int, timeout: float = 10.0) -> list[Any]:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while len(bus.records(topic)) < n:
            if loop.time() > deadline:
                raise AssertionError(
                    f"{topic}: {len(bus.records(topic))} records after {timeout}s, wanted {n}"
                )
            await asyncio.sleep(0.02)
        await asyncio.sleep(0.05)  # let a wrongly-duplicated publish show up too
        return bus.records(topic)

    return _wait


def enterprise_body(code: str, **overrides: Any) -> dict[str, Any]:
    body = {
        "credit_code": code,
        "name": "长治市测试钢铁有限公司",
        "region_code": "140400",
        "industry_code": "3120",
        "size_class": "large",
        "transition_stage": "mid",
        "ets_participant": False,
    }
    return {**body, **overrides}


@pytest.fixture
def enterprise() -> Callable[..., dict[str, Any]]:
    return enterprise_body


@pytest.fixture
def register(client: httpx.AsyncClient) -> Callable[..., Any]:
    async def _register(*codes: str) -> None:
        for c in codes:
            r = await client.post("/v1/enterprises", json=enterprise_body(c))
            assert r.status_code in (200, 201), r.text

    return _register
