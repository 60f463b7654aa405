"""Alembic environment for rating's database (async; shared body in carbon_common.migrations)."""

from carbon_common.migrations import run_env
from carbon_rating.adapters.orm import metadata

run_env(metadata)
