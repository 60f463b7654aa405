"""facts: a view of fact_history (the highest revision of each fact_key) instead of a second table

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-26 12:30:00

Every fact revision used to be written twice (``fact_history`` and the ``facts`` upsert) and
the inbox a third time; the history alone holds the same information (``facts`` was always
its highest revision per ``fact_key``). The consumer now writes only the history, marking the
revisions a higher one replaces ``superseded`` (only corrections do that), reads the current
facts of a month through ``ix_fact_history_credit_code_period``, and ``facts`` stays as a view for readers of the old table (ad-hoc SQL, the
benchmark's probes, the fault tests' digest). docs/performance-notes.md has the numbers.
"""
from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_COLUMNS = (
    "fact_key, fact_id, revision, credit_code, department, record_id, indicator, period, value,"
    " unit, evidence_hash, authoritative, attributes, received_at"
)
#: the current revision of every fact (no higher revision of the same fact_key is stored)
CURRENT_FACTS_VIEW = f"CREATE VIEW facts AS SELECT {_COLUMNS} FROM fact_history WHERE NOT superseded"


def upgrade() -> None:
    op.add_column(
        "fact_history",
        sa.Column("superseded", sa.Boolean(), server_default=sa.text("false"), nullable=False),
    )
    op.execute(
        "UPDATE fact_history h SET superseded = true WHERE EXISTS"
        " (SELECT 1 FROM fact_history n WHERE n.fact_key = h.fact_key AND n.revision > h.revision)"
    )
    op.create_index("ix_fact_history_credit_code_period", "fact_history", ["credit_code", "period"])
    # the table held exactly the view's rows (the highest revision of each fact_key; an equal
    # revision never replaced the first one), so nothing is lost by dropping it
    op.drop_index("ix_facts_credit_code_period", table_name="facts")
    op.drop_table("facts")
    op.execute(CURRENT_FACTS_VIEW)


def downgrade() -> None:
    op.execute("DROP VIEW facts")
    op.execute(
        "CREATE TABLE facts (fact_key varchar(320) NOT NULL, fact_id varchar(100) NOT NULL,"
        " revision integer NOT NULL, credit_code varchar(18) NOT NULL, department varchar(100) NOT NULL,"
        " record_id varchar(200) NOT NULL, indicator varchar(100) NOT NULL, period varchar(7) NOT NULL,"
        " value numeric NOT NULL, unit varchar(40) NOT NULL, evidence_hash varchar(200) NOT NULL,"
        " authoritative boolean NOT NULL, attributes jsonb DEFAULT '{}'::jsonb NOT NULL,"
        " received_at timestamptz DEFAULT now() NOT NULL, CONSTRAINT pk_facts PRIMARY KEY (fact_key))"
    )
    op.execute(
        f"INSERT INTO facts ({_COLUMNS}) SELECT DISTINCT ON (fact_key) {_COLUMNS} FROM fact_history"
        " ORDER BY fact_key, revision DESC"
    )
    op.create_index("ix_facts_credit_code_period", "facts", ["credit_code", "period"])
    op.drop_index("ix_fact_history_credit_code_period", table_name="fact_history")
    op.drop_column("fact_history", "superseded")
