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
