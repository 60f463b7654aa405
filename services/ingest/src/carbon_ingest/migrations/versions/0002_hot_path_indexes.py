"""hot-path indexes: fact_heads' secondary index ordered (credit_code, indicator, period); no
(credit_code, period) index on facts

- The plausibility check reads, per checked month, one enterprise's months of one indicator over
  a window of periods. Ordered (credit_code, period, indicator), the index made each such read
  scan every indicator of the enterprise over the window; ordered (credit_code, indicator,
  period) it is one short range. Cross-validation's lookup (credit_code, indicator and period
  each = ANY) and the quality summary (credit_code) use either order. Same columns: no extra
  cost per insert.
- ``ix_facts_credit_code_period`` served no query of the service (facts are read by fact id, by
  (department, record_id) and through the evidence chain); it cost one index insert per fact
  under the evidence-chain lock (about a tenth of the chain append's buffer visits).

See docs/performance-notes.md "Ingest: PostgreSQL cost of the plausibility check".

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-26 12:40:00
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_index(
        "ix_fact_heads_series", "fact_heads", ["credit_code", "indicator", "period"], unique=False
    )
    op.drop_index("ix_fact_heads_enterprise", table_name="fact_heads")
    op.drop_index("ix_facts_credit_code_period", table_name="facts")


def downgrade() -> None:
    op.create_index("ix_facts_credit_code_period", "facts", ["credit_code", "period"], unique=False)
    op.create_index(
        "ix_fact_heads_enterprise", "fact_heads", ["credit_code", "period", "indicator"], unique=False
    )
    op.drop_index("ix_fact_heads_series", table_name="fact_heads")
