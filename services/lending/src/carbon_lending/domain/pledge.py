"""Carbon-allowance (CEA) pledge: dynamic pledge ratio, collateral value and margin call.

ratio = base − volatility_weight × annual volatility − compliance_gap_weight × gap share, kept
within [min, max] (all bank-policy parameters, our calibration). A compliance gap (allowances
the enterprise still owes the ETS) makes the pledged allowances less free to realise, hence the
haircut. A margin call is due when collateral value / outstanding falls below the coverage
threshold.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal

from carbon_lending.domain.model import money
from carbon_lending.domain.policy import PledgeTerms

RATIO_Q = Decimal("0.0001")


@dataclass(frozen=True, slots=True)
class PledgeValuation:
    allowance_quantity_t: Decimal
    cea_price_cny: Decimal
    pledge_ratio: Decimal
    collateral_value_cny: Decimal
    pledge_value_cny: Decimal
    margin_call_price_cny: Decimal


def pledge_ratio(terms: PledgeTerms, volatility: Decimal, compliance_gap_share: Decimal) -> Decimal:
    raw = (
        terms.base_ratio
        - terms.volatility_weight * volatility
        - terms.compliance_gap_weight * compliance_gap_share
    )
    return min(max(raw, terms.min_ratio), terms.max_ratio).quantize(RATIO_Q, rounding=ROUND_HALF_UP)


def value_pledge(
    terms: PledgeTerms,
    amount: Decimal,
    quantity_t: Decimal,
    price: Decimal,
    volatility: Decimal,
    compliance_gap_share: Decimal,
) -> PledgeValuation:
    ratio = pledge_ratio(terms, volatility, compliance_gap_share)
    value = money(quantity_t * price)
    return PledgeValuation(
        allowance_quantity_t=quantity_t,
        cea_price_cny=price,
        pledge_ratio=ratio,
        collateral_value_cny=value,
        pledge_value_cny=money(value * ratio),
        margin_call_price_cny=money(terms.margin_call_coverage * amount / quantity_t),
    )


def margin_call_due(terms: PledgeTerms, outstanding: Decimal, quantity_t: Decimal, price: Decimal) -> bool:
    """True when the allowances at ``price`` no longer cover ``outstanding`` × coverage threshold."""
    return outstanding > 0 and quantity_t * price < terms.margin_call_coverage * outstanding
