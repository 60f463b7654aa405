"""Shared fixtures: one migrated PostgreSQL database per test session (tables truncated per
test), a rating container on the in-process bus, event builders and an HTTP client."""

from __future__ import annotations

import dataclasses
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import create_async_engine
from stdnum.cn import uscc

from carbon_common.bus.memory import InMemoryBus
from carbon_common.bus.port import Record, to_record
from carbon_common.events import (
    EVENT_TYPES,
    AccountUpdated,
    EnterpriseRegistered,
    Envelope,
    Event,
    FactRecorded,
    RatingIssued,
    Topics,
    decode,
)
from carbon_common.migrations import upgrade_head
from carbon_common.testing import drop_database, fresh_database
from carbon_rating.bootstrap import Container, bootstrap
from carbon_rating.entrypoints.app import create_app
from carbon_rating.settings import Settings

MIGRATIONS = Path(__file__).resolve().parents[1] / "src" / "carbon_rating" / "migrations"
TABLES = "enterprises, accounts, conduct_facts, account_stamps, fact_stamps, ratings, rating_queries, objections, methodology_changes, outbox, outbox_batches, inbox"


def code(i: int, region: str = "140400") -> str:
    """A valid 18-character unified social credit code (GB 32100-2015 check character)."""
    base = f"91{region}MA{i:07d}"[:17]
    return base + uscc.calc_check_digit(base)


def enterprise(
    i: int,
    *,
    industry: str = "4411",
    stage: str = "mid",
    ets: bool = False,
    name: str | None = None,
    revision: int = 1,
) -> EnterpriseRegistered:
    return EnterpriseRegistered(
        credit_code=code(i),
        name=name or f"长治测试企业{i}",
        region_code="140400",
        industry_code=industry,
        size_class="large",
        transition_stage=stage,
        ets_participant=ets,
        revision=revision,  # type: ignore[arg-type]
    )


def account(
    i: int,
    period: str,
    total: str,
    output: str | None = "100000",
    *,
    unit: str = "MWh",
    dq: str = "2",
    version: int = 1,
    industry: str = "4411",
) -> AccountUpdated:
    return AccountUpdated(
        credit_code=code(i),
        period=period,
        industry_code=industry,
        scope1_combustion_tco2=Decimal(total),
        total_tco2=Decimal(total),
        output_quantity=None if output is None else Decimal(output),
        output_unit=None if output is None else unit,
        data_quality_score=Decimal(dq),
        factor_set="cn-default@1",
        calculation_version=version,
    )


def fact(
    i: int,
    indicator: str,
    period: str,
    value: str,
    *,
    key: str | None = None,
    revision: int = 1,
    unit: str = "count",
    **attributes: Any,
) -> FactRecorded:
    k = key or f"eeb-140400/{indicator}/{i}/{period}"
    return FactRecorded(
        fact_id=f"{k}#{revision}",
        fact_key=k,
        revision=revision,
        credit_code=code(i),
        department="eeb-140400",
        record_id=k,
        indicator=indicator,
        period=period,
        value=Decimal(value),
        unit=unit,
        attributes=attributes,
        evidence_hash="0" * 64,
        recorded_at=datetime(2024, 7, 1, tzinfo=UTC),
    )


def envelope(event: Event) -> Envelope[Event]:
    return Envelope(data=event, source="/test")


#: the indicator families ingest copies to ``ingest.credit-facts.v1`` (the stream rating reads)
CREDIT_FAMILIES = ("compliance.", "ets.", "transition.", "finance.")


def record(env: Envelope[Event]) -> Record:
    """The record as the pipeline delivers it to rating: a fact of the credit families on
    ``ingest.credit-facts.v1`` (ingest's copy: same bytes, id and key), every other event on its
    own topic (a fact of another family then stays on ``ingest.facts.v1``, which rating does not read)."""
    r = to_record(env)
    if isinstance(env.data, FactRecorded) and env.data.indicator.startswith(CREDIT_FAMILIES):
        return dataclasses.replace(r, topic=Topics.CREDIT_FACTS)
    return r


@pytest.fixture(scope="session")
async def db_url() -> AsyncIterator[str]:
    url = await fresh_database("rating")
    await upgrade_head(MIGRATIONS, url)
    yield url
    await drop_database(url)


@dataclass
class Harness:
    container: Container
    bus: InMemoryBus

    async def publish(self, *events: Event | Envelope[Event]) -> list[Envelope[Event]]:
        envs = [e if isinstance(e, Envelope) else envelope(e) for e in events]
        await self.bus.publish([record(e) for e in envs])
        return envs

    async def settle(self) -> None:
        """Consume everything, then relay the outbox until empty."""
        await self.bus.drain()
        while await self.container.runtime.relay.relay_once():
            pass

    def issued(self) -> list[RatingIssued]:
        return [e for e in self.published() if isinstance(e, RatingIssued)]

    def published(self) -> list[Event]:
        """Everything rating published on its topic (ratings and objection changes), in order."""
        return [decode(r.value, r.headers, EVENT_TYPES).data for r in self.bus.records(Topics.RATINGS)]

    def dlq(self, topic: str) -> list[Any]:
        return self.bus.records(Topics.dlq(topic))


def settings_for(url: str) -> Settings:
    return Settings(postgres={"url": url}, kafka={"bootstrap_servers": ""}, telemetry={"log_json": False})  # type: ignore[arg-type]


@pytest.fixture
async def harness(db_url: str) -> AsyncIterator[Harness]:
    engine = create_async_engine(db_url)
    async with engine.begin() as conn:
        # the test reset is the one place that empties the append-only audit trail: its triggers
        # are set aside for this transaction only (superuser; session_replication_role)
        await conn.execute(text("SET LOCAL session_replication_role = replica"))
        await conn.execute(text(f"TRUNCATE {TABLES} RESTART IDENTITY"))
    await engine.dispose()
    bus = InMemoryBus()
    container = bootstrap(settings_for(db_url), bus=bus)
    await container.start()
    await bus.start()
    try:
        yield Harness(container, bus)
    finally:
        await bus.stop()
        await container.stop()


@pytest.fixture
async def client(harness: Harness) -> AsyncIterator[httpx.AsyncClient]:
    app = create_app(container=harness.container)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://rating") as c:
        yield c


class Builders:
    """Event builders, handed to tests as the ``ev`` fixture (test files cannot import conftest)."""

    code = staticmethod(code)
    enterprise = staticmethod(enterprise)
    account = staticmethod(account)
    fact = staticmethod(fact)
    envelope = staticmethod(envelope)
    record = staticmethod(record)


@pytest.fixture
def ev() -> Iterator[type[Builders]]:
    yield Builders
