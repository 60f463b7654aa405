"""methodology_changes: append-only audit of methodology activations (who, when, from -> to, digest)

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-26 07:30:00
"""
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from carbon_common.migrations import append_only_ddl, drop_append_only_ddl

revision: str = '0002'
down_revision: str | None = '0001'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        'methodology_changes',
        sa.Column('id', sa.BigInteger(), autoincrement=True, nullable=False),
        sa.Column('changed_at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('actor', sa.String(length=200), nullable=False),
        sa.Column('actor_org', sa.String(length=100), nullable=True),
        sa.Column('source', sa.String(length=20), nullable=False),
        sa.Column('from_version', sa.String(length=20), nullable=True),
        sa.Column('from_digest', sa.String(length=64), nullable=True),
        sa.Column('to_version', sa.String(length=20), nullable=False),
        sa.Column('to_digest', sa.String(length=64), nullable=False),
        sa.Column('reason', sa.Text(), nullable=True),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_methodology_changes')),
    )
    # Append-only: UPDATE, DELETE and TRUNCATE are refused by the database itself.
    for ddl in append_only_ddl("methodology_changes"):
        op.execute(ddl)


def downgrade() -> None:
    for ddl in drop_append_only_ddl("methodology_changes"):
        op.execute(ddl)
    op.drop_table('methodology_changes')
