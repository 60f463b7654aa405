"""Test helpers for the real PostgreSQL and Kafka (used by every package's tests).

Integration tests take the servers from ``PG_URL_BASE`` / ``KAFKA_BOOTSTRAP`` (``make test``
starts them). When they are missing the helpers raise, so the test fails: a skipped
integration suite is not a passing one.
"""

from __future__ import annotations

import os
import re
import uuid

import asyncpg


class MissingInfrastructure(RuntimeError):
    pass


def pg_url_base() -> str:
    """``postgresql+asyncpg://user@host:port`` of the test server (no database)."""
    url = os.environ.get("PG_URL_BASE")
    if not url:
        raise MissingInfrastructure(
            "PG_URL_BASE is not set: integration tests need a real PostgreSQL (run them with `make test`)"
        )
    return url.rstrip("/")


def kafka_bootstrap() -> str:
    servers = os.environ.get("KAFKA_BOOTSTRAP")
    if not servers:
        raise MissingInfrastructure(
            "KAFKA_BOOTSTRAP is not set: integration tests need a real Kafka broker (run `make test`)"
        )
    return servers


def _dsn(base: str, db: str) -> str:
    return re.sub(r"^postgresql\+asyncpg://", "postgresql://", base) + "/" + db


async def fresh_database(prefix: str = "t") -> str:
    """Create an empty, uniquely named database; return its SQLAlchemy async URL."""
    base = pg_url_base()
    name = f"{prefix}_{uuid.uuid4().hex[:10]}"
    conn = await asyncpg.connect(_dsn(base, "postgres"))
    try:
        await conn.execute(f'CREATE DATABASE "{name}"')
    finally:
        await conn.close()
    return f"{base}/{name}"


async def drop_database(url: str) -> None:
    base, _, name = url.rpartition("/")
    conn = await asyncpg.connect(_dsn(base, "postgres"))
    try:
        await conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    finally:
        await conn.close()
