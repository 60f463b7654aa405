"""Smoke test of the real PostgreSQL server: connect, create a throwaway database, use it, drop it.

Needs ``PG_URL_BASE`` (``scripts/stack.sh up && eval "$(scripts/stack.sh env)"``), e.g.
``postgresql+asyncpg://postgres@127.0.0.1:55432``; without a reachable server it FAILS, never skips.
"""

from __future__ import annotations

import os
import uuid

import asyncpg
import pytest

pytestmark = pytest.mark.integration


def _dsn(db: str) -> str:
    base = os.environ.get("PG_URL_BASE", "").strip().rstrip("/")
    if not base:
        pytest.fail(
            "PG_URL_BASE is not set. Start the local stack first: "
            'scripts/stack.sh up && eval "$(scripts/stack.sh env)"'
        )
    scheme, sep, rest = base.partition("://")
    if not sep or not scheme.startswith("postgres"):
        pytest.fail(f"PG_URL_BASE={base!r} is not a postgresql:// URL")
    return f"postgresql://{rest}/{db}"


async def _connect(db: str) -> asyncpg.Connection:
    dsn = _dsn(db)
    try:
        return await asyncpg.connect(dsn, timeout=10)
    except (OSError, asyncpg.PostgresError, TimeoutError) as exc:
        pytest.fail(f"PostgreSQL at {dsn} is unreachable ({exc!r}); is `scripts/stack.sh up` running?")


async def test_create_use_and_drop_a_database() -> None:
    name = f"smoke_{uuid.uuid4().hex[:12]}"
    admin = await _connect("postgres")
    try:
        version = await admin.fetchval("SHOW server_version_num")
        assert int(version) >= 140000, f"PostgreSQL 14+ expected, got {version}"
        await admin.execute(f'CREATE DATABASE "{name}"')
        try:
            conn = await _connect(name)
            try:
                await conn.execute(
                    "CREATE TABLE facts (id bigint PRIMARY KEY, tco2e numeric(18, 6) NOT NULL)"
                )
                await conn.executemany("INSERT INTO facts VALUES ($1, $2)", [(1, "1.5"), (2, "2.25")])
                total = await conn.fetchval("SELECT sum(tco2e)::text FROM facts")
                assert total == "3.750000"
                assert await conn.fetchval("SHOW server_encoding") == "UTF8"
            finally:
                await conn.close()
        finally:
            await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        assert await admin.fetchval("SELECT count(*) FROM pg_database WHERE datname = $1", name) == 0
    finally:
        await admin.close()
