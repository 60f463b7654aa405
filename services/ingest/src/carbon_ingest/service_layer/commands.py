"""Commands: what a caller (HTTP route or Kafka consumer) asks the ingest service to do."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

from carbon_ingest.domain.records import RawRecord

Channel = Literal["http", "kafka"]


@dataclass(frozen=True, slots=True)
class RegisterEnterprise:
    credit_code: str
    name: str
    region_code: str
    industry_code: str
    size_class: str
    transition_stage: str
    ets_participant: bool = False
    #: PUT semantics: the enterprise must already be in the directory
    must_exist: bool = False


@dataclass(frozen=True, slots=True)
class RecordSubmission:
    department: str
    records: Sequence[RawRecord]
    channel: Channel = "http"


@dataclass(frozen=True, slots=True)
class VerifyEvidence:
    chunk: int = 5000
