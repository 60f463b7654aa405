"""Typed settings of the accounting service (env prefix ``ACCOUNTING_``, ``__`` nesting).

e.g. ``ACCOUNTING_POSTGRES__URL``, ``ACCOUNTING_KAFKA__BOOTSTRAP_SERVERS``.
"""

from __future__ import annotations

from decimal import Decimal

from pydantic import Field, SecretStr
from pydantic_settings import SettingsConfigDict

from carbon_common.settings import PostgresSettings, ServiceSettings


class Settings(ServiceSettings):
    model_config = SettingsConfigDict(env_prefix="ACCOUNTING_", env_nested_delimiter="__", extra="ignore")

    service_name: str = "accounting"
    postgres: PostgresSettings = Field(
        default_factory=lambda: PostgresSettings(
            url=SecretStr("postgresql+asyncpg://postgres@127.0.0.1:5432/accounting")
        )
    )
    #: the packaged factor set stored and activated on first start (``<id>@<version>``)
    seed_factor_set: str = "cn-default@1"
    #: consumer batch size (records per transaction, the ``getmany`` ceiling). Large on purpose: a
    #: backlog (replay, month-end burst) then recomputes each touched enterprise-month once per
    #: batch instead of once per department's submission; a steady trickle still gives small
    #: batches (getmany returns what is there). Measured in docs/performance-notes.md: 500 → 5,000
    #: cut consumer CPU per fact by about a third.
    max_batch: int = 20000
    #: during a burst of facts (a replay, a month-end burst: 3,000 records/s or more) a batch
    #: keeps filling for up to this long (ms; ``ACCOUNTING_BURST_LINGER_MS``, 0 = off;
    #: ``carbon_common.bus.port.Linger``), or until ``max_batch``. The departments' submissions
    #: of one month then land in one batch, and each enterprise-month is restated once instead of
    #: once per submission: the pilot replay published 81–90k instead of 161k ``AccountUpdated``
    #: (docs/performance-notes.md, sixth pass; peak RSS 255–266 MB at 20,000, 304 MB at 25,000).
    #: A steady trickle waits the plain consumer linger only.
    burst_linger_ms: int = Field(default=2500, ge=0, le=10_000)
    #: relative difference between third-party verified and computed emissions above which an
    #: enterprise-month is flagged (and its data-quality score drops to 3); docs/accounting.md
    verification_tolerance: Decimal = Field(default=Decimal("0.05"), ge=0, le=1)
