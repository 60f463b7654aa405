"""Which handler errors the bus retries in place (transient) and which it isolates by bisection."""

from __future__ import annotations

import asyncpg
import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import create_async_engine

from carbon_common.bus.processing import is_transient
from carbon_common.testing import pg_url_base


@pytest.mark.integration
async def test_a_statement_with_too_many_parameters_is_not_transient() -> None:
    """asyncpg refuses more than 32,767 parameters with an InterfaceError, whose class name is
    otherwise a connectivity error: retried in place, a too-large batch would stall forever."""
    engine = create_async_engine(pg_url_base() + "/postgres")
    n = 32_768
    sql = text("SELECT 1 WHERE 1 IN (" + ", ".join(f":p{i}" for i in range(n)) + ")")
    try:
        async with engine.connect() as conn:
            with pytest.raises(Exception) as caught:
                await conn.execute(sql, {f"p{i}": 1 for i in range(n)})
    finally:
        await engine.dispose()
    chain, cur = [], caught.value
    while cur is not None:
        chain.append(type(cur).__name__)
        cur = cur.__cause__ or cur.__context__
    assert "InterfaceError" in chain  # a name the bus otherwise retries in place
    assert not is_transient(caught.value)


@pytest.mark.integration
async def test_an_unreachable_server_is_transient() -> None:
    with pytest.raises(Exception) as caught:
        await asyncpg.connect("postgresql://postgres@127.0.0.1:1/postgres", timeout=5)
    assert is_transient(caught.value)
