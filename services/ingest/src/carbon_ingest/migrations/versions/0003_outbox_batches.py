"""outbox_batches: the outbox as one row per transaction and topic (records as arrays), beside the
per-record ``outbox`` (expand)

Marking per-record rows sent rewrote every ~1 kB event: ~11 s of ingest's database in a pilot
replay. One row per transaction and topic, its arrays out of line, makes the mark one small write
per transaction (``carbon_common.outbox``); headers as ``json`` (validated, kept as written)
instead of ``jsonb`` (parsed into binary and printed back for the relay).
Ingest writes a transaction's ``FactRecorded`` events as one row, the credit stream's copies
flagged in ``copies`` (``copy_topic`` ``ingest.credit-facts.v1``).

The per-record ``outbox`` stays: pods of the previous release keep writing and relaying it during
the rollout, and this release's relay drains it before its own rows. A later release drops it once
it is empty (docs/operations.md §5). ``outbox_records`` shows one row per record of both.
See docs/performance-notes.md, "seventh pass".

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
