"""Rating's typed settings (env prefix ``RATING_``, nested with ``__``)."""

from __future__ import annotations

from pydantic_settings import SettingsConfigDict

from carbon_common.settings import ServiceSettings


class Settings(ServiceSettings):
    model_config = SettingsConfigDict(env_prefix="RATING_", env_nested_delimiter="__", extra="ignore")

    service_name: str = "rating"
    #: the methodology version new ratings are issued under (a file in carbon_rating/methodology/)
    methodology_version: str = "v1"
    #: objection answer period in working days; 20 follows 征信业管理条例 (PBOC credit-reporting regulation)
    objection_sla_working_days: int = 20
    #: seconds between periodic full re-rating cycles (peers' new accounts, window roll-over); 0 = off
    rerate_interval_seconds: float = 0
    #: hard maximum for list endpoints (history, query log)
    page_max: int = 200
