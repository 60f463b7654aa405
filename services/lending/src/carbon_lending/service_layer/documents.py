"""The JSON document of a quote: what the bank sees, stored as-is so retries return it exactly."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from carbon_lending.domain.pricing import PricedQuote


def _s(value: Decimal) -> str:
    return format(value, "f")


def quote_document(q: PricedQuote, quote_id: str) -> dict[str, Any]:
    c = q.components
    req = q.request
    r = q.rating
    cls = q.classification
    return {
        "quote_id": quote_id,
        "bank_id": req.bank_id,
        "credit_code": req.credit_code,
        "product": req.product,
        "amount_cny": _s(req.amount),
        "term_months": req.term_months,
        "annual_rate_pct": _s(q.annual_rate_pct),
        "components": {
            "base_rate_pct": _s(c.base_rate_pct),
            "base_rate_source": c.base_rate_source,
            "bank_spread_bp": _s(c.bank_spread_bp),
            "rating_adjustment_bp": _s(c.rating_adjustment_bp),
            "subsidy_bp": _s(c.subsidy_bp),
            "pboc_refinancing_bp": _s(c.refinancing_bp),
            "ratchet_bp": _s(c.ratchet_bp),
            "floor_adjustment_bp": _s(c.floor_adjustment_bp),
        },
        "ratchet_start": {
            "basis": "kpi" if q.kpi_targets else "label",
            "label": r.label if r else None,
            "ratchet_bp": _s(c.ratchet_bp),
            "kpi_targets": [t.as_json() for t in q.kpi_targets],
        }
        if q.product.ratchet
        else None,
        "schedule": {
            "method": q.schedule.method,
            "grace_months": q.schedule.grace_months,
            "amortising_months": q.schedule.amortising_months,
            "monthly_principal_cny": _s(q.schedule.monthly_principal),
            "deferred_interest_cny": _s(q.schedule.deferred_interest),
            "first_instalment_cny": _s(q.schedule.first_instalment),
            "total_interest_cny": _s(q.schedule.total_interest),
            "total_repaid_cny": _s(q.schedule.total_repaid),
        },
        "approval": {
            "track": q.approval.track,
            "sla_working_days_min": q.approval.sla_min_days,
            "sla_working_days_max": q.approval.sla_max_days,
            "reasons": list(q.approval.reasons),
        },
        "risk_sharing_cny": {k: _s(v) for k, v in q.risk_sharing.items()},
        "pboc_refinancing_principal_cny": _s(q.refinancing_principal),
        "subsidy_cost_first_year_cny": _s(q.subsidy_cost_first_year),
        "pledge": None
        if q.pledge is None
        else {
            "allowance_quantity_t": _s(q.pledge.allowance_quantity_t),
            "cea_price_cny": _s(q.pledge.cea_price_cny),
            "pledge_ratio": _s(q.pledge.pledge_ratio),
            "collateral_value_cny": _s(q.pledge.collateral_value_cny),
            "pledge_value_cny": _s(q.pledge.pledge_value_cny),
            "margin_call_price_cny": _s(q.pledge.margin_call_price_cny),
        },
        "rating": None
        if r is None
        else {
            "rating_id": r.rating_id,
            "score": _s(r.score),
            "label": r.label,
            "confidence": _s(r.confidence),
            "methodology_version": r.methodology_version,
            "issued_at": r.issued_at.isoformat(),
            "vetoes": list(r.vetoes),
            "open_objections": list(r.open_objections),
        },
        "classification": None
        if cls is None
        else {
            "catalogue_version": cls.catalogue_version,
            "activity_code": cls.activity.code if cls.activity else None,
            "subsidy_eligible": cls.subsidy_eligible,
            "pboc_refinancing_eligible": cls.pboc_refinancing_eligible,
        },
        "policy_version": q.policy_version,
        "quoted_at": q.quoted_at.isoformat(),
        "valid_until": q.valid_until.isoformat(),
        "explanation": list(q.explanation),
    }
