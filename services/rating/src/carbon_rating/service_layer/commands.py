"""Commands: what the outside world asks rating to do (events and HTTP map onto these)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal

from carbon_rating.domain.inputs import EnterpriseProfile
from carbon_rating.service_layer.ports import AccountRow, FactRow


@dataclass(frozen=True, slots=True)
class ApplyInputs:
    """A batch of input changes (directory, accounts, conduct facts); re-rates what it touches once."""

    enterprises: Sequence[tuple[EnterpriseProfile, int]] = ()
    accounts: Sequence[AccountRow] = ()
    facts: Sequence[FactRow] = ()
    issued_at: datetime | None = None


@dataclass(frozen=True, slots=True)
class RerateEnterprises:
    """Re-rate the given enterprises (all rateable ones when ``credit_codes`` is None)."""

    credit_codes: Sequence[str] | None
    reason: str
    issued_at: datetime


@dataclass(frozen=True, slots=True)
class FileObjection:
    credit_code: str
    filed_by: str
    reason: str
    filed_at: datetime
    evidence: Sequence[str] = field(default_factory=tuple)


@dataclass(frozen=True, slots=True)
class DecideObjection:
    objection_id: str
    outcome: str
    reason: str
    reviewer: str
    decided_at: datetime
    revised_score: Decimal | None = None
