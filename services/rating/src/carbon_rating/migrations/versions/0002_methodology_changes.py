"""methodology_changes: append-only audit of methodology activations (who, when, from -> to, digest)

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-26 07:30:00
"""
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

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
    # Append-only: the audit trail is not editable through the application's role. (TRUNCATE and
    # DROP need the table owner; the service role should not own it in production.)
    op.execute(
        """
        CREATE FUNCTION methodology_changes_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN
            RAISE EXCEPTION 'methodology_changes is append-only: % refused', TG_OP
                USING ERRCODE = 'insufficient_privilege';
        END $$
        """
    )
    op.execute(
        """
        CREATE TRIGGER methodology_changes_append_only BEFORE UPDATE OR DELETE ON methodology_changes
            FOR EACH ROW EXECUTE FUNCTION methodology_changes_append_only()
        """
    )


def downgrade() -> None:
    op.execute("DROP TRIGGER IF EXISTS methodology_changes_append_only ON methodology_changes")
    op.execute("DROP FUNCTION IF EXISTS methodology_changes_append_only()")
    op.drop_table('methodology_changes')
