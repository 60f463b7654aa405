"""Alembic (async) glue: each service's ``migrations/env.py`` calls ``run_env`` with its metadata.

``upgrade_head`` runs a service's migrations programmatically (from a thread, because Alembic's
async env starts its own event loop); the migrate entrypoints, the embedded mode and the tests
use it.
"""

from __future__ import annotations

import asyncio
from pathlib import Path

from sqlalchemy import MetaData, pool
from sqlalchemy.engine import Connection
from sqlalchemy.ext.asyncio import async_engine_from_config


def run_env(target_metadata: MetaData) -> None:
    """Body of a service's ``migrations/env.py``."""
    from alembic import context

    config = context.config
    if context.is_offline_mode():
        context.configure(
            url=config.get_main_option("sqlalchemy.url"),
            target_metadata=target_metadata,
            literal_binds=True,
            dialect_opts={"paramstyle": "named"},
        )
        with context.begin_transaction():
            context.run_migrations()
        return

    def _do(connection: Connection) -> None:
        context.configure(connection=connection, target_metadata=target_metadata, compare_type=True)
        with context.begin_transaction():
            context.run_migrations()

    async def _run() -> None:
        engine = async_engine_from_config(
            config.get_section(config.config_ini_section, {}), prefix="sqlalchemy.", poolclass=pool.NullPool
        )
        async with engine.connect() as conn:
            await conn.run_sync(_do)
        await engine.dispose()

    asyncio.run(_run())


def alembic_config(migrations_dir: Path, url: str) -> object:
    """An Alembic config for a service's migrations folder (inside its package) and a URL."""
    from alembic.config import Config

    cfg = Config()
    cfg.set_main_option("script_location", str(migrations_dir))
    cfg.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    return cfg


def upgrade_head_sync(migrations_dir: Path, url: str) -> None:
    from alembic import command

    command.upgrade(alembic_config(migrations_dir, url), "head")  # type: ignore[arg-type]


async def upgrade_head(migrations_dir: Path, url: str) -> None:
    await asyncio.to_thread(upgrade_head_sync, migrations_dir, url)


def append_only_ddl(table: str) -> list[str]:
    """DDL that makes an audit table append-only in the database itself (for ``op.execute``).

    A row trigger refuses UPDATE and DELETE and a statement trigger refuses TRUNCATE, each with
    SQLSTATE ``insufficient_privilege`` and a message naming the table and the operation. DROP
    needs the table owner, which the service's role should not be in production.
    """
    fn = f"{table}_append_only"
    return [
        f"""
        CREATE FUNCTION {fn}() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN
            RAISE EXCEPTION '{table} is append-only: % refused', TG_OP
                USING ERRCODE = 'insufficient_privilege';
        END $$
        """,
        f"CREATE TRIGGER {fn} BEFORE UPDATE OR DELETE ON {table} FOR EACH ROW EXECUTE FUNCTION {fn}()",
        f"CREATE TRIGGER {table}_no_truncate BEFORE TRUNCATE ON {table} "
        f"FOR EACH STATEMENT EXECUTE FUNCTION {fn}()",
    ]


def drop_append_only_ddl(table: str) -> list[str]:
    """The downgrade of :func:`append_only_ddl`."""
    return [
        f"DROP TRIGGER IF EXISTS {table}_no_truncate ON {table}",
        f"DROP TRIGGER IF EXISTS {table}_append_only ON {table}",
        f"DROP FUNCTION IF EXISTS {table}_append_only()",
    ]


#: the outbox with one row per transaction and topic (``carbon_common.outbox``), created beside the
#: per-record ``outbox`` by each service's migration; frozen with those migrations (a later change to
#: the table is a new migration, not an edit here)
_OUTBOX_BATCHES = """
CREATE TABLE outbox_batches (
    id bigserial CONSTRAINT pk_outbox_batches PRIMARY KEY,
    topic varchar(200) NOT NULL,
    records integer NOT NULL,
    event_ids varchar(64)[] NOT NULL,
    keys bytea[] NOT NULL,
    "values" bytea[] NOT NULL,
    headers json[] NOT NULL,
    copy_topic varchar(200),
    copies boolean[],
    created_at timestamptz NOT NULL DEFAULT now(),
    published_at timestamptz,
    CONSTRAINT ck_outbox_batches_arrays_match CHECK (
        records > 0 AND cardinality(event_ids) = records AND cardinality(keys) = records
        AND cardinality("values") = records AND cardinality(headers) = records
        AND (copies IS NULL OR cardinality(copies) = records)
    )
)
"""

