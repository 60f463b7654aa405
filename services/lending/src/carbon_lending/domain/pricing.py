"""Quote pricing: LPR + bank spread + rating adjustment − subsidy − refinancing pass-through.

All components are basis points (``Decimal``); the annual rate is their sum over the base rate,
floored at the policy's floor, converted to percent and quantised to 0.0001 % half-up. The same
request against the same rating and policy version gives the same quote, to the basis point.
The pilot's ~170 bp advantage is decomposed, not packed into one ratchet (domain-data §5).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from decimal import Decimal

from carbon_lending.domain.approval import Approval, decide_track
from carbon_lending.domain.classification import Classification
from carbon_lending.domain.errors import Conflict, InvalidRequest
from carbon_lending.domain.model import Enterprise, Rating, money, pct
from carbon_lending.domain.pledge import PledgeValuation, value_pledge
from carbon_lending.domain.policy import BankPolicy, Product
from carbon_lending.domain.ratchet import KPI_METRICS, KpiTarget
from carbon_lending.domain.schedule import ScheduleSummary, summarise

ZERO = Decimal(0)


@dataclass(frozen=True, slots=True)
class Collateral:
    allowance_quantity_t: Decimal | None = None
    cea_price_cny: Decimal | None = None
    compliance_gap_share: Decimal = ZERO


@dataclass(frozen=True, slots=True)
class QuoteRequest:
    bank_id: str
    credit_code: str
    product: str
    amount: Decimal
    term_months: int
    base_rate_pct: Decimal | None = None
    collateral: Collateral | None = None


@dataclass(frozen=True, slots=True)
class Components:
    base_rate_pct: Decimal
    base_rate_source: str
    bank_spread_bp: Decimal
    rating_adjustment_bp: Decimal
    subsidy_bp: Decimal
    refinancing_bp: Decimal
    ratchet_bp: Decimal
    floor_adjustment_bp: Decimal

    @property
    def total_bp(self) -> Decimal:
        return (
            self.base_rate_pct * 100
            + self.bank_spread_bp
            + self.rating_adjustment_bp
            - self.subsidy_bp
            - self.refinancing_bp
            + self.ratchet_bp
            + self.floor_adjustment_bp
        )


@dataclass(frozen=True, slots=True)
class PricedQuote:
    request: QuoteRequest
    policy_version: str
    product: Product
    annual_rate_pct: Decimal
    components: Components
    approval: Approval
    risk_sharing: dict[str, Decimal]
    schedule: ScheduleSummary
    pledge: PledgeValuation | None
    rating: Rating | None
    classification: Classification | None
    refinancing_principal: Decimal
    subsidy_cost_first_year: Decimal
    quoted_at: datetime
    valid_until: datetime
    explanation: tuple[str, ...] = field(default_factory=tuple)
    kpi_targets: tuple[KpiTarget, ...] = ()


def check_request(req: QuoteRequest, product: Product) -> None:
    if req.amount <= 0:
        raise InvalidRequest("amount must be greater than zero", field="amount_cny")
    if not product.min_amount <= req.amount <= product.max_amount:
        raise InvalidRequest(
            f"{product.code} lends {product.min_amount}–{product.max_amount} CNY; {req.amount} is outside",
            field="amount_cny",
        )
    if not product.min_term_months <= req.term_months <= product.max_term_months:
        raise InvalidRequest(
            f"{product.code} terms are {product.min_term_months}–{product.max_term_months} months",
            field="term_months",
        )


def price_quote(
    req: QuoteRequest,
    enterprise: Enterprise,
    rating: Rating | None,
    policy: BankPolicy,
    *,
    classification: Classification | None,
    subsidy_budget_left: Decimal,
    now: datetime,
    kpi_targets: tuple[KpiTarget, ...] = (),
) -> PricedQuote:
    """Price one quote. Raises ``InvalidRequest``/``Conflict`` for requests the product refuses."""
    product = policy.products.get(req.product)
    if product is None:
        raise InvalidRequest(
            f"unknown product {req.product!r}; this bank offers {', '.join(sorted(policy.products))}",
            field="product",
        )
    check_request(req, product)
    why: list[str] = []
    if kpi_targets:
        if product.ratchet is None:
            raise InvalidRequest(
                f"{product.code} has no margin ratchet: KPI targets apply only to a ratcheted product",
                field="kpi_targets",
            )
        unknown = sorted({t.metric for t in kpi_targets} - set(KPI_METRICS))
        if unknown:
            raise InvalidRequest(
                f"unknown KPI metric(s) {', '.join(unknown)}; known: {', '.join(KPI_METRICS)}",
                field="kpi_targets",
            )
    if product.requires_rating and rating is None:
        raise Conflict(f"{product.code} is priced on the rating and {req.credit_code} has no rating yet")
    if classification is not None and not classification.allows(product.code):
        raise InvalidRequest(
            f"purpose not eligible for {product.code}: {'; '.join(classification.reasons)}", field="purpose"
        )
    if product.green_only and classification is None:
        why.append("indicative: no purpose classified yet; a green-only product needs one before booking")
    stage = rating.transition_stage if rating else enterprise.transition_stage
    if product.eligible_stages and stage not in product.eligible_stages:
        raise InvalidRequest(
            f"{product.code} is for {'/'.join(product.eligible_stages)}-stage enterprises; "
            f"this one is {stage}",
            field="product",
        )

    base = req.base_rate_pct if req.base_rate_pct is not None else policy.lpr_pct
    base_source = (
        "request" if req.base_rate_pct is not None else f"configured 1-year LPR from {policy.lpr_effective}"
    )
    why.append(f"base rate {base}% ({base_source}) + bank spread {product.spread_bp} bp for {product.code}")

    adj = ZERO
    if rating is None:
        why.append("unrated: no rating adjustment, subsidy or rating-linked benefit")
    else:
        adj = policy.label_adjustment_bp.get(rating.label, ZERO)
        why.append(f"rating {rating.rating_id} label {rating.label} (score {rating.score}): {adj:+} bp")

    subsidy = ZERO
    subsidy_cost = ZERO
    if rating is not None and rating.label in policy.subsidy_labels and classification is not None:
        if classification.subsidy_eligible:
            subsidy_cost = money(req.amount * policy.subsidy_bp / 10000)
            if subsidy_cost <= subsidy_budget_left:
                subsidy = policy.subsidy_bp
                why.append(
                    f"interest subsidy −{subsidy} bp (first-year cost {subsidy_cost} CNY from the budget)"
                )
            else:
                subsidy_cost = ZERO
                why.append(f"subsidy budget exhausted ({subsidy_budget_left} CNY left): no subsidy")
        else:
            why.append("purpose not subsidy-eligible")

    refi = ZERO
    refi_principal = ZERO
    if classification is not None and classification.pboc_refinancing_eligible:
        saving_pct = max(base - policy.refinancing_rate_pct, ZERO)
        refi = (policy.refinancing_share * saving_pct * policy.refinancing_passthrough * 100).quantize(
            Decimal("0.01")
        )
        refi_principal = money(req.amount * policy.refinancing_share)
        why.append(
            f"PBOC carbon-reduction refinancing of {refi_principal} CNY at "
            f"{policy.refinancing_rate_pct}%: −{refi} bp passed on"
        )

    comps = Components(base, base_source, product.spread_bp, adj, subsidy, refi, ZERO, ZERO)
    floor_bp = policy.rate_floor_pct * 100
    if comps.total_bp < floor_bp:
        comps = Components(
            base, base_source, product.spread_bp, adj, subsidy, refi, ZERO, floor_bp - comps.total_bp
        )
        why.append(f"rate floored at {policy.rate_floor_pct}%")
    rate = pct(comps.total_bp)

    pledge = None
    if product.pledge is not None:
        c = req.collateral
        if c is None or c.allowance_quantity_t is None or c.allowance_quantity_t <= 0:
            raise InvalidRequest(
                f"{product.code} needs collateral.allowance_quantity_t (CEA allowances pledged)",
                field="collateral.allowance_quantity_t",
            )
        price = c.cea_price_cny or policy.cea_reference_price
        pledge = value_pledge(
            product.pledge,
            req.amount,
            c.allowance_quantity_t,
            price,
            policy.cea_volatility,
            c.compliance_gap_share,
        )
        if req.amount > pledge.pledge_value_cny:
            raise InvalidRequest(
                f"amount {req.amount} exceeds the pledge value {pledge.pledge_value_cny} CNY "
                f"({c.allowance_quantity_t} t × {price} CNY/t × ratio {pledge.pledge_ratio})",
                field="amount_cny",
            )
        why.append(
            f"pledge ratio {pledge.pledge_ratio}; margin call below {pledge.margin_call_price_cny} CNY/t"
        )

    if kpi_targets:
        why.append(
            "margin ratchet on KPI targets (from the next interest period, within caps): "
            + "; ".join(f"{t.metric} ≤ {t.target}" for t in kpi_targets)
        )
    approval = decide_track(rating, policy)
    why.append(f"approval {approval.track} ({approval.sla_min_days}–{approval.sla_max_days} working days)")
    sharing = {k: money(req.amount * share) for k, share in product.risk_sharing.items()}
    return PricedQuote(
        request=req,
        policy_version=policy.version,
        product=product,
        annual_rate_pct=rate,
        components=comps,
        approval=approval,
        risk_sharing=sharing,
        schedule=summarise(req.amount, rate, req.term_months, product.grace_months),
        pledge=pledge,
        rating=rating,
        classification=classification,
        refinancing_principal=refi_principal,
        subsidy_cost_first_year=subsidy_cost,
        quoted_at=now,
        valid_until=now + timedelta(days=policy.quote_validity_days),
        explanation=tuple(why),
        kpi_targets=kpi_targets,
    )
