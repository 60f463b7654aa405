"""``carbon_common.packed``: columns packed on the client and split by a real PostgreSQL
(PG_URL_BASE; fails when missing) give back exactly the values, whatever characters they hold."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import asyncpg
import pytest

from carbon_common.packed import SEPARATORS, pack, texts, unique_texts

pytestmark = pytest.mark.integration

_SPLIT = """
SELECT t.* FROM unnest(string_to_array($2::text, $1::text), string_to_array($3::text, $1::text)::int[],
                       string_to_array($4::text, $1::text)::bool[], string_to_array($5::text, $1::text)::numeric[],
                       string_to_array($6::text, $1::text)::timestamptz[], string_to_array($7::text, $1::text)::json[])
     WITH ORDINALITY AS t(s, i, b, n, at, j, k)
ORDER BY k
"""
_BYTES = """
SELECT array_agg(convert_to(e.v, 'UTF8') ORDER BY e.k)
FROM unnest(string_to_array($2::text, $1::text)) WITH ORDINALITY AS e(v, k)
"""


@pytest.fixture
async def conn() -> AsyncIterator[asyncpg.Connection]:
    from carbon_common.testing import drop_database, fresh_database

    url = await fresh_database("packed")
    connection = await asyncpg.connect(url.replace("postgresql+asyncpg://", "postgresql://"))
    try:
        yield connection
    finally:
        await connection.close()
        await drop_database(url)


async def test_every_column_type_comes_back_exactly_in_order(conn: asyncpg.Connection) -> None:
    at = datetime(2025, 3, 31, 23, 59, 59, 123456, tzinfo=UTC)
    strings = ["plain", 'a,b {c} "d" \\e', "NULL", "  spaced  ", "中文 · ✓", "x" * 5000]
    ints = [1, -2, 3, 0, 2**31 - 1, 42]
    bools = [True, False, True, True, False, False]
    numbers = [
        Decimal("1.50"),
        Decimal("-0.001"),
        Decimal("123456789012345678.9"),
        Decimal(0),
        Decimal("1e3"),
        Decimal("2"),
    ]
    times = [at, at, at + timedelta(hours=8), at, at, at]
    docs = ['{"a": 1}', "[]", '"\\u001f"', "{}", "null", '{"k": "v"}']
    rows = await conn.fetch(
        _SPLIT, *pack(strings, texts(ints), texts(bools), texts(numbers), unique_texts(times), docs)
    )
    assert [r["s"] for r in rows] == strings
    assert [r["i"] for r in rows] == ints
    assert [r["b"] for r in rows] == bools
    assert [r["n"] for r in rows] == numbers
    assert str(rows[0]["n"]) == "1.50"  # the scale as spelled
    assert [r["at"] for r in rows] == times
    assert [r["j"] for r in rows] == docs


async def test_values_holding_the_separators_pick_another_one(conn: asyncpg.Connection) -> None:
    values = [f"id{SEPARATORS[0]}1", f"{SEPARATORS[1]}", "plain", f"{SEPARATORS[2]}{SEPARATORS[0]}"]
    packed = pack(values)
    assert packed[0] == SEPARATORS[3]
    rows = await conn.fetch("SELECT unnest(string_to_array($2::text, $1::text))", *packed)
    assert [r[0] for r in rows] == values


async def test_utf8_bytes_come_back_as_bytea(conn: asyncpg.Connection) -> None:
    events = [b'{"id":"1","name":"\xe7\x85\xa4"}', b"{}", b'{"sep":"\\u001f"}']
    assert await conn.fetchval(_BYTES, *pack(events)) == events


async def test_empty_columns_are_empty_arrays(conn: asyncpg.Connection) -> None:
    assert await conn.fetchval("SELECT cardinality(string_to_array($2::text, $1::text))", *pack([])) == 0


def test_what_cannot_travel_is_refused_not_corrupted() -> None:
    # one empty string would come back as an empty array
    with pytest.raises(ValueError, match="one empty value"):
        pack(["a", "b"], [""])
    assert pack(["", ""])[1] == SEPARATORS[0]  # two empty strings are fine: one separator
    # every candidate separator in the values
    with pytest.raises(ValueError, match="every separator"):
        pack(["".join(SEPARATORS)])
    with pytest.raises(UnicodeDecodeError):
        pack([b"\xff\xfe"])
