"""The engine's idle-connection ping against a real PostgreSQL (PG_URL_BASE; fails when missing).

A pooled connection whose server backend died while it sat idle must be replaced transparently
on the next checkout; a connection used a moment ago is handed out without the extra round trips.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine

from carbon_common.db import ping_idle_connections
from carbon_common.testing import drop_database, fresh_database

pytestmark = pytest.mark.integration


@pytest.fixture
async def url() -> AsyncIterator[str]:
    u = await fresh_database("pool")
    yield u
    await drop_database(u)


async def _backend_pid(engine: AsyncEngine) -> int:
    async with engine.connect() as conn:
        return int((await conn.execute(text("SELECT pg_backend_pid()"))).scalar_one())


async def _kill(url: str, pid: int) -> None:
    other = create_async_engine(url)
    async with other.connect() as conn:
        assert (await conn.execute(text("SELECT pg_terminate_backend(:p)"), {"p": pid})).scalar_one()
    await other.dispose()
    await asyncio.sleep(0.1)  # let the backend exit


async def test_a_connection_killed_while_idle_is_replaced(url: str) -> None:
    engine = create_async_engine(url, pool_size=1, max_overflow=0)
    ping_idle_connections(engine, idle_s=0.05)
    try:
        pid = await _backend_pid(engine)
        await _kill(url, pid)
        await asyncio.sleep(0.1)  # idle longer than idle_s: the next checkout pings
        new_pid = await _backend_pid(engine)
        assert new_pid != pid
    finally:
        await engine.dispose()


async def test_a_recently_used_connection_is_not_pinged(url: str) -> None:
    """The counterpart: within ``idle_s`` no ping is made, so a dead connection surfaces as a
    disconnect error of the statement itself (and the pool recovers on the next checkout)."""
    engine = create_async_engine(url, pool_size=1, max_overflow=0)
    ping_idle_connections(engine, idle_s=3600)
    try:
        pid = await _backend_pid(engine)
        await _kill(url, pid)
        with pytest.raises(DBAPIError) as info:
            await _backend_pid(engine)
        assert info.value.connection_invalidated
        assert await _backend_pid(engine) != pid
    finally:
        await engine.dispose()
