"""The outbox relay's wake-up: commits close together wake it once (``relay_coalesce_ms``)."""

from __future__ import annotations

import asyncio
from typing import Any

from pydantic_settings import SettingsConfigDict

from carbon_common.outbox import OutboxRelay
from carbon_common.settings import ServiceSettings


def relay(coalesce_s: float) -> OutboxRelay:
    none: Any = None  # no database or bus is touched by notify()
    return OutboxRelay(none, none, "test", coalesce_s=coalesce_s)


async def test_commits_close_together_wake_the_relay_once() -> None:
    r = relay(0.05)
    woken: list[float] = []
    real_set = r._wake.set
    r._wake.set = lambda: (woken.append(asyncio.get_running_loop().time()), real_set())[1]  # type: ignore[method-assign]
    for _ in range(5):
        r.notify()
    assert woken == []  # not at once: the wake-up waits for the commits that follow
    await asyncio.sleep(0.2)
    assert len(woken) == 1
    r.notify()  # a later commit wakes it again
    await asyncio.sleep(0.2)
    assert len(woken) == 2


async def test_zero_coalescing_wakes_at_every_commit() -> None:
    r = relay(0)
    r.notify()
    assert r._wake.is_set()


def test_the_setting_defaults_to_50_ms_and_reads_the_service_prefix(monkeypatch: Any) -> None:
    class Settings(ServiceSettings):
        model_config = SettingsConfigDict(env_nested_delimiter="__", extra="ignore", env_prefix="DEMO_")

    assert Settings().relay_coalesce_ms == 50
    monkeypatch.setenv("DEMO_RELAY_COALESCE_MS", "0")
    assert Settings().relay_coalesce_ms == 0
