"""open objections to ratings (from rating's ObjectionChanged), for the approval track

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-26 (written by hand)
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "rating_objections",
        sa.Column("objection_id", sa.String(length=64), nullable=False),
        sa.Column("credit_code", sa.String(length=18), nullable=False),
        sa.Column("rating_id", sa.String(length=64), nullable=False),
        sa.Column("state", sa.String(length=20), nullable=False),
        sa.Column("open", sa.Boolean(), nullable=False),
        sa.Column("sequence", sa.Integer(), nullable=False),
        sa.Column("changed_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.PrimaryKeyConstraint("objection_id", name=op.f("pk_rating_objections")),
    )
    op.create_index(
        "ix_rating_objections_open_credit_code",
        "rating_objections",
        ["credit_code"],
        postgresql_where=sa.text("open"),
    )
    op.create_index("ix_rating_objections_updated_at", "rating_objections", ["updated_at"])


def downgrade() -> None:
    op.drop_index("ix_rating_objections_updated_at", table_name="rating_objections")
    op.drop_index("ix_rating_objections_open_credit_code", table_name="rating_objections")
    op.drop_table("rating_objections")
