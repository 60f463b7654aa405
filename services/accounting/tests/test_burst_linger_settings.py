"""The burst linger reaches accounting's subscription from its settings (docs/operations.md,
``ACCOUNTING_BURST_LINGER_MS``): without it a replay restates each enterprise-month once per
department's submission (docs/performance-notes.md, sixth pass)."""

from __future__ import annotations

from typing import Any

import pytest

from carbon_accounting.bootstrap import bootstrap
from carbon_accounting.settings import Settings
from carbon_common.bus.memory import InMemoryBus
from carbon_common.settings import PostgresSettings

URL = "postgresql+asyncpg://postgres@127.0.0.1:1/unused"  # bootstrap opens no connection


def subscription_of(settings: Settings) -> Any:
    bus = InMemoryBus()
    bootstrap(settings, bus=bus)
    (sub,) = bus._subs
    return sub


def test_the_defaults_reach_the_subscription() -> None:
    sub = subscription_of(Settings(postgres=PostgresSettings(url=URL)))  # type: ignore[arg-type]
    assert (sub.burst_linger_ms, sub.max_batch) == (2500, 20_000)


def test_the_environment_reaches_the_subscription(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ACCOUNTING_BURST_LINGER_MS", "0")
    monkeypatch.setenv("ACCOUNTING_MAX_BATCH", "700")
    sub = subscription_of(Settings(postgres=PostgresSettings(url=URL)))  # type: ignore[arg-type]
    assert (sub.burst_linger_ms, sub.max_batch) == (0, 700)
