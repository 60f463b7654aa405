"""Migration 0003: the outbox becomes one row per transaction and topic. Existing rows, pending or
published, become rows of one record in the same order; a downgrade turns each record, and each
copy to a ``copy_topic``, back into a row of its own. Nothing pending is lost either way (real
PostgreSQL)."""

from __future__ import annotations

import asyncio

import asyncpg
import pytest
from alembic import command

from carbon_common.migrations import alembic_config, upgrade_head
from carbon_common.testing import drop_database, fresh_database
from carbon_ingest.entrypoints.migrate import MIGRATIONS

pytestmark = pytest.mark.integration

_OLD = (
    "INSERT INTO outbox (event_id, topic, key, value, headers, published_at) VALUES ($1, $2, $3, $4, $5, $6)"
)
_NEW = (
    'INSERT INTO outbox (topic, records, event_ids, keys, "values", headers, copy_topic, copies) '
    "VALUES ($1, $2, $3, $4, $5, $6::json[], $7, $8)"
)


async def test_rows_survive_the_upgrade_and_a_downgrade_expands_batches_and_copies() -> None:
    url = await fresh_database("ingest_mig")
    dsn = url.replace("postgresql+asyncpg://", "postgresql://")
    try:
        cfg = alembic_config(MIGRATIONS, url)
        await asyncio.to_thread(command.upgrade, cfg, "0002")  # type: ignore[arg-type]
        conn = await asyncpg.connect(dsn)
        try:
            sent = await conn.fetchval("SELECT now() - interval '1 hour'")
            await conn.execute(_OLD, "a", "ingest.facts.v1", b"k1", b"v1", '[["ce_id", "a"]]', sent)
            await conn.execute(_OLD, "b", "ingest.facts.v1", b"k2", b"v2", '[["ce_id", "b"]]', None)
            await upgrade_head(MIGRATIONS, url)
            upgraded = await conn.fetch(
                'SELECT topic, records, event_ids, keys, "values", headers::text[] AS h, published_at '
                "FROM outbox ORDER BY id"
            )
            await conn.execute(
                _NEW, "ingest.facts.v1", 2, ["c", "d"], [b"k3", b"k4"], [b"v3", b"v4"],
                ['[["ce_id", "c"]]', '[["ce_id", "d"]]'], "ingest.credit-facts.v1", [False, True],
            )  # fmt: skip
            view = await conn.fetch(
                "SELECT topic, event_id, key FROM outbox_records ORDER BY id, position, topic"
            )
            # json validates what is written: a malformed header list fails the writer, not the relay
            with pytest.raises(asyncpg.InvalidTextRepresentationError):
                await conn.execute(_NEW, "t", 1, ["x"], [b"k"], [b"v"], ["[["], None, None)
            storage = dict(
                await conn.fetch(
                    "SELECT attname, attstorage::text FROM pg_attribute WHERE attrelid = 'outbox'::regclass "
                    "AND attname IN ('event_ids', 'keys', 'values', 'headers', 'copies')"
                )
            )
        finally:
            await conn.close()
        assert [(r["event_ids"], r["keys"], r["values"], r["h"], r["records"]) for r in upgraded] == [
            (["a"], [b"k1"], [b"v1"], ['[["ce_id", "a"]]'], 1),
            (["b"], [b"k2"], [b"v2"], ['[["ce_id", "b"]]'], 1),
        ]
        assert [r["published_at"] for r in upgraded] == [sent, None]
        assert storage == {c: "e" for c in ("event_ids", "keys", "values", "headers", "copies")}
        assert [tuple(r) for r in view] == [  # one row per record, the flagged copy too
            ("ingest.facts.v1", "a", b"k1"),
            ("ingest.facts.v1", "b", b"k2"),
            ("ingest.facts.v1", "c", b"k3"),
            ("ingest.credit-facts.v1", "d", b"k4"),
            ("ingest.facts.v1", "d", b"k4"),
        ]

        await asyncio.to_thread(command.downgrade, cfg, "0002")  # type: ignore[arg-type]
        conn = await asyncpg.connect(dsn)
        try:
            rows = await conn.fetch(
                "SELECT event_id, topic, key, value, headers::text AS h, published_at IS NULL AS pending "
                "FROM outbox ORDER BY id"
            )
        finally:
            await conn.close()
        assert [tuple(r) for r in rows] == [
            ("a", "ingest.facts.v1", b"k1", b"v1", '[["ce_id", "a"]]', False),
            ("b", "ingest.facts.v1", b"k2", b"v2", '[["ce_id", "b"]]', True),
            ("c", "ingest.facts.v1", b"k3", b"v3", '[["ce_id", "c"]]', True),
            ("d", "ingest.facts.v1", b"k4", b"v4", '[["ce_id", "d"]]', True),
            ("d", "ingest.credit-facts.v1", b"k4", b"v4", '[["ce_id", "d"]]', True),
        ]
    finally:
        await drop_database(url)
