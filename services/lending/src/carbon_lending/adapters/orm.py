"""Lending's tables (one MetaData, including the outbox and inbox of carbon_common).

Money is NUMERIC(20,2) CNY, rates NUMERIC(9,4) percent, basis points NUMERIC(9,2). The read
models (``enterprises``, ``ratings``, ``current_ratings``) are lending's own copies of other
services' events; nothing here is ever read by another service.
"""

from __future__ import annotations

from sqlalchemy import (
    BigInteger,
    Boolean,
    Column,
    Date,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    Numeric,
    PrimaryKeyConstraint,
    String,
    Table,
    UniqueConstraint,
    func,
    text,
)
from sqlalchemy.dialects.postgresql import JSONB

from carbon_common.db import new_metadata
from carbon_common.inbox import inbox_table
from carbon_common.outbox import outbox_table

metadata = new_metadata()
outbox = outbox_table(metadata)
inbox = inbox_table(metadata)

MONEY = Numeric(20, 2)
RATE = Numeric(9, 4)
BPS = Numeric(9, 2)

enterprises = Table(
    "enterprises",
    metadata,
    Column("credit_code", String(18), primary_key=True),
    Column("name", String(300), nullable=False),
    Column("industry_code", String(10), nullable=False),
    Column("region_code", String(12), nullable=False),
    Column("size_class", String(10), nullable=False),
    Column("transition_stage", String(10), nullable=False),
    Column("ets_participant", Boolean, nullable=False, server_default="false"),
    Column("revision", Integer, nullable=False),
    Column("updated_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    Index("ix_enterprises_updated_at", "updated_at"),
)

_rating_columns = (
    ("score", Numeric(7, 2)),
    ("label", String(12)),
    ("confidence", Numeric(5, 4)),
    ("methodology_version", String(40)),
    ("issued_at", DateTime(timezone=True)),
    ("as_of_period", String(7)),
    ("transition_stage", String(10)),
)

ratings = Table(
    "ratings",
    metadata,
    Column("rating_id", String(64), primary_key=True),
    Column("credit_code", String(18), nullable=False),
    *(Column(n, t, nullable=False) for n, t in _rating_columns),
    Column("vetoes", JSONB, nullable=False),
    Column("previous_label", String(12), nullable=True),
    Index("ix_ratings_credit_code_issued", "credit_code", "issued_at"),
)

current_ratings = Table(
    "current_ratings",
    metadata,
    Column("credit_code", String(18), primary_key=True),
    Column("rating_id", String(64), nullable=False),
    *(Column(n, t, nullable=False) for n, t in _rating_columns),
    Column("vetoes", JSONB, nullable=False),
    Column("updated_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    Index("ix_current_ratings_updated_at", "updated_at"),
)

#: objections (异议复核) to enterprises' ratings, from rating's ``ObjectionChanged``: while one is
#: open the quote's approval track is manual review; the highest (sequence, changed_at) wins
rating_objections = Table(
    "rating_objections",
    metadata,
    Column("objection_id", String(64), primary_key=True),
    Column("credit_code", String(18), nullable=False),
    Column("rating_id", String(64), nullable=False),
    Column("state", String(20), nullable=False),
    Column("open", Boolean, nullable=False),
    Column("sequence", Integer, nullable=False),
    Column("changed_at", DateTime(timezone=True), nullable=False),
    Column("updated_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    Index("ix_rating_objections_open_credit_code", "credit_code", postgresql_where=text("open")),
    Index("ix_rating_objections_updated_at", "updated_at"),
)

quotes = Table(
    "quotes",
    metadata,
    Column("quote_id", String(36), primary_key=True),
    Column("bank_id", String(64), nullable=False),
    Column("idempotency_key", String(200), nullable=True),
    Column("request_hash", String(64), nullable=False),
    Column("credit_code", String(18), nullable=False),
    Column("product", String(40), nullable=False),
    Column("amount_cny", MONEY, nullable=False),
    Column("annual_rate_pct", RATE, nullable=False),
    Column("rating_id", String(64), nullable=True),
    Column("label", String(12), nullable=True),
    Column("approval_track", String(20), nullable=False),
    Column("quoted_at", DateTime(timezone=True), nullable=False),
    Column("valid_until", DateTime(timezone=True), nullable=False),
    Column("document", JSONB, nullable=False),
    UniqueConstraint("bank_id", "idempotency_key", name="uq_quotes_bank_idempotency_key"),
    Index("ix_quotes_bank_quoted", "bank_id", "quoted_at"),
)

loans = Table(
    "loans",
    metadata,
    Column("loan_id", String(36), primary_key=True),
    Column("bank_id", String(64), nullable=False),
    Column("quote_id", String(36), ForeignKey("quotes.quote_id"), nullable=False),
    Column("bank_loan_ref", String(100), nullable=False),
    Column("credit_code", String(18), nullable=False),
    Column("product", String(40), nullable=False),
    Column("industry_code", String(10), nullable=False),
    Column("principal_cny", MONEY, nullable=False),
    Column("outstanding_cny", MONEY, nullable=False),
    Column("drawn_on", Date, nullable=False),
    Column("term_months", Integer, nullable=False),
    Column("status", String(20), nullable=False),
    Column(
        "rate_pct",
        RATE,
        nullable=False,
        comment="annual rate at origination (ratchet changes in loan_rate_changes)",
    ),
    Column("base_rate_pct", RATE, nullable=False),
    Column("components", JSONB, nullable=False, comment="bp components at origination"),
    Column("ratchet_bp", BPS, nullable=False, server_default="0"),
    Column("origin_label", String(12), nullable=True),
    Column("current_label", String(12), nullable=True),
    Column("rating_id", String(64), nullable=True),
    Column("approval_track", String(20), nullable=False),
    Column("approval_sla_days", Integer, nullable=False),
    Column("allowance_quantity_t", Numeric(20, 4), nullable=True),
    Column("margin_call_open", Boolean, nullable=False, server_default="false"),
    Column("subsidy_cny", MONEY, nullable=False, server_default="0"),
    Column("kpi_targets", JSONB, nullable=True, comment="KPI ratchet targets agreed at origination"),
    Column("created_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    Column("updated_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    UniqueConstraint("bank_id", "bank_loan_ref", name="uq_loans_bank_loan_ref"),
    UniqueConstraint("quote_id", name="uq_loans_quote_id"),
    Index("ix_loans_credit_code", "credit_code"),
    Index("ix_loans_bank_status", "bank_id", "status"),
)

loan_rate_changes = Table(
    "loan_rate_changes",
    metadata,
    Column("loan_id", String(36), ForeignKey("loans.loan_id"), nullable=False),
    Column("effective_from", Date, nullable=False),
    Column("rate_pct", RATE, nullable=False),
    Column("ratchet_bp", BPS, nullable=False),
    Column("rating_id", String(64), nullable=True),
    Column("created_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    PrimaryKeyConstraint("loan_id", "effective_from", name="pk_loan_rate_changes"),
)

loan_events = Table(
    "loan_events",
    metadata,
    Column("id", BigInteger, primary_key=True, autoincrement=True),
    Column("event_id", String(36), nullable=False, unique=True),
    Column("bank_id", String(64), nullable=False),
    Column("loan_id", String(36), nullable=False),
    Column("credit_code", String(18), nullable=False),
    Column("kind", String(30), nullable=False),
    Column("payload", JSONB, nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    Index("ix_loan_events_bank_id", "bank_id", "id"),
)

cea_prices = Table(
    "cea_prices",
    metadata,
    Column("id", BigInteger, primary_key=True, autoincrement=True),
    Column("price_cny", Numeric(12, 2), nullable=False),
    Column("as_of", Date, nullable=False),
    Column("recorded_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
)

#: the borrowers' monthly carbon accounts (from accounting.accounts.v1), for PCAF and KPI ratchets
enterprise_emissions = Table(
    "enterprise_emissions",
    metadata,
    Column("credit_code", String(18), nullable=False),
    Column("period", String(7), nullable=False),
    Column("total_tco2", Numeric(20, 4), nullable=False),
    Column("output_quantity", Numeric(24, 4), nullable=True),
    Column("output_unit", String(40), nullable=True),
    Column("data_quality_score", Numeric(4, 2), nullable=False),
    Column("calculation_version", Integer, nullable=False),
    Column("updated_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    PrimaryKeyConstraint("credit_code", "period", name="pk_enterprise_emissions"),
)

#: the borrowers' finance facts from ingest.credit-facts.v1 (``domain.pcaf.PCAF_INDICATORS``): debt, equity, revenue
enterprise_finance = Table(
    "enterprise_finance",
    metadata,
    Column("credit_code", String(18), nullable=False),
    Column("indicator", String(60), nullable=False),
    Column("period", String(7), nullable=False),
    Column("value", Numeric(24, 4), nullable=False),
    Column("unit", String(20), nullable=False),
    Column("authoritative", Boolean, nullable=False),
    Column("recorded_at", DateTime(timezone=True), nullable=False),
    Column("fact_id", String(64), nullable=False),
    PrimaryKeyConstraint("credit_code", "indicator", "period", name="pk_enterprise_finance"),
)

#: append-only history of each bank's product/policy configuration (issue 7: who and when)
policy_audit = Table(
    "policy_audit",
    metadata,
    Column("id", BigInteger, primary_key=True, autoincrement=True),
    Column("bank_id", String(64), nullable=False),
    Column("version", String(40), nullable=False),
    Column("digest", String(64), nullable=False),
    Column("previous_version", String(40), nullable=True),
    Column("previous_digest", String(64), nullable=True),
    Column("changed_by", String(200), nullable=False),
    Column("changed_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    Column("source", String(300), nullable=False),
    Column("document", JSONB, nullable=False),
    Index("ix_policy_audit_bank_id", "bank_id", "id"),
)
