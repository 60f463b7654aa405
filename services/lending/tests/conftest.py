"""Shared fixtures: a real PostgreSQL database migrated to head, the lending container on an
in-process bus, an HTTP client, and helpers that publish upstream events the way ingest and
rating do (CloudEvents envelopes on their topics).
"""

from __future__ import annotations

import itertools
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx
import pytest
from stdnum.cn import uscc

from carbon_common.bus.memory import InMemoryBus
from carbon_common.bus.port import Record, to_record
from carbon_common.events import (
    AccountUpdated,
    EnterpriseRegistered,
    Envelope,
    FactRecorded,
    RatingIssued,
    Topics,
)
from carbon_common.migrations import upgrade_head
from carbon_common.settings import KafkaSettings, PostgresSettings
from carbon_common.testing import drop_database, fresh_database
from carbon_lending.bootstrap import Container, bootstrap
from carbon_lending.entrypoints.app import create_app
from carbon_lending.settings import Settings

MIGRATIONS = Path(__file__).resolve().parents[1] / "src" / "carbon_lending" / "migrations"
_seq = itertools.count(1)


def new_credit_code() -> str:
    """A fresh, check-character-valid USCC (GB 32100-2015) for test isolation."""
    n = next(_seq) + uuid.uuid4().int % 10**6 * 1000
    body = f"911404{n:011d}"[:17]
    return body + uscc.calc_check_digit(body)


@dataclass
class Clock:
    now: datetime

    def __call__(self) -> datetime:
        return self.now


@pytest.fixture(scope="session")
async def db_url() -> AsyncIterator[str]:
    url = await fresh_database("lending")
    await upgrade_head(MIGRATIONS, url)
    yield url
    await drop_database(url)


@pytest.fixture
def clock() -> Clock:
    return Clock(datetime(2025, 2, 10, 9, 0, tzinfo=UTC))


@pytest.fixture
async def app_env(
    db_url: str, clock: Clock
) -> AsyncIterator[tuple[Container, InMemoryBus, httpx.AsyncClient]]:
    bus = InMemoryBus()
    settings = Settings(
        postgres=PostgresSettings(url=db_url, pool_size=5), kafka=KafkaSettings(bootstrap_servers="")
    )
    container = bootstrap(settings, bus=bus, clock=clock)
    await bus.start()
    await container.start()
    app = create_app(settings, container)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://lending") as client:
        yield container, bus, client
    await container.stop()
    await bus.stop()


#: the indicator families ingest also writes to ``ingest.credit-facts.v1`` (the lead's contract)
CREDIT_FAMILIES = ("compliance.", "ets.", "transition.", "finance.")


def as_published(env: Envelope[Any]) -> list[Record]:
    """The records an upstream service publishes for ``env``: a fact of a credit family also on
    ``ingest.credit-facts.v1`` (the same bytes and key), the stream lending reads."""
    r = to_record(env)
    if isinstance(env.data, FactRecorded) and env.data.indicator.startswith(CREDIT_FAMILIES):
        return [r, replace(r, topic=Topics.CREDIT_FACTS)]
    return [r]


async def publish(bus: InMemoryBus, *events: Any, source: str = "test") -> list[Envelope[Any]]:
    envs = [Envelope(data=e, source=source) for e in events]
    await bus.publish([r for e in envs for r in as_published(e)])
    await bus.drain()
    return envs


def enterprise(
    code: str, *, stage: str = "mid", industry: str = "4411", revision: int = 1
) -> EnterpriseRegistered:
    return EnterpriseRegistered(
        credit_code=code,
        name=f"测试企业 {code[-4:]}",
        region_code="140400",
        industry_code=industry,
        size_class="large",
        transition_stage=stage,  # type: ignore[arg-type]
        revision=revision,
    )


def rating(
    code: str,
    label: str,
    *,
    issued_at: datetime | None = None,
    confidence: str = "0.9",
    score: str = "80",
    vetoes: list[str] | None = None,
    stage: str = "mid",
) -> RatingIssued:
    return RatingIssued(
        rating_id=str(uuid.uuid4()),
        credit_code=code,
        as_of_period="2024-12",
        score=Decimal(score),
        label=label,  # type: ignore[arg-type]
        transition_stage=stage,  # type: ignore[arg-type]
        confidence=Decimal(confidence),
        methodology_version="m-test@1",
        vetoes=vetoes or [],
        issued_at=issued_at or datetime(2025, 2, 1, tzinfo=UTC),
    )


def months(first: str, n: int) -> list[str]:
    """``n`` consecutive ``YYYY-MM`` periods from ``first``."""
    y, m = (int(x) for x in first.split("-"))
    out = []
    for _ in range(n):
        out.append(f"{y:04d}-{m:02d}")
        y, m = (y + 1, 1) if m == 12 else (y, m + 1)
    return out


def account(code: str, period: str, total: str, version: int = 1, score: str = "2") -> AccountUpdated:
    return AccountUpdated(
        credit_code=code,
        period=period,
        scope1_combustion_tco2=Decimal(total),
        total_tco2=Decimal(total),
        output_quantity=Decimal(10),
        output_unit="t",
        data_quality_score=Decimal(score),
        factor_set="test@1",
        calculation_version=version,
    )


def fact(code: str, indicator: str, period: str, value: str, unit: str = "10k CNY") -> FactRecorded:
    rid = str(uuid.uuid4())
    return FactRecorded(
        fact_id=rid,
        fact_key=f"tax/{rid}",
        credit_code=code,
        department="tax",
        record_id=rid,
        indicator=indicator,
        period=period,
        value=Decimal(value),
        unit=unit,
        evidence_hash="0" * 64,
        recorded_at=datetime(2025, 1, 20, tzinfo=UTC),
    )


class Upstream:
    """What ingest and rating would publish, for tests (exposed as the ``up`` fixture)."""

    def __init__(self, bus: InMemoryBus) -> None:
        self.bus = bus
        self.code = new_credit_code
        self.enterprise = enterprise
        self.rating = rating
        self.account = account
        self.fact = fact
        self.months = months

    async def publish(self, *events: Any) -> list[Envelope[Any]]:
        return await publish(self.bus, *events)

    async def rated(self, label: str, **kw: Any) -> str:
        code = new_credit_code()
        await publish(self.bus, enterprise(code, stage=kw.pop("stage", "mid")), rating(code, label, **kw))
        return code


@pytest.fixture
def up(app_env: tuple[Container, InMemoryBus, httpx.AsyncClient]) -> Upstream:
    return Upstream(app_env[1])
