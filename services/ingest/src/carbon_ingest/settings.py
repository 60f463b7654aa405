"""Typed settings of the ingest service (env prefix ``INGEST_``, nesting with ``__``)."""

from __future__ import annotations

from pathlib import Path

from pydantic_settings import SettingsConfigDict

from carbon_common.settings import ServiceSettings


class Settings(ServiceSettings):
    model_config = SettingsConfigDict(env_prefix="INGEST_", env_nested_delimiter="__", extra="ignore")

    service_name: str = "ingest"
    #: a catalogue data file to use instead of the packaged one (tests, a new catalogue version)
    catalogue_path: Path | None = None
    #: records per HTTP submission (issue 3: "a department's batch, up to 10,000 records")
    max_submission_records: int = 10_000
    #: hard maximum page size of list endpoints (DESIGN.md §9 "pagination ... with a hard maximum")
    max_page_size: int = 500
