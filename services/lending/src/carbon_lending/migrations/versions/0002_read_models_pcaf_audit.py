"""read-model change feed, borrowers' emissions and finance (PCAF), KPI targets, policy audit

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-26 (written by hand)
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

from carbon_common.migrations import append_only_ddl, drop_append_only_ddl

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

NOW = sa.text("now()")


def upgrade() -> None:
    # the quote path's in-memory read model polls these to learn other processes' changes
    op.add_column(
        "current_ratings",
        sa.Column("updated_at", sa.DateTime(timezone=True), server_default=NOW, nullable=False),
    )
    op.create_index("ix_current_ratings_updated_at", "current_ratings", ["updated_at"])
    op.create_index("ix_enterprises_updated_at", "enterprises", ["updated_at"])
    op.add_column(
        "loans",
        sa.Column(
            "kpi_targets",
            postgresql.JSONB(astext_type=sa.Text()),
            nullable=True,
            comment="KPI ratchet targets agreed at origination",
        ),
    )
    op.create_table(
        "enterprise_emissions",
        sa.Column("credit_code", sa.String(length=18), nullable=False),
        sa.Column("period", sa.String(length=7), nullable=False),
        sa.Column("total_tco2", sa.Numeric(precision=20, scale=4), nullable=False),
        sa.Column("output_quantity", sa.Numeric(precision=24, scale=4), nullable=True),
        sa.Column("output_unit", sa.String(length=40), nullable=True),
        sa.Column("data_quality_score", sa.Numeric(precision=4, scale=2), nullable=False),
        sa.Column("calculation_version", sa.Integer(), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), server_default=NOW, nullable=False),
        sa.PrimaryKeyConstraint("credit_code", "period", name="pk_enterprise_emissions"),
    )
    op.create_table(
        "enterprise_finance",
        sa.Column("credit_code", sa.String(length=18), nullable=False),
        sa.Column("indicator", sa.String(length=60), nullable=False),
        sa.Column("period", sa.String(length=7), nullable=False),
        sa.Column("value", sa.Numeric(precision=24, scale=4), nullable=False),
        sa.Column("unit", sa.String(length=20), nullable=False),
        sa.Column("authoritative", sa.Boolean(), nullable=False),
        sa.Column("recorded_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("fact_id", sa.String(length=64), nullable=False),
        sa.PrimaryKeyConstraint("credit_code", "indicator", "period", name="pk_enterprise_finance"),
    )
    op.create_table(
        "policy_audit",
        sa.Column("id", sa.BigInteger(), autoincrement=True, nullable=False),
        sa.Column("bank_id", sa.String(length=64), nullable=False),
        sa.Column("version", sa.String(length=40), nullable=False),
        sa.Column("digest", sa.String(length=64), nullable=False),
        sa.Column("previous_version", sa.String(length=40), nullable=True),
        sa.Column("previous_digest", sa.String(length=64), nullable=True),
        sa.Column("changed_by", sa.String(length=200), nullable=False),
        sa.Column("changed_at", sa.DateTime(timezone=True), server_default=NOW, nullable=False),
        sa.Column("source", sa.String(length=300), nullable=False),
        sa.Column("document", postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_policy_audit")),
    )
    op.create_index("ix_policy_audit_bank_id", "policy_audit", ["bank_id", "id"])
    # append-only: the database itself refuses to rewrite or delete the history
    for ddl in append_only_ddl("policy_audit"):
        op.execute(ddl)


def downgrade() -> None:
    for ddl in drop_append_only_ddl("policy_audit"):
        op.execute(ddl)
    op.drop_index("ix_policy_audit_bank_id", table_name="policy_audit")
    op.drop_table("policy_audit")
    op.drop_table("enterprise_finance")
    op.drop_table("enterprise_emissions")
    op.drop_column("loans", "kpi_targets")
    op.drop_index("ix_enterprises_updated_at", table_name="enterprises")
    op.drop_index("ix_current_ratings_updated_at", table_name="current_ratings")
    op.drop_column("current_ratings", "updated_at")
