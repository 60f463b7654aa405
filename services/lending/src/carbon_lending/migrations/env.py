"""Alembic environment for lending (async, via carbon_common.migrations.run_env)."""

from carbon_common.migrations import run_env
from carbon_lending.adapters.orm import metadata

run_env(metadata)
