"""The enterprise directory entry (名录库) and how a registration changes it."""

from __future__ import annotations

from dataclasses import dataclass, replace
from enum import Enum

from carbon_ingest.domain import identifiers

SIZE_CLASSES = ("sme", "large")
STAGES = ("early", "mid", "mature")


class DirectoryError(ValueError):
    """A registration with an invalid field (``field`` names it)."""

    def __init__(self, field: str, reason: str) -> None:
        super().__init__(f"{field}: {reason}")
        self.field = field
        self.reason = reason


@dataclass(frozen=True, slots=True)
class Enterprise:
    credit_code: str
    name: str
    region_code: str
    industry_code: str
    size_class: str
    transition_stage: str
    ets_participant: bool = False
    revision: int = 1

    def same_content(self, other: Enterprise) -> bool:
        return replace(self, revision=0) == replace(other, revision=0)


def new_enterprise(
    *,
    credit_code: str,
    name: str,
    region_code: str,
    industry_code: str,
    size_class: str,
    transition_stage: str,
    ets_participant: bool = False,
) -> Enterprise:
    """Validate every field of a registration; raise ``DirectoryError`` naming the first bad one."""
    checks = (
        ("credit_code", identifiers.credit_code, credit_code),
        ("region_code", identifiers.region_code, region_code),
        ("industry_code", identifiers.industry_code, industry_code),
    )
    clean: dict[str, str] = {}
    for field, check, value in checks:
        try:
            clean[field] = check(value)
        except identifiers.InvalidIdentifierError as exc:
            raise DirectoryError(field, str(exc)) from exc
    if not name.strip():
        raise DirectoryError("name", "the enterprise name is empty")
    if size_class not in SIZE_CLASSES:
        raise DirectoryError("size_class", f"must be one of {', '.join(SIZE_CLASSES)}")
    if transition_stage not in STAGES:
        raise DirectoryError("transition_stage", f"must be one of {', '.join(STAGES)}")
    return Enterprise(
        credit_code=clean["credit_code"],
        name=name.strip(),
        region_code=clean["region_code"],
        industry_code=clean["industry_code"],
        size_class=size_class,
        transition_stage=transition_stage,
        ets_participant=ets_participant,
    )


class Change(Enum):
    REGISTERED = "registered"
    UPDATED = "updated"
    UNCHANGED = "unchanged"


def apply_registration(current: Enterprise | None, proposed: Enterprise) -> tuple[Change, Enterprise]:
    """Same content is a no-op; different content is the next revision (history is the event log)."""
    if current is None:
        return Change.REGISTERED, replace(proposed, revision=1)
    if current.same_content(proposed):
        return Change.UNCHANGED, current
    return Change.UPDATED, replace(proposed, revision=current.revision + 1)
