"""What the use cases need from storage: the repository and unit-of-work ports.

The adapters implement them over PostgreSQL (``adapters.repository``/``adapters.unit_of_work``);
the handlers depend only on these protocols, so the layering stays one-way.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from types import TracebackType
from typing import Any, Protocol, Self

from carbon_common.bus.port import Record
from carbon_common.events.envelope import Event
from carbon_ingest.domain.enterprise import Enterprise
from carbon_ingest.domain.evidence import StoredEntry
from carbon_ingest.domain.facts import Fact, Head
from carbon_ingest.domain.plausibility import MonthSummary, Target
from carbon_ingest.domain.quality import Flag, SourceValue
from carbon_ingest.domain.records import Rejection


@dataclass(frozen=True, slots=True)
class SubmissionReport:
    """What a submitter reads back (HTTP response and ``GET /v1/submissions/{id}``)."""

    submission_id: str
    department: str
    channel: str
    received_at: datetime
    received: int
    accepted: int
    duplicates: int
    corrections: int
    rejected: Sequence[Rejection]


@dataclass(frozen=True, slots=True)
class FactEventRows:
    """The ``FactRecorded`` outbox rows of one chain append, as columns in chain order (one event
    per fact; each event's Kafka key is its fact's credit code), and the extra streams that carry a
    copy of some of them (the same id, key, value and headers on another topic)."""

    #: the topic every event goes to (``FactRecorded.topic``)
    topic: str
    ids: Sequence[str]
    values: Sequence[bytes]
    #: the record headers as the outbox stores them (JSON text of ``[[name, value], ...]``)
    headers: Sequence[str]
    #: per extra topic, the (0-based, ascending) positions of the events it carries too
    copies: Mapping[str, Sequence[int]]


class Repository(Protocol):
    # directory
    async def lock_enterprise(self, credit_code: str) -> None: ...
    async def get_enterprise(self, credit_code: str) -> Enterprise | None: ...
    async def save_enterprise(self, enterprise: Enterprise) -> None: ...
    async def list_enterprises(
        self, region: str | None, industry: str | None, offset: int, limit: int
    ) -> tuple[list[Enterprise], int]: ...
    async def registered(self, credit_codes: Iterable[str]) -> set[str]: ...

    # facts and evidence
    async def lock_evidence_chain(self) -> None: ...
    async def lock_departments(self, departments: Sequence[str]) -> None: ...
    async def upsert_heads(self, facts: Sequence[Fact]) -> None: ...
    async def heads(self, record_ids: Mapping[str, Iterable[str]]) -> dict[str, dict[str, Head]]: ...
    async def last_evidence(self) -> tuple[int, str]: ...
    async def add_facts(
        self,
        facts: Sequence[Fact],
        hashes: Sequence[str],
        first_seq: int,
        prev_hash: str,
        submission_ids: Sequence[str],
        events: FactEventRows | None = None,
    ) -> None: ...
    async def evidence_entries(self, after_seq: int, limit: int) -> list[StoredEntry]: ...

    # submissions
    async def add_submissions(self, reports: Sequence[SubmissionReport], catalogue_version: int) -> None: ...
    async def get_submission(self, submission_id: str) -> SubmissionReport | None: ...

    # quality
    async def source_values_for_recheck(
        self, months: Iterable[tuple[str, str, str]]
    ) -> list[SourceValue]: ...
    async def month_summaries_for_recheck(self, targets: Sequence[Target]) -> list[MonthSummary]: ...
    async def add_flags(self, flags: Sequence[Flag]) -> None: ...
    async def flags(self, credit_code: str | None, period: str | None, limit: int) -> list[Flag]: ...
    async def quality_summary(self, credit_code: str) -> dict[str, Any]: ...

    # consumers
    async def claim(self, consumer: str, event_ids: Sequence[str]) -> set[str]: ...


class UnitOfWork(Protocol):
    repo: Repository
    #: the CloudEvents ``source`` of the events this unit of work emits
    source: str

    async def __aenter__(self) -> Self: ...

    async def __aexit__(
        self, et: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None: ...

    def emit(self, event: Event) -> Any: ...

    def written_to_outbox(self, n: int) -> None:
        """The repository wrote ``n`` outbox rows in this transaction (wake the relay on commit)."""
        ...

    def stage_record(self, record: Record) -> None:
        """Stage a raw bus record (a dead-letter copy) in the outbox of this transaction."""
        ...

    async def commit(self) -> None: ...
