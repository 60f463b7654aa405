"""Rating's tables: read models of the directory, accounts and conduct facts, plus its own state
(ratings, objections, the query log), the outbox and the inbox — all on one MetaData."""

from __future__ import annotations

from sqlalchemy import (
    BigInteger,
    Boolean,
    Column,
    DateTime,
    Index,
    Integer,
    Numeric,
    String,
    Table,
    Text,
    UniqueConstraint,
)
from sqlalchemy.dialects.postgresql import JSONB

from carbon_common.db import new_metadata
from carbon_common.inbox import inbox_table
from carbon_common.outbox import outbox_table

metadata = new_metadata()

enterprises = Table(
    "enterprises",
    metadata,
    Column("credit_code", String(18), primary_key=True),
    Column("name", Text, nullable=False),
    Column("region_code", String(12), nullable=False),
    Column("industry_code", String(8), nullable=False),
    Column("size_class", String(10), nullable=False),
    Column("transition_stage", String(10), nullable=False),
    Column("ets_participant", Boolean, nullable=False),
    Column("revision", Integer, nullable=False),
)

accounts = Table(
    "accounts",
    metadata,
    Column("credit_code", String(18), primary_key=True),
    Column("period", String(7), primary_key=True),
    Column("industry_code", String(8), nullable=True),
    Column("total_tco2", Numeric, nullable=False),
    Column("output_quantity", Numeric, nullable=True),
    Column("output_unit", String(20), nullable=True),
    Column("revenue_10k_cny", Numeric, nullable=True),
    Column("data_quality_score", Numeric, nullable=False),
    Column("factor_set", String(100), nullable=False),
    Column("calculation_version", Integer, nullable=False),
    Index("ix_accounts_industry_period", "industry_code", "period"),
)

conduct_facts = Table(
    "conduct_facts",
    metadata,
    Column("fact_key", String(300), primary_key=True),
    Column("revision", Integer, nullable=False),
    Column("credit_code", String(18), nullable=False),
    Column("indicator", String(60), nullable=False),
    Column("period", String(7), nullable=False),
    Column("value", Numeric, nullable=False),
    Column("attributes", JSONB, nullable=False),
    Index("ix_conduct_facts_code_period", "credit_code", "period"),
)


#: per enterprise: (count, Σ calculation_version) of its accounts, (count, Σ revision) of its conduct
#: facts; written only by statement triggers on accounts / conduct_facts (migration 0003), read by
#: the input cache's check (``statements.ACCOUNT_STAMPS``, ``FACT_STAMPS``)
def _stamp_table(name: str) -> Table:
    return Table(
        name,
        metadata,
        Column("credit_code", String(18), primary_key=True),
        Column("n", BigInteger, nullable=False),
        Column("total", BigInteger, nullable=False),
    )


account_stamps = _stamp_table("account_stamps")
fact_stamps = _stamp_table("fact_stamps")

ratings = Table(
    "ratings",
    metadata,
    Column("rating_id", String(64), primary_key=True),
    Column("credit_code", String(18), nullable=False),
    Column("seq", Integer, nullable=False),
    Column("as_of_period", String(7), nullable=False),
    Column("industry_code", String(8), nullable=False),
    Column("stage", String(10), nullable=False),
    Column("score", Numeric(6, 2), nullable=False),
    Column("label", String(12), nullable=False),
    Column("previous_label", String(12), nullable=True),
    Column("confidence", Numeric(4, 2), nullable=False),
    Column("methodology_version", String(20), nullable=False),
    Column("vetoes", JSONB, nullable=False),
    Column("details", JSONB, nullable=False),
    Column("account_ref", String(100), nullable=True),
    Column("reason", String(30), nullable=False),
    Column("objection_id", String(64), nullable=True),
    Column("issued_at", DateTime(timezone=True), nullable=False),
    Column("is_current", Boolean, nullable=False),
    UniqueConstraint("credit_code", "seq", name="uq_ratings_credit_code_seq"),
    Index("ix_ratings_current", "credit_code", unique=True, postgresql_where="is_current"),
)

rating_queries = Table(
    "rating_queries",
    metadata,
    Column("id", BigInteger, primary_key=True, autoincrement=True),
    Column("credit_code", String(18), nullable=False),
    Column("org", String(100), nullable=False),
    Column("rating_id", String(64), nullable=True),
    Column("resource", String(20), nullable=False),
    Column("purpose", Text, nullable=True),
    Column("queried_at", DateTime(timezone=True), nullable=False),
    Index("ix_rating_queries_code", "credit_code", "id"),
)

objections = Table(
    "objections",
    metadata,
    Column("objection_id", String(64), primary_key=True),
    Column("credit_code", String(18), nullable=False),
    Column("rating_id", String(64), nullable=False),
    Column("filed_by", String(100), nullable=False),
    Column("reason", Text, nullable=False),
    Column("evidence", JSONB, nullable=False),
    Column("status", String(12), nullable=False),
    Column("filed_at", DateTime(timezone=True), nullable=False),
    Column("due_at", DateTime(timezone=True), nullable=False),
    Column("decided_at", DateTime(timezone=True), nullable=True),
    Column("reviewer", String(100), nullable=True),
    Column("decision_reason", Text, nullable=True),
    Column("new_rating_id", String(64), nullable=True),
    Index("ix_objections_code", "credit_code"),
    Index("ix_objections_status", "status"),
)

#: append-only audit of the methodology in force (a trigger refuses UPDATE and DELETE: migration 0002)
methodology_changes = Table(
    "methodology_changes",
    metadata,
    Column("id", BigInteger, primary_key=True, autoincrement=True),
    Column("changed_at", DateTime(timezone=True), nullable=False),
    Column("actor", String(200), nullable=False),
    Column("actor_org", String(100), nullable=True),
    Column("source", String(20), nullable=False),
    Column("from_version", String(20), nullable=True),
    Column("from_digest", String(64), nullable=True),
    Column("to_version", String(20), nullable=False),
    Column("to_digest", String(64), nullable=False),
    Column("reason", Text, nullable=True),
)

outbox = outbox_table(metadata)
inbox = inbox_table(metadata)
