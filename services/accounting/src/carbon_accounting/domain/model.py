"""Value objects of the carbon account: facts as accounting sees them, the enterprise profile,
the monthly figures and the lineage lines that explain them.

``Fact``, ``LineageLine`` and ``AccountFigures`` are immutable ``NamedTuple``s rather than frozen
dataclasses: the consumer builds a few hundred thousand of them per replay, and a frozen slotted dataclass's
``__init__`` (one ``object.__setattr__`` per field) measured 3.8 µs against 0.7 µs for the tuple
(docs/performance-notes.md). They are built by keyword or positionally from a row.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal
from types import MappingProxyType
from typing import Any, NamedTuple

from carbon_accounting.domain.factors import Factor

#: the (immutable) attributes of a fact that has none
NO_ATTRIBUTES: Mapping[str, Any] = MappingProxyType({})


class Fact(NamedTuple):
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
    attributes: Mapping[str, Any] = NO_ATTRIBUTES

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
class CrossCheck:
    """Third-party verified emissions beside the computed ones, for one enterprise-month.

    Accounting is the only place that holds both numbers. ``computed_tco2`` is the account's
    ``total_tco2`` (scope 1 + scope 2 location-based, what an MEE verification covers);
    ``verified_by`` names the departments that reported ``emissions.verified``;
    ``computed_from`` the departments whose activity facts the computation used.
    """

    verified_tco2: Decimal
    verified_by: str
    computed_tco2: Decimal
    computed_from: str
    tolerance: Decimal

    @property
    def difference_tco2(self) -> Decimal:
        """computed − verified."""
        return self.computed_tco2 - self.verified_tco2

    @property
    def relative_difference(self) -> Decimal | None:
        """|computed − verified| / |verified|, 4 decimals (None when verified is zero)."""
        if self.verified_tco2 == 0:
            return None
        return (abs(self.difference_tco2) / abs(self.verified_tco2)).quantize(Decimal("0.0001"))

    @property
    def discrepancy(self) -> bool:
        """True when the two figures differ by more than ``tolerance`` (relative to verified)."""
        if self.verified_tco2 == 0:
            return self.computed_tco2 != 0
        return abs(self.difference_tco2) > self.tolerance * abs(self.verified_tco2)


class AccountFigures(NamedTuple):
    """One enterprise-month. Emissions in tCO2, money in 10k CNY, all exact ``Decimal``.

    A ``NamedTuple`` like ``Fact``: it is built twice per recomputed month (computed, and read
    back as the stored account to compare with), and with 21 fields a frozen dataclass's
    ``__init__`` was the consumer's largest single constructor cost.
    """

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
    cross_check: CrossCheck | None = None

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
            None if self.cross_check is None else self.cross_check.verified_tco2,
            None if self.cross_check is None else self.cross_check.verified_by,
            None if self.cross_check is None else self.cross_check.discrepancy,
        )


class LineageLine(NamedTuple):
    """One term of one figure: ``sign × quantity × factor = result``.

    ``factor`` is absent for a pass-through (scope 3 reported in tCO2) and for the floor term
    that keeps a net scope-2 figure at zero; ``sign`` is -1 for deductions (exported energy,
    green-power certificates). The arithmetic text is built only when someone reads it (the
    lineage endpoint), never on the consumer's hot path.
    """

    figure: str
    result: Decimal
    fact: Fact | None = None
    factor: Factor | None = None
    sign: int = 1
    note: str = ""

    @property
    def arithmetic(self) -> str:
        if self.fact is not None and self.factor is not None:
            op = "−" if self.sign < 0 else ""
            text = (
                f"{op}{self.fact.value} {self.fact.unit} × {self.factor.value} {self.factor.unit}"
                f" = {self.result} tCO2"
            )
        elif self.fact is not None:
            text = f"{self.fact.value} tCO2 reported (pass-through)"
        else:
            text = f"{self.result} tCO2"
        return f"{text} ({self.note})" if self.note else text


@dataclass(frozen=True, slots=True)
class Calculation:
    figures: AccountFigures
    lines: tuple[LineageLine, ...]
    notes: tuple[str, ...] = ()
