"""Shared fixtures: a real PostgreSQL database (migrated to head), the in-process bus, builders.

``fresh_database`` raises when ``PG_URL_BASE`` is missing, so these tests fail rather than skip.
"""

from __future__ import annotations

import itertools
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
from stdnum.cn import uscc

import carbon_accounting
from carbon_accounting.bootstrap import Container, bootstrap
from carbon_accounting.settings import Settings
from carbon_common.bus.memory import InMemoryBus
from carbon_common.bus.port import to_record
from carbon_common.events import (
    AccountUpdated,
    EnterpriseRegistered,
    Envelope,
    Event,
    FactRecorded,
    Topics,
    decode,
)
from carbon_common.migrations import upgrade_head
from carbon_common.settings import PostgresSettings
from carbon_common.testing import drop_database, fresh_database

MIGRATIONS = Path(carbon_accounting.__file__).resolve().parent / "migrations"
_serial = itertools.count(1)


def credit_code() -> str:
    """A fresh, valid 18-character USCC (check character from python-stdnum)."""
    base = f"911404{next(_serial):04d}{uuid.uuid4().int % 10**7:07d}"
    return base + uscc.calc_check_digit(base)


def fact(
    code: str,
    indicator: str,
    value: str,
    unit: str,
    period: str = "2024-01",
    *,
    department: str = "stats-140400",
    record_id: str | None = None,
    revision: int = 1,
    authoritative: bool = True,
    attributes: dict[str, Any] | None = None,
) -> FactRecorded:
    rid = f"{code}-{record_id}" if record_id else f"r-{uuid.uuid4().hex[:12]}"  # unique per test
    return FactRecorded(
        fact_id=f"f-{uuid.uuid4().hex[:16]}",
        fact_key=f"{department}/{rid}",
        revision=revision,
        credit_code=code,
        department=department,
        record_id=rid,
        indicator=indicator,
        period=period,
        value=Decimal(value),
        unit=unit,
        attributes=attributes or {},
        evidence_hash="sha256:" + uuid.uuid4().hex,
        authoritative=authoritative,
        recorded_at=datetime.now(UTC),
    )


def enterprise(
    code: str, industry: str = "4411", revision: int = 1, region: str = "140400"
) -> EnterpriseRegistered:
    return EnterpriseRegistered(
        credit_code=code,
        name="长治测试企业",
        region_code=region,
        industry_code=industry,
        size_class="large",
        transition_stage="mid",
        ets_participant=True,
        revision=revision,
    )


async def publish(bus: InMemoryBus, *events: Event, envelopes: list[Envelope[Any]] | None = None) -> None:
    envs = [Envelope(data=e, source="/ingest") for e in events] + (envelopes or [])
    await bus.publish([to_record(env) for env in envs])


def accounts_for(bus: InMemoryBus, code: str) -> list[AccountUpdated]:
    out: list[AccountUpdated] = []
    for rec in bus.records(Topics.ACCOUNTS):
        env = decode(rec.value, rec.headers, {AccountUpdated.ce_type: AccountUpdated})
        assert isinstance(env.data, AccountUpdated)
        if env.data.credit_code == code:
            out.append(env.data)
    return out


async def settle(container: Container, bus: InMemoryBus) -> None:
    """Drain the consumers and flush the outbox (the relay publishes asynchronously)."""
    while True:
        await bus.drain()
        if await container.runtime.relay.relay_once() == 0 and bus.lag() == 0:
            return


@pytest.fixture(scope="session")
async def db_url() -> AsyncIterator[str]:
    """One migrated database for tests that use their own credit codes (no shared state)."""
    url = await fresh_database("acct")
    await upgrade_head(MIGRATIONS, url)
    yield url
    await drop_database(url)


@pytest.fixture
async def isolated_db_url() -> AsyncIterator[str]:
    """A database of its own (factor-set activation changes global state)."""
    url = await fresh_database("acct_iso")
    await upgrade_head(MIGRATIONS, url)
    yield url
    await drop_database(url)


def make_settings(url: str) -> Settings:
    return Settings(postgres=PostgresSettings(url=url, pool_size=4, max_overflow=4))  # type: ignore[arg-type]


async def _running(url: str) -> AsyncIterator[tuple[Container, InMemoryBus]]:
    bus = InMemoryBus()
    container = bootstrap(make_settings(url), bus=bus)
    await container.start()
    await bus.start()
    try:
        yield container, bus
    finally:
        await bus.stop()
        await container.stop()


@pytest.fixture
async def service(db_url: str) -> AsyncIterator[tuple[Container, InMemoryBus]]:
    async for pair in _running(db_url):
        yield pair


@pytest.fixture
async def isolated_service(isolated_db_url: str) -> AsyncIterator[tuple[Container, InMemoryBus]]:
    async for pair in _running(isolated_db_url):
        yield pair


@pytest.fixture
def b() -> SimpleNamespace:
    """Builders for test files (importlib import mode: tests cannot import conftest directly)."""
    return SimpleNamespace(
        credit_code=credit_code,
        fact=fact,
        enterprise=enterprise,
        publish=publish,
        accounts_for=accounts_for,
        settle=settle,
    )
