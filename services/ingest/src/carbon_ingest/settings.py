"""Typed settings of the ingest service (env prefix ``INGEST_``, nesting with ``__``)."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import Field, model_validator
from pydantic_settings import SettingsConfigDict

from carbon_common.settings import ServiceSettings


class Settings(ServiceSettings):
    model_config = SettingsConfigDict(env_prefix="INGEST_", env_nested_delimiter="__", extra="ignore")

    service_name: str = "ingest"
    #: a catalogue data file to use instead of the packaged one (tests, a new catalogue version)
    catalogue_path: Path | None = None
    #: records per HTTP submission (issue 3: "a department's batch, up to 10,000 records")
    max_submission_records: int = 10_000
    #: how long the group-commit writer lets concurrent HTTP submissions gather before it takes
    #: the next group (``INGEST_GROUP_COMMIT_LINGER_MS``; 0: take what is queued at once). Each
    #: group is one transaction of a fixed ~12 statements whatever its size, so under a trickle of
    #: small POSTs a few ms of gathering cuts the CPU per POST (docs/performance-notes.md, ingest)
    group_commit_linger_ms: int = Field(default=20, ge=0, le=1000)
    #: hard maximum page size of list endpoints (DESIGN.md §9 "pagination ... with a hard maximum")
    max_page_size: int = 500
    #: Kafka ``dept.submissions.v1``: must every record carry a bearer JWT (``authorization``
    #: header, org = the record's department, scope ``submissions:write``)? ``required``: a
    #: record without one is dead-lettered; ``optional``: such a record is accepted (development
    #: and demo only), a record *with* a token is still verified. Unset: ``required``, except in
    #: the development/test environments where it is ``optional``. docs/security.md
    kafka_submission_token: Literal["required", "optional"] | None = None

    @property
    def kafka_token_required(self) -> bool:
        mode = self.kafka_submission_token
        return mode == "required" or (mode is None and not self.environment.allows_dev_secrets)

    @model_validator(mode="after")
    def _kafka_tokens_outside_development(self) -> Settings:
        if not self.environment.allows_dev_secrets and self.kafka_submission_token == "optional":
            raise ValueError(
                f"refusing to start in {self.environment.value}: kafka_submission_token=optional "
                "accepts unauthenticated Kafka submissions (development only)"
            )
        return self
