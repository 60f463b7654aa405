"""factor_set_changes: append-only audit of factor-set publications and activations (who, when, digest)

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-26 08:00:00
"""
from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from carbon_common.migrations import append_only_ddl, drop_append_only_ddl

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

#: the actor of the entries written for sets stored before this trail existed (who is not known)
BACKFILL_ACTOR = "migration 0003 (before the audit trail: who is not known)"


def _digest(content: object) -> str:
    # the same canonical form as FactorSet.digest (sorted keys, no whitespace, UTF-8)
    canonical = json.dumps(content, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(canonical.encode()).hexdigest()


def upgrade() -> None:
    table = op.create_table(
        "factor_set_changes",
        sa.Column("id", sa.BigInteger(), sa.Identity(), nullable=False),
        sa.Column("changed_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("actor", sa.Text(), nullable=False),
        sa.Column("actor_org", sa.Text(), nullable=True),
        sa.Column("action", sa.String(length=20), nullable=False),
        sa.Column("set_id", sa.String(length=80), nullable=False),
        sa.Column("version", sa.String(length=40), nullable=False),
        sa.Column("digest", sa.String(length=64), nullable=False),
        sa.Column("previous_set_id", sa.String(length=80), nullable=True),
        sa.Column("previous_version", sa.String(length=40), nullable=True),
        sa.Column("reason", sa.Text(), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_factor_set_changes")),
        sa.CheckConstraint(
            "action IN ('published', 'activated', 'seeded')", name=op.f("ck_factor_set_changes_action")
        ),
    )
    # Append-only: the trail is not editable through the application's role. Row triggers refuse
    # UPDATE and DELETE, a statement trigger refuses TRUNCATE (DROP needs the table owner; the
    # service role should not own it in production).
    for ddl in append_only_ddl("factor_set_changes"):
        op.execute(ddl)
    # Sets stored before the trail existed: one entry each (and one for the active set), dated by
    # the table's own timestamps, with an actor that says who is not known.
    bind = op.get_bind()
    stored = bind.execute(
        sa.text(
            "SELECT id, version, content, active, created_at, activated_at FROM factor_sets"
            " ORDER BY created_at, id, version"
        )
    ).all()
    rows = []
    for r in stored:
        base = {"actor": BACKFILL_ACTOR, "set_id": r.id, "version": r.version, "digest": _digest(r.content)}
        rows.append({**base, "changed_at": r.created_at, "action": "published"})
        if r.active:
            rows.append({**base, "changed_at": r.activated_at or r.created_at, "action": "activated"})
    if rows:
        op.bulk_insert(table, sorted(rows, key=lambda x: x["changed_at"]))


def downgrade() -> None:
    for ddl in drop_append_only_ddl("factor_set_changes"):
        op.execute(ddl)
    op.drop_table("factor_set_changes")
