"""accounts: verified vs computed emissions cross-check (both values, both sources, tolerance)

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-26 07:30:00
"""
from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # nullable additions: existing rows read as "not verified" until their month is recomputed
    op.add_column("accounts", sa.Column("verified_tco2", sa.Numeric(), nullable=True))
    op.add_column("accounts", sa.Column("verified_by", sa.String(length=400), nullable=True))
    op.add_column("accounts", sa.Column("computed_from", sa.String(length=400), nullable=True))
    op.add_column("accounts", sa.Column("verification_tolerance", sa.Numeric(), nullable=True))


def downgrade() -> None:
    for column in ("verification_tolerance", "computed_from", "verified_by", "verified_tco2"):
        op.drop_column("accounts", column)
