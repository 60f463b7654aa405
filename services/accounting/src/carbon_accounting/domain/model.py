"""Value objects of the carbon account: facts as accounting sees them, the enterprise profile,
the monthly figures and the lineage lines that explain them."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any


@dataclass(frozen=True, slots=True)
class Fact:
    """The highest revision of one indicator value (``fact_key`` = department/record_id)."""

    fact_key: str
    fact_id: str
    revision: int
    credit_code: str
    department: str
    record_id: str
    indicator: str
    period: str
    value: Decimal
    unit: str
    evidence_hash: str
    authoritative: bool = True
    attributes: Mapping[str, Any] = field(default_factory=dict)

    @property
    def declared_only(self) -> bool:
        """A self-declaration or a source the catalogue does not treat as authoritative."""
        return (not self.authoritative) or self.department.startswith("self")


@dataclass(frozen=True, slots=True)
class Enterprise:
    """Accounting's read model of a directory entry (from EnterpriseRegistered/Updated)."""

    credit_code: str
    industry_code: str | None
    region_code: str | None
    ets_participant: bool = False
    revision: int = 1


@dataclass(frozen=True, slots=True)
class AccountFigures:
    """One enterprise-month. Emissions in tCO2, money in 10k CNY, all exact ``Decimal``."""

    credit_code: str
    period: str
    industry_code: str | None
    method: str
    scope1_combustion_tco2: Decimal
    scope1_process_tco2: Decimal
    scope2_location_tco2: Decimal
    scope2_market_tco2: Decimal
    scope3_tco2: Decimal
    total_tco2: Decimal
    output_quantity: Decimal | None
    output_unit: str | None
    intensity_per_output: Decimal | None
    revenue_10k_cny: Decimal | None
    intensity_per_revenue: Decimal | None
    value_added_10k_cny: Decimal | None
    intensity_per_value_added: Decimal | None
    data_quality_score: Decimal
    fact_count: int
    factor_set: str

    def comparable(self) -> tuple[Any, ...]:
        """What decides whether a recomputation is a restatement (numbers and method, not the label).

        ``Decimal('1900.3') == Decimal('1900.30')``, so trailing zeros never cause a restatement.
        """
        return (
            self.industry_code,
            self.method,
            self.scope1_combustion_tco2,
            self.scope1_process_tco2,
            self.scope2_location_tco2,
            self.scope2_market_tco2,
            self.scope3_tco2,
            self.total_tco2,
            self.output_quantity,
            self.output_unit,
            self.intensity_per_output,
            self.revenue_10k_cny,
            self.intensity_per_revenue,
            self.value_added_10k_cny,
            self.intensity_per_value_added,
            self.data_quality_score,
            self.fact_count,
        )


@dataclass(frozen=True, slots=True)
class LineageLine:
    """One term of one figure: ``quantity × factor = result`` (factor absent for pass-through)."""

    figure: str
    result: Decimal
    arithmetic: str
    fact: Fact | None = None
    factor_code: str | None = None
    factor_value: Decimal | None = None
    factor_unit: str | None = None
    factor_source: str | None = None
    factor_year: int | None = None


@dataclass(frozen=True, slots=True)
class Calculation:
    figures: AccountFigures
    lines: tuple[LineageLine, ...]
    notes: tuple[str, ...] = ()
