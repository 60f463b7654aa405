"""Migration 0003 adds ``outbox_batches`` beside the per-record ``outbox`` (expand): rows of the
previous release stay where they are and the relay drains them first; a downgrade turns every
record of ``outbox_batches``, and every flagged copy, into a per-record row. Nothing pending is
lost either way (real PostgreSQL)."""

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
    'INSERT INTO outbox_batches (topic, records, event_ids, keys, "values", headers, copy_topic, copies) '
    "VALUES ($1, $2, $3, $4, $5, $6::json[], $7, $8)"
)


async def test_the_per_record_outbox_stays_and_a_downgrade_expands_batches_and_copies() -> None:
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
            kept = await conn.fetch("SELECT event_id, published_at FROM outbox ORDER BY id")
            # a pod of the previous release can still write the per-record table
            await conn.execute(_OLD, "b2", "ingest.facts.v1", b"k2", b"v2", '[["ce_id", "b2"]]', None)
            await conn.execute(
                _NEW, "ingest.facts.v1", 2, ["c", "d"], [b"k3", b"k4"], [b"v3", b"v4"],
                ['[["ce_id", "c"]]', '[["ce_id", "d"]]'], "ingest.credit-facts.v1", [False, True],
            )  # fmt: skip
            view = await conn.fetch(
                "SELECT source, topic, event_id, key FROM outbox_records ORDER BY source, id, position, topic"
            )
            # json validates what is written: a malformed header list fails the writer, not the relay
            with pytest.raises(asyncpg.InvalidTextRepresentationError):
                await conn.execute(_NEW, "t", 1, ["x"], [b"k"], [b"v"], ["[["], None, None)
            with pytest.raises(asyncpg.CheckViolationError):  # arrays of another length than records
                await conn.execute(_NEW, "t", 2, ["x"], [b"k"], [b"v"], ["[]"], None, None)
            storage = dict(
                await conn.fetch(
                    "SELECT attname, attstorage::text FROM pg_attribute WHERE attrelid = 'outbox_batches'::regclass "
                    "AND attname IN ('event_ids', 'keys', 'values', 'headers', 'copies')"
                )
            )
        finally:
            await conn.close()
        assert [tuple(r) for r in kept] == [("a", sent), ("b", None)]
        assert [tuple(r) for r in view] == [  # one row per record, the flagged copy too
            ("outbox", "ingest.facts.v1", "a", b"k1"),
            ("outbox", "ingest.facts.v1", "b", b"k2"),
            ("outbox", "ingest.facts.v1", "b2", b"k2"),
            ("outbox_batches", "ingest.facts.v1", "c", b"k3"),
            ("outbox_batches", "ingest.credit-facts.v1", "d", b"k4"),
            ("outbox_batches", "ingest.facts.v1", "d", b"k4"),
        ]
        assert storage == {c: "e" for c in ("event_ids", "keys", "values", "headers", "copies")}

        await asyncio.to_thread(command.downgrade, cfg, "0002")  # type: ignore[arg-type]
        conn = await asyncpg.connect(dsn)
        try:
            rows = await conn.fetch(
                "SELECT event_id, topic, key, value, headers::text AS h, published_at IS NULL AS pending "
                "FROM outbox ORDER BY id"
            )
            gone = await conn.fetchval("SELECT to_regclass('outbox_batches') IS NULL")
        finally:
            await conn.close()
        assert [tuple(r) for r in rows] == [
            ("a", "ingest.facts.v1", b"k1", b"v1", '[["ce_id", "a"]]', False),
            ("b", "ingest.facts.v1", b"k2", b"v2", '[["ce_id", "b"]]', True),
            ("b2", "ingest.facts.v1", b"k2", b"v2", '[["ce_id", "b2"]]', True),
            ("c", "ingest.facts.v1", b"k3", b"v3", '[["ce_id", "c"]]', True),
            ("d", "ingest.facts.v1", b"k4", b"v4", '[["ce_id", "d"]]', True),
            ("d", "ingest.credit-facts.v1", b"k4", b"v4", '[["ce_id", "d"]]', True),
        ]
        assert gone
    finally:
        await drop_database(url)