#: one row per record of both outboxes, copies included (for operators' queries and tests; nothing
#: reads it on the hot path), in the relay's order: the per-record table's rows first
_OUTBOX_RECORDS_VIEW = """
CREATE VIEW outbox_records AS
SELECT 'outbox' AS source, id, 1::bigint AS position, topic, event_id, key, value, headers::json AS headers,
       created_at, published_at
FROM outbox
UNION ALL
SELECT 'outbox_batches', o.id, r.n, o.topic, r.event_id, r.key, r.value, r.headers, o.created_at, o.published_at
FROM outbox_batches o
CROSS JOIN LATERAL unnest(o.event_ids, o.keys, o."values", o.headers) WITH ORDINALITY AS r(event_id, key, value, headers, n)
UNION ALL
SELECT 'outbox_batches', o.id, r.n, o.copy_topic, r.event_id, r.key, r.value, r.headers, o.created_at, o.published_at
FROM outbox_batches o
CROSS JOIN LATERAL unnest(o.event_ids, o.keys, o."values", o.headers, o.copies)
    WITH ORDINALITY AS r(event_id, key, value, headers, copied, n)
WHERE o.copy_topic IS NOT NULL AND r.copied
"""


def outbox_batches_ddl() -> list[str]:
    """DDL (for ``op.execute``) that adds ``outbox_batches`` (one row per transaction and topic, the
    arrays stored out of line uncompressed) beside the per-record ``outbox``, and the view
    ``outbox_records``. An expand step: the per-record table stays, so pods of the previous release
    keep writing and relaying it during a rollout, and the new relay drains it before its own rows
    (``carbon_common.outbox``); a later release drops it once it is empty (docs/operations.md §5).
    Why one row per transaction: docs/performance-notes.md, seventh pass."""
    external = ", ".join(f"ALTER COLUMN {c} SET STORAGE EXTERNAL" for c in ("event_ids", "keys", '"values"', "headers", "copies"))  # fmt: skip
    return [
        _OUTBOX_BATCHES,
        f"ALTER TABLE outbox_batches {external}",
        "CREATE INDEX ix_outbox_batches_unpublished ON outbox_batches (id) WHERE published_at IS NULL",
        _OUTBOX_RECORDS_VIEW,
    ]


def drop_outbox_batches_ddl() -> list[str]:
    """The downgrade of :func:`outbox_batches_ddl`: every record of ``outbox_batches``, and every
    flagged copy, becomes a row of the per-record ``outbox`` (after its rows; per topic, in order),
    keeping its timestamps (nothing pending is lost, nothing published is sent again)."""
    return [
        "DROP VIEW outbox_records",
        "INSERT INTO outbox (event_id, topic, key, value, headers, created_at, published_at) "
        "SELECT r.event_id, b.topic, r.key, r.value, r.headers::jsonb, b.created_at, b.published_at "
        'FROM outbox_batches b CROSS JOIN LATERAL unnest(b.event_ids, b.keys, b."values", b.headers) '
        "WITH ORDINALITY AS r(event_id, key, value, headers, n) "
        "ORDER BY b.id, r.n",
        "INSERT INTO outbox (event_id, topic, key, value, headers, created_at, published_at) "
        "SELECT r.event_id, b.copy_topic, r.key, r.value, r.headers::jsonb, b.created_at, b.published_at "
        'FROM outbox_batches b CROSS JOIN LATERAL unnest(b.event_ids, b.keys, b."values", b.headers, b.copies) '
        "WITH ORDINALITY AS r(event_id, key, value, headers, copied, n) "
        "WHERE b.copy_topic IS NOT NULL AND r.copied ORDER BY b.id, r.n",
        "DROP TABLE outbox_batches",
    ]
