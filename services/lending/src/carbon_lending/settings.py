"""Lending settings: ``LENDING_*`` environment variables (nested with ``__``)."""

from __future__ import annotations

from pathlib import Path

from pydantic import Field
from pydantic_settings import SettingsConfigDict

from carbon_common.settings import ServiceSettings


class Settings(ServiceSettings):
    model_config = SettingsConfigDict(env_prefix="LENDING_", env_nested_delimiter="__", extra="ignore")

    service_name: str = "lending"
    #: folder with ``default.yaml`` (+ ``<bank_id>.yaml``) and ``catalogue.yaml``; packaged data if unset
    products_dir: Path | None = None
    #: how often the quote path's in-memory read model polls for changes made by other processes
    read_model_refresh_seconds: float = 1.0
    #: consumer batch size (records per transaction, the ``getmany`` ceiling; ``LENDING_MAX_BATCH``),
    #: like accounting's and rating's. A replay or month-end backlog then coalesces each enterprise's
    #: accounts and ratings once per batch and pays each statement once per batch, not per 500
    #: records; a steady trickle still gives small batches (getmany returns what is there).
    #: Measured in docs/performance-notes.md (lending, issue 6).
    max_batch: int = 5000
    #: during a burst of inputs (3,000 records/s or more) a batch keeps filling for up to this
    #: long (ms; ``LENDING_BURST_LINGER_MS``, 0 = off; ``carbon_common.bus.port.Linger``); a
    #: steady trickle waits the plain consumer linger only (docs/performance-notes.md, sixth pass).
    burst_linger_ms: int = Field(default=1000, ge=0, le=10_000)
    #: most quotes written in one group-committed transaction
    quote_batch_max: int = 200
    #: recorded as "who" in the policy audit when a policy file names no ``changed_by``
    policy_changed_by: str = "deployment"
