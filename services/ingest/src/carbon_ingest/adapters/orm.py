"""Tables of the ingest database (one MetaData; Alembic migrations are generated from it)."""

from __future__ import annotations

from sqlalchemy import (
    BigInteger,
    Boolean,
    Column,
    DateTime,
    Index,
    Integer,
    Numeric,
    PrimaryKeyConstraint,
    String,
    Table,
    Text,
    UniqueConstraint,
    func,
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
    Column("region_code", String(6), nullable=False),
    Column("industry_code", String(4), nullable=False),
    Column("size_class", String(10), nullable=False),
    Column("transition_stage", String(10), nullable=False),
    Column("ets_participant", Boolean, nullable=False),
    Column("revision", Integer, nullable=False),
    Column("updated_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    Index("ix_enterprises_region_industry", "region_code", "industry_code"),
    Index("ix_enterprises_industry", "industry_code"),
)

#: every revision of every fact (history; never updated)
facts = Table(
    "facts",
    metadata,
    Column("fact_id", String(36), primary_key=True),
    Column("department", String(40), nullable=False),
    Column("record_id", String(200), nullable=False),
    Column("revision", Integer, nullable=False),
    Column("credit_code", String(18), nullable=False),
    Column("indicator", String(60), nullable=False),
    Column("period", String(7), nullable=False),
    Column("value", Numeric, nullable=False),
    Column("unit", String(20), nullable=False),
    Column("original_value", Text, nullable=False),
    Column("original_unit", String(20), nullable=False),
    Column("attributes", JSONB, nullable=False),
    Column("authoritative", Boolean, nullable=False),
    Column("content_hash", String(64), nullable=False),
    Column("evidence_hash", String(64), nullable=False),
    Column("submission_id", String(36), nullable=False),
    Column("recorded_at", DateTime(timezone=True), nullable=False),
    # (no index by enterprise: no query of the service reads facts that way, and every index here
    # is written under the evidence-chain lock; migration 0002 dropped ix_facts_credit_code_period)
    UniqueConstraint("department", "record_id", "revision", name="uq_facts_key_revision"),
)

#: the latest revision per fact key (idempotency, corrections, cross-validation)
fact_heads = Table(
    "fact_heads",
    metadata,
    Column("department", String(40), nullable=False),
    Column("record_id", String(200), nullable=False),
    Column("revision", Integer, nullable=False),
    Column("content_hash", String(64), nullable=False),
    Column("fact_id", String(36), nullable=False),
    Column("credit_code", String(18), nullable=False),
    Column("indicator", String(60), nullable=False),
    Column("period", String(7), nullable=False),
    Column("value", Numeric, nullable=False),
    Column("authoritative", Boolean, nullable=False),
    PrimaryKeyConstraint("department", "record_id", name="pk_fact_heads"),
    # one enterprise's series of one indicator, in period order: the plausibility window (one
    # range per checked month), cross-validation's (credit_code, indicator, period) lookups and
    # the quality summary (credit_code); migration 0002 (it was (credit_code, period, indicator))
    Index("ix_fact_heads_series", "credit_code", "indicator", "period"),
)

#: append-only hash chain over facts (seq is assigned under pg_advisory_xact_lock)
evidence = Table(
    "evidence",
    metadata,
    Column("seq", BigInteger, primary_key=True, autoincrement=False),
    Column("fact_id", String(36), nullable=False, unique=True),
    Column("prev_hash", String(64), nullable=False),
    Column("entry_hash", String(64), nullable=False),
    Column("appended_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
)

submissions = Table(
    "submissions",
    metadata,
    Column("submission_id", String(36), primary_key=True),
    Column("department", String(40), nullable=False),
    Column("channel", String(10), nullable=False),
    Column("catalogue_version", Integer, nullable=False),
    Column("received", Integer, nullable=False),
    Column("accepted", Integer, nullable=False),
    Column("duplicates", Integer, nullable=False),
    Column("corrections", Integer, nullable=False),
    Column("rejected", Integer, nullable=False),
    Column("received_at", DateTime(timezone=True), nullable=False),
)

submission_rejections = Table(
    "submission_rejections",
    metadata,
    Column("submission_id", String(36), nullable=False),
    Column("position", Integer, nullable=False),
    Column("record_id", String(200), nullable=False),
    Column("field", String(80), nullable=False),
    Column("reason", Text, nullable=False),
    PrimaryKeyConstraint("submission_id", "position", name="pk_submission_rejections"),
)

quality_flags = Table(
    "quality_flags",
    metadata,
    Column("credit_code", String(18), nullable=False),
    Column("period", String(7), nullable=False),
    Column("indicator", String(60), nullable=False),
    Column("check", String(30), nullable=False),
    Column("department", String(40), nullable=False),
    Column("value", Numeric, nullable=False),
    Column("reference_departments", Text, nullable=False),
    Column("reference_value", Numeric, nullable=False),
    Column("relative_difference", Numeric, nullable=True),
    Column("tolerance", Numeric, nullable=False),
    Column("raised_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    PrimaryKeyConstraint(
        "credit_code", "period", "indicator", "check", "department", name="pk_quality_flags"
    ),
)

outbox = outbox_table(metadata)
inbox = inbox_table(metadata)
