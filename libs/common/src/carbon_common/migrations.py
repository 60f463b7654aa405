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


#: the outbox with one row per transaction and topic (``carbon_common.outbox``), as created by each
#: service's migration from per-record rows; frozen with those migrations (a later change to the
#: table is a new migration, not an edit here)
_OUTBOX_BATCHED = """
CREATE TABLE outbox (
    id bigserial CONSTRAINT pk_outbox PRIMARY KEY,
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
    CONSTRAINT ck_outbox_arrays_match CHECK (
        records > 0 AND cardinality(event_ids) = records AND cardinality(keys) = records
        AND cardinality("values") = records AND cardinality(headers) = records
        AND (copies IS NULL OR cardinality(copies) = records)
    )
)
"""

_OUTBOX_PER_RECORD = """
CREATE TABLE outbox (
    id bigserial CONSTRAINT pk_outbox PRIMARY KEY,
    event_id varchar(64) NOT NULL,
    topic varchar(200) NOT NULL,
    key bytea,
    value bytea,
    headers jsonb NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now(),
    published_at timestamptz
)
"""


#: one row per record, copies included (for operators' queries and tests; nothing reads it on the
#: hot path): the row's id and the record's position in it, in the relay's order
_OUTBOX_RECORDS_VIEW = """
CREATE VIEW outbox_records AS
SELECT o.id, r.n AS position, o.topic, r.event_id, r.key, r.value, r.headers, o.created_at, o.published_at
FROM outbox o
CROSS JOIN LATERAL unnest(o.event_ids, o.keys, o."values", o.headers) WITH ORDINALITY AS r(event_id, key, value, headers, n)
UNION ALL
SELECT o.id, r.n, o.copy_topic, r.event_id, r.key, r.value, r.headers, o.created_at, o.published_at
FROM outbox o
CROSS JOIN LATERAL unnest(o.event_ids, o.keys, o."values", o.headers, o.copies)
    WITH ORDINALITY AS r(event_id, key, value, headers, copied, n)
WHERE o.copy_topic IS NOT NULL AND r.copied
"""


def _set_aside(name: str) -> list[str]:
    return [
        f"ALTER TABLE outbox RENAME TO {name}",
        f"ALTER TABLE {name} RENAME CONSTRAINT pk_outbox TO pk_{name}",
        f"ALTER INDEX ix_outbox_unpublished RENAME TO ix_{name}_unpublished",
        f"ALTER SEQUENCE outbox_id_seq RENAME TO {name}_id_seq",
    ]


def outbox_batched_rows_ddl() -> list[str]:
    """DDL (for ``op.execute``) that turns a per-record outbox into one row per transaction and
    topic: every existing row becomes a row of one record (same order, same timestamps, so nothing
    pending is lost and nothing published is sent again), headers ``jsonb`` → ``json``, the
    arrays stored out of line uncompressed; the view ``outbox_records`` shows one row per record."""
    external = ", ".join(f"ALTER COLUMN {c} SET STORAGE EXTERNAL" for c in ("event_ids", "keys", '"values"', "headers", "copies"))  # fmt: skip
    return [
        *_set_aside("outbox_per_record"),
        _OUTBOX_BATCHED,
        f"ALTER TABLE outbox {external}",
        "CREATE INDEX ix_outbox_unpublished ON outbox (id) WHERE published_at IS NULL",
        'INSERT INTO outbox (topic, records, event_ids, keys, "values", headers, created_at, published_at) '
        "SELECT topic, 1, ARRAY[event_id], ARRAY[key], ARRAY[value], ARRAY[headers::json], created_at, published_at "
        "FROM outbox_per_record ORDER BY id",
        "DROP TABLE outbox_per_record",
        _OUTBOX_RECORDS_VIEW,
    ]


def outbox_per_record_ddl() -> list[str]:
    """The downgrade of :func:`outbox_batched_rows_ddl`: one row per record again, in row order;
    each copy to a ``copy_topic`` becomes a row of its own, after all the originals (per topic, the
    order holds)."""
    return [
        "DROP VIEW outbox_records",
        *_set_aside("outbox_batched"),
        _OUTBOX_PER_RECORD,
        "CREATE INDEX ix_outbox_unpublished ON outbox (id) WHERE published_at IS NULL",
        "INSERT INTO outbox (event_id, topic, key, value, headers, created_at, published_at) "
        "SELECT r.event_id, b.topic, r.key, r.value, r.headers::jsonb, b.created_at, b.published_at "
        'FROM outbox_batched b CROSS JOIN LATERAL unnest(b.event_ids, b.keys, b."values", b.headers) '
        "WITH ORDINALITY AS r(event_id, key, value, headers, n) "
        "ORDER BY b.id, r.n",
        "INSERT INTO outbox (event_id, topic, key, value, headers, created_at, published_at) "
        "SELECT r.event_id, b.copy_topic, r.key, r.value, r.headers::jsonb, b.created_at, b.published_at "
        'FROM outbox_batched b CROSS JOIN LATERAL unnest(b.event_ids, b.keys, b."values", b.headers, b.copies) '
        "WITH ORDINALITY AS r(event_id, key, value, headers, copied, n) "
        "WHERE b.copy_topic IS NOT NULL AND r.copied ORDER BY b.id, r.n",
        "DROP TABLE outbox_batched",
    ]
