"""Tables of the accounting database (one MetaData, including the outbox and inbox).

``fact_history`` holds every fact revision ever received (corrections keep their predecessors);
the current facts (what accounts are computed from) are its highest revision per ``fact_key``,
the rows not ``superseded``, read through ``ix_fact_history_credit_code_period``. ``facts`` is a
view of exactly those (migration 0004; it was a second table written on every fact), so it is
not in this metadata.
Quantities are ``NUMERIC`` without scale, so Decimal values round-trip exactly.
"""

from __future__ import annotations

from sqlalchemy import (
    BigInteger,
    Boolean,
    CheckConstraint,
    Column,
    DateTime,
    Identity,
    Index,
    Integer,
    Numeric,
    PrimaryKeyConstraint,
    String,
    Table,
    Text,
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

enterprises = Table(
    "enterprises",
    metadata,
    Column("credit_code", String(18), primary_key=True),
    Column("industry_code", String(16), nullable=True),
    Column("region_code", String(16), nullable=True),
    Column("ets_participant", Boolean, nullable=False, server_default=text("false")),
    Column("revision", Integer, nullable=False),
    Column("updated_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
)

_fact_columns = (
    ("fact_id", String(100)),
    ("revision", Integer),
    ("credit_code", String(18)),
    ("department", String(100)),
    ("record_id", String(200)),
    ("indicator", String(100)),
    ("period", String(7)),
    ("value", Numeric),
    ("unit", String(40)),
    ("evidence_hash", String(200)),
    ("authoritative", Boolean),
)

fact_history = Table(
    "fact_history",
    metadata,
    Column("fact_key", String(320), nullable=False),
    *(Column(name, type_, nullable=False) for name, type_ in _fact_columns),
    Column("attributes", JSONB, nullable=False, server_default=text("'{}'::jsonb")),
    Column("received_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    #: a higher revision of this fact_key is stored (set by the consumer's facts statement)
    Column("superseded", Boolean, nullable=False, server_default=text("false")),
    PrimaryKeyConstraint("fact_key", "revision", name="pk_fact_history"),
    Index("ix_fact_history_credit_code_period", "credit_code", "period"),
)

accounts = Table(
    "accounts",
    metadata,
    Column("credit_code", String(18), nullable=False),
    Column("period", String(7), nullable=False),
    Column("industry_code", String(16), nullable=True),
    Column("method", String(40), nullable=False),
    Column("scope1_combustion_tco2", Numeric, nullable=False),
    Column("scope1_process_tco2", Numeric, nullable=False),
    Column("scope2_location_tco2", Numeric, nullable=False),
    Column("scope2_market_tco2", Numeric, nullable=False),
    Column("scope3_tco2", Numeric, nullable=False),
    Column("total_tco2", Numeric, nullable=False),
    Column("output_quantity", Numeric, nullable=True),
    Column("output_unit", String(20), nullable=True),
    Column("intensity_per_output", Numeric, nullable=True),
    Column("revenue_10k_cny", Numeric, nullable=True),
    Column("intensity_per_revenue", Numeric, nullable=True),
    Column("value_added_10k_cny", Numeric, nullable=True),
    Column("intensity_per_value_added", Numeric, nullable=True),
    Column("data_quality_score", Numeric, nullable=False),
    Column("fact_count", Integer, nullable=False),
    Column("factor_set", String(120), nullable=False),
    Column("calculation_version", Integer, nullable=False),
    Column("updated_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    # cross-check of third-party verified against computed emissions (NULL: nothing verified)
    Column("verified_tco2", Numeric, nullable=True),
    Column("verified_by", String(400), nullable=True),
    Column("computed_from", String(400), nullable=True),
    Column("verification_tolerance", Numeric, nullable=True),
    PrimaryKeyConstraint("credit_code", "period", name="pk_accounts"),
)

factor_sets = Table(
    "factor_sets",
    metadata,
    Column("id", String(80), nullable=False),
    Column("version", String(40), nullable=False),
    Column("title", String(300), nullable=False, server_default=""),
    Column("content", JSONB, nullable=False),
    Column("active", Boolean, nullable=False, server_default=text("false")),
    Column("created_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    Column("activated_at", DateTime(timezone=True), nullable=True),
    PrimaryKeyConstraint("id", "version", name="pk_factor_sets"),
    # exactly one active factor set at a time
    Index("ux_factor_sets_active", "active", unique=True, postgresql_where=text("active")),
)

#: append-only audit of factor-set changes (migration 0003: a trigger refuses UPDATE, DELETE and
#: TRUNCATE). ``digest``: sha256 of the set's canonical content (``FactorSet.digest``).
factor_set_changes = Table(
    "factor_set_changes",
    metadata,
    Column("id", BigInteger, Identity(), primary_key=True),
    Column("changed_at", DateTime(timezone=True), nullable=False),
    Column("actor", Text, nullable=False),  # a token subject has no length limit
    Column("actor_org", Text, nullable=True),
    Column("action", String(20), nullable=False),
    Column("set_id", String(80), nullable=False),
    Column("version", String(40), nullable=False),
    Column("digest", String(64), nullable=False),
    Column("previous_set_id", String(80), nullable=True),
    Column("previous_version", String(40), nullable=True),
    Column("reason", Text, nullable=True),
    CheckConstraint("action IN ('published', 'activated', 'seeded')", name="action"),
)
