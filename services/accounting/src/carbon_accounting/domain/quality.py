"""Data-quality score of a monthly account, 1 (best) … 5 (worst), in the spirit of PCAF.

PCAF (Global GHG Accounting & Reporting Standard for the Financial Industry, business loans,
data quality score table) ranks: 1 verified reported emissions; 2 unverified reported emissions
or primary physical activity data; 3 physical activity data of lower quality; 4 economic
activity data; 5 sector averages. Our mapping to the facts accounting receives:

1. ``emissions.verified`` is present and agrees with the computed total within ``TOLERANCE``;
2. every activity fact comes from an authoritative (metered / official) source;
3. some activity fact is only self-declared, or the verified figure disagrees beyond tolerance;
4. no physical activity data, only revenue / value added;
5. nothing usable for this month.
"""

from __future__ import annotations

from collections.abc import Sequence
from decimal import Decimal

from carbon_accounting.domain.model import Fact

#: our own calibration: the same 5 % the indicator catalogue uses to cross-validate grid-metered
#: against declared electricity (docs/indicators.md)
TOLERANCE = Decimal("0.05")

ACTIVITY_PREFIXES = ("energy.", "electricity.", "heat.", "process.", "production.", "scope3.")


def within_tolerance(computed: Decimal, verified: Decimal) -> bool:
    if verified == 0:
        return computed == 0
    return abs(computed - verified) / abs(verified) <= TOLERANCE


def data_quality_score(facts: Sequence[Fact], total_tco2: Decimal) -> Decimal:
    activity = [f for f in facts if f.indicator.startswith(ACTIVITY_PREFIXES)]
    verified = [f.value for f in facts if f.indicator == "emissions.verified"]
    finance = [f for f in facts if f.indicator.startswith("finance.")]
    if verified:
        if within_tolerance(total_tco2, sum(verified, Decimal(0))):
            return Decimal(1)
        return Decimal(3)
    if activity:
        return Decimal(3) if any(f.declared_only for f in activity) else Decimal(2)
    if finance:
        return Decimal(4)
    return Decimal(5)
