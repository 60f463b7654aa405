"""Alembic environment of the ingest database (async; see carbon_common.migrations)."""

from carbon_common.migrations import run_env
from carbon_ingest.adapters.orm import metadata

run_env(metadata)
