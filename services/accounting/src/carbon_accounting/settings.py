"""Typed settings of the accounting service (env prefix ``ACCOUNTING_``, ``__`` nesting).

e.g. ``ACCOUNTING_POSTGRES__URL``, ``ACCOUNTING_KAFKA__BOOTSTRAP_SERVERS``.
"""

from __future__ import annotations

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
    #: consumer batch size (records per transaction)
    max_batch: int = 500
