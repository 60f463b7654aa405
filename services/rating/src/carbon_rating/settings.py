"""Rating's typed settings (env prefix ``RATING_``, nested with ``__``)."""

from __future__ import annotations

from pydantic import Field
from pydantic_settings import SettingsConfigDict

from carbon_common.settings import ServiceSettings


class Settings(ServiceSettings):
    model_config = SettingsConfigDict(env_prefix="RATING_", env_nested_delimiter="__", extra="ignore")

    service_name: str = "rating"
    #: the methodology version the deployment asks for (a file in carbon_rating/methodology/); an
    #: admin activation over the API overrides it until this setting changes (methodology_admin)
    methodology_version: str = "v1"
    #: seconds between checks of the methodology in force (another replica's activation); 0 = off
    methodology_refresh_seconds: float = 30
    #: objection answer period in working days; 20 follows 征信业管理条例 (PBOC credit-reporting regulation)
    objection_sla_working_days: int = 20
    #: seconds between periodic full re-rating cycles (peers' new accounts, window roll-over); 0 = off
    rerate_interval_seconds: float = 0
    #: a TrueType CJK font file embedded in PDF reports; None = the project's font cache
    #: (scripts/ensure-fonts.sh), then the system's wqy fonts (see entrypoints/fonts.py)
    cjk_font: str | None = None
    #: hard maximum for list endpoints (history, query log)
    page_max: int = 200
    #: consumer batch size (records per transaction, the ``getmany`` ceiling; ``RATING_MAX_BATCH``).
    #: Every batch re-rates each enterprise it touched once, so under a backlog (replay, month-end
    #: burst) a large batch rates each enterprise once for many of its inputs; a steady trickle still
    #: gives small batches (getmany returns what is there). Measured on the replayed pilot
    #: (docs/performance-notes.md, rating, issue 6): 500 → 5,000 cut CPU per input by about 30 %.
    max_batch: int = 5000
    #: during a burst of inputs (3,000 records/s or more) a batch keeps filling for up to this
    #: long (ms; ``RATING_BURST_LINGER_MS``, 0 = off; ``carbon_common.bus.port.Linger``): each
    #: enterprise is re-rated once for more of its inputs. A steady trickle waits the plain
    #: consumer linger only (docs/performance-notes.md, sixth pass).
    burst_linger_ms: int = Field(default=1200, ge=0, le=10_000)
    #: enterprises whose account months and facts the consumer keeps between batches
    #: (service_layer/input_cache.py; ≈ 16 kB each, least recently rated dropped first; 0 = off)
    input_cache_enterprises: int = 5000
