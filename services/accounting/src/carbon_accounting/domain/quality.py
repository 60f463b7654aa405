"""Data-quality score of a monthly account, 1 (best) … 5 (worst), in the spirit of PCAF.

PCAF (Global GHG Accounting & Reporting Standard for the Financial Industry, business loans,
data quality score table) ranks: 1 verified reported emissions; 2 unverified reported emissions
or primary physical activity data; 3 physical activity data of lower quality; 4 economic
activity data; 5 sector averages. Our mapping to the facts accounting receives:

1. ``emissions.verified`` is present and agrees with the computed total within the tolerance;
2. every activity fact comes from an authoritative (metered / official) source;
3. some activity fact is only self-declared, or the verified figure disagrees beyond tolerance
   (the account keeps the computed figures, traceable to facts × factors, and shows the verified
   one beside them with both sources: ``CrossCheck``);
4. no physical activity data, only revenue / value added;
5. nothing usable for this month.
"""

from __future__ import annotations

from collections.abc import Sequence
from decimal import Decimal

from carbon_accounting.domain.model import CrossCheck, Fact

#: default tolerance (the service setting ``ACCOUNTING_VERIFICATION_TOLERANCE`` overrides it): our
#: own calibration, the same 5 % the indicator catalogue uses to cross-validate grid-metered
#: against declared electricity (docs/indicators.md)
TOLERANCE = Decimal("0.05")

ACTIVITY_PREFIXES = ("energy.", "electricity.", "heat.", "process.", "production.", "scope3.")


def cross_check(
    facts: Sequence[Fact], total_tco2: Decimal, tolerance: Decimal = TOLERANCE
) -> CrossCheck | None:
    """Verified (``emissions.verified``) against computed emissions; None when nothing is verified."""
    verified = [f for f in facts if f.indicator == "emissions.verified"]
    if not verified:
        return None
    activity = {f.department for f in facts if f.indicator.startswith(ACTIVITY_PREFIXES)}
    return CrossCheck(
        verified_tco2=sum((f.value for f in verified), Decimal(0)),
        verified_by=", ".join(sorted({f.department for f in verified})),
        computed_tco2=total_tco2,
        computed_from=", ".join(sorted(activity)),
        tolerance=tolerance,
    )


def data_quality_score(facts: Sequence[Fact], check: CrossCheck | None) -> Decimal:
    if check is not None:
        return Decimal(3) if check.discrepancy else Decimal(1)
    activity = declared = finance = False
    for f in facts:
        if f.indicator.startswith(ACTIVITY_PREFIXES):
            activity = True
            declared = declared or f.declared_only
        elif f.indicator.startswith("finance."):
            finance = True
    if activity:
        return Decimal(3) if declared else Decimal(2)
    return Decimal(4) if finance else Decimal(5)
