"""Alembic environment of the accounting database (async, via carbon_common)."""

from carbon_accounting.adapters.orm import metadata
from carbon_common.migrations import run_env

run_env(metadata)
