"""Commands: what the accounting service is asked to do (imperative names).

Consumers map events to these (tolerant reader), routes map requests to them.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from carbon_accounting.domain.factors import FactorSet
from carbon_accounting.domain.model import Enterprise, Fact


@dataclass(frozen=True, slots=True)
class ApplyBatch:
    """Apply directory changes and facts from one consumer batch, then restate what they touch.

    One command per batch (not per record) so every touched enterprise-month is computed once.
    """

    enterprises: list[Enterprise] = field(default_factory=list)
    facts: list[Fact] = field(default_factory=list)


@dataclass(frozen=True, slots=True)
class ChangedBy:
    """Who asks for a factor-set change, when, and why (recorded in the audit trail)."""

    actor: str
    actor_org: str | None
    at: datetime
    reason: str | None = None


@dataclass(frozen=True, slots=True)
class PublishFactorSet:
    """Store a new factor-set version (not yet used until activated)."""

    factor_set: FactorSet
    by: ChangedBy


@dataclass(frozen=True, slots=True)
class ActivateFactorSet:
    """Make ``set_id@version`` the factor set of every account and restate what changes."""

    set_id: str
    version: str
    by: ChangedBy
