"""outbox_batches beside the per-record outbox (expand): see carbon_common.migrations.outbox_batches_ddl

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-26 21:40:00
"""

from collections.abc import Sequence

from alembic import op

from carbon_common.migrations import drop_outbox_batches_ddl, outbox_batches_ddl

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    for statement in outbox_batches_ddl():
        op.execute(statement)


def downgrade() -> None:
    for statement in drop_outbox_batches_ddl():
        op.execute(statement)
