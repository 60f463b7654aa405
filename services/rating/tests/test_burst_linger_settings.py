"""The burst linger reaches rating's subscription from its settings (docs/operations.md,
``RATING_BURST_LINGER_MS``): each enterprise is then re-rated once for more of its inputs during
a burst (docs/performance-notes.md, sixth pass)."""

from __future__ import annotations

from typing import Any

import pytest

from carbon_common.bus.memory import InMemoryBus
from carbon_rating.bootstrap import bootstrap
from carbon_rating.settings import Settings

URL = "postgresql+asyncpg://postgres@127.0.0.1:1/unused"  # bootstrap opens no connection


def subscription_of(settings: Settings) -> Any:
    bus = InMemoryBus()
    bootstrap(settings, bus=bus)
    (sub,) = bus._subs
    return sub


def settings() -> Settings:
    return Settings(postgres={"url": URL}, kafka={"bootstrap_servers": ""})  # type: ignore[arg-type]


def test_the_default_reaches_the_subscription() -> None:
    assert subscription_of(settings()).burst_linger_ms == 1200


def test_the_environment_reaches_the_subscription(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("RATING_BURST_LINGER_MS", "0")
    assert subscription_of(settings()).burst_linger_ms == 0
