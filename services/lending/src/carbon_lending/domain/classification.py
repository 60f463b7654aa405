"""Green and transition project identification against a versioned activity catalogue.

A purpose is matched first by activity code (exact), then by keyword in the description. A
match names which products, subsidies and PBOC refinancing it opens and what reduction evidence
the bank must collect. An activity with a minimum expected reduction that the project does not
reach keeps its category but loses subsidy and refinancing eligibility (said in the reasons).
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from typing import Any


@dataclass(frozen=True, slots=True)
class Activity:
    code: str
    name: str
    kind: str  # green | transition
    category: str
    keywords: tuple[str, ...]
    eligible_products: tuple[str, ...]
    subsidy_eligible: bool
    pboc_refinancing_eligible: bool
    min_annual_reduction_t: Decimal
    evidence_required: tuple[str, ...]
    source: str


@dataclass(frozen=True, slots=True)
class Catalogue:
    version: str
    activities: tuple[Activity, ...]


@dataclass(frozen=True, slots=True)
class Classification:
    catalogue_version: str
    activity: Activity | None
    subsidy_eligible: bool
    pboc_refinancing_eligible: bool
    reasons: tuple[str, ...]

    @property
    def classified(self) -> bool:
        return self.activity is not None

    def allows(self, product: str) -> bool:
        return self.activity is not None and product in self.activity.eligible_products


def parse_catalogue(raw: dict[str, Any]) -> Catalogue:
    return Catalogue(
        version=str(raw["version"]),
        activities=tuple(
            Activity(
                code=str(a["code"]),
                name=str(a["name"]),
                kind=str(a["kind"]),
                category=str(a["category"]),
                keywords=tuple(str(k).lower() for k in a.get("keywords", ())),
                eligible_products=tuple(a["eligible_products"]),
                subsidy_eligible=bool(a.get("subsidy_eligible", False)),
                pboc_refinancing_eligible=bool(a.get("pboc_refinancing_eligible", False)),
                min_annual_reduction_t=Decimal(str(a.get("min_annual_reduction_t", "0"))),
                evidence_required=tuple(a.get("evidence_required", ())),
                source=str(a.get("source", "")),
            )
            for a in raw["activities"]
        ),
    )


def classify(
    catalogue: Catalogue,
    purpose: str | None,
    activity_code: str | None = None,
    expected_reduction_t: Decimal | None = None,
) -> Classification:
    match: Activity | None = None
    reasons: list[str] = []
    if activity_code:
        match = next((a for a in catalogue.activities if a.code == activity_code), None)
        if match is None:
            reasons.append(f"activity code {activity_code!r} is not in catalogue {catalogue.version}")
    if match is None and purpose:
        text = purpose.lower()
        match = next((a for a in catalogue.activities if any(k in text for k in a.keywords)), None)
    if match is None:
        if not reasons:
            reasons.append("the purpose matches no green or transition activity of the catalogue")
        return Classification(catalogue.version, None, False, False, tuple(reasons))
    reasons.append(f"matched {match.code} {match.name} ({match.kind}, {match.category})")
    subsidy, pboc = match.subsidy_eligible, match.pboc_refinancing_eligible
    floor = match.min_annual_reduction_t
    if floor > 0 and (expected_reduction_t is None or expected_reduction_t < floor):
        subsidy = pboc = False
        reasons.append(
            f"expected annual reduction {expected_reduction_t} tCO2 below the activity's "
            f"{floor} tCO2: no subsidy or PBOC refinancing"
        )
    return Classification(catalogue.version, match, subsidy, pboc, tuple(reasons))
