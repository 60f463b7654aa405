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
