"""Bank policy and product terms as data (parsed from the versioned YAML in ``products/``).

Nothing here holds a number: every rate, spread, threshold and split is read from a bank's
policy file, where each value carries its source or is marked as our own calibration.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from typing import Any


def _d(value: Any) -> Decimal:
    return Decimal(str(value))


@dataclass(frozen=True, slots=True)
class RatchetTerms:
    """Carbon-performance margin ratchet: ``step_bp`` per label notch, capped both ways."""

    step_bp: Decimal
    cap_up_bp: Decimal
    cap_down_bp: Decimal


@dataclass(frozen=True, slots=True)
class PledgeTerms:
    """Allowance (CEA) pledge: ratio = base − volatility haircut − compliance-gap haircut."""

    base_ratio: Decimal
    volatility_weight: Decimal
    compliance_gap_weight: Decimal
    min_ratio: Decimal
    max_ratio: Decimal
    margin_call_coverage: Decimal  # collateral value / outstanding below this → margin call


@dataclass(frozen=True, slots=True)
class Product:
    code: str
    name: str
    description: str
    spread_bp: Decimal
    min_amount: Decimal
    max_amount: Decimal
    min_term_months: int
    max_term_months: int
    green_only: bool = False
    requires_rating: bool = False
    requires_collateral: bool = False
    grace_months: int = 0
    eligible_stages: tuple[str, ...] = ()
    ratchet: RatchetTerms | None = None
    pledge: PledgeTerms | None = None
    risk_sharing: dict[str, Decimal] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class PcafTerms:
    """PCAF attribution fallback: debt + equity ≈ annual revenue × assets-per-revenue ratio."""

    assets_per_revenue: dict[str, Decimal] = field(default_factory=dict)  # GB/T 4754 division or "default"
    fallback_min_score: Decimal = Decimal(4)

    def ratio_for(self, industry_code: str) -> Decimal | None:
        return self.assets_per_revenue.get(industry_code[:2]) or self.assets_per_revenue.get("default")


@dataclass(frozen=True, slots=True)
class TrackRule:
    sla_min_days: int
    sla_max_days: int


@dataclass(frozen=True, slots=True)
class BankPolicy:
    bank_id: str
    version: str
    lpr_pct: Decimal
    lpr_effective: date
    lpr_note: str
    rate_floor_pct: Decimal
    label_adjustment_bp: dict[str, Decimal]
    subsidy_bp: Decimal
    subsidy_labels: tuple[str, ...]
    subsidy_budget_cny: Decimal
    refinancing_share: Decimal
    refinancing_rate_pct: Decimal
    refinancing_passthrough: Decimal
    risk_sharing: dict[str, Decimal]
    tracks: dict[str, TrackRule]
    fast_track_min_confidence: Decimal
    manual_review_below_confidence: Decimal
    quote_validity_days: int
    interest_period_months: int
    cea_reference_price: Decimal
    cea_volatility: Decimal
    products: dict[str, Product]
    pcaf: PcafTerms = field(default_factory=PcafTerms)


def _product(code: str, raw: dict[str, Any], default_sharing: dict[str, Decimal]) -> Product:
    ratchet = raw.get("ratchet")
    pledge = raw.get("pledge")
    return Product(
        code=code,
        name=str(raw["name"]),
        description=str(raw.get("description", "")).strip(),
        spread_bp=_d(raw["spread_bp"]),
        min_amount=_d(raw["min_amount_cny"]),
        max_amount=_d(raw["max_amount_cny"]),
        min_term_months=int(raw["min_term_months"]),
        max_term_months=int(raw["max_term_months"]),
        green_only=bool(raw.get("green_only", False)),
        requires_rating=bool(raw.get("requires_rating", False)),
        requires_collateral=bool(raw.get("requires_collateral", False)),
        grace_months=int(raw.get("grace_months", 0)),
        eligible_stages=tuple(raw.get("eligible_stages", ())),
        ratchet=RatchetTerms(_d(ratchet["step_bp"]), _d(ratchet["cap_up_bp"]), _d(ratchet["cap_down_bp"]))
        if ratchet
        else None,
        pledge=PledgeTerms(
            base_ratio=_d(pledge["base_ratio"]),
            volatility_weight=_d(pledge["volatility_weight"]),
            compliance_gap_weight=_d(pledge["compliance_gap_weight"]),
            min_ratio=_d(pledge["min_ratio"]),
            max_ratio=_d(pledge["max_ratio"]),
            margin_call_coverage=_d(pledge["margin_call_coverage"]),
        )
        if pledge
        else None,
        risk_sharing={k: _d(v) for k, v in (raw.get("risk_sharing") or {}).items()} or default_sharing,
    )


def parse_policy(raw: dict[str, Any]) -> BankPolicy:
    """Build a policy from the YAML mapping (values are ``{value, source}`` or bare numbers)."""

    def v(node: Any) -> Any:
        return node["value"] if isinstance(node, dict) and "value" in node else node

    lpr = raw["base_rate"]
    sub = raw["subsidy"]
    refi = raw["pboc_refinancing"]
    sharing = {k: _d(v(x)) for k, x in raw["risk_sharing"]["split"].items()}
    if sum(sharing.values()) != 1:
        raise ValueError(f"risk_sharing split must sum to 1, got {sum(sharing.values())}")
    appr = raw["approval"]
    market = raw["market"]
    return BankPolicy(
        bank_id=str(raw["bank_id"]),
        version=str(raw["version"]),
        lpr_pct=_d(v(lpr["lpr_1y_pct"])),
        lpr_effective=date.fromisoformat(str(lpr["effective_date"])),
        lpr_note=str(lpr.get("note", "")),
        rate_floor_pct=_d(v(raw["rate_floor_pct"])),
        label_adjustment_bp={k: _d(v(x)) for k, x in raw["rating_adjustment_bp"].items()},
        subsidy_bp=_d(v(sub["bp"])),
        subsidy_labels=tuple(sub["eligible_labels"]),
        subsidy_budget_cny=_d(v(sub["budget_cny"])),
        refinancing_share=_d(v(refi["share_of_principal"])),
        refinancing_rate_pct=_d(v(refi["rate_pct"])),
        refinancing_passthrough=_d(v(refi["passthrough"])),
        risk_sharing=sharing,
        tracks={
            k: TrackRule(int(t["sla_min_days"]), int(t["sla_max_days"])) for k, t in appr["tracks"].items()
        },
        fast_track_min_confidence=_d(v(appr["fast_track_min_confidence"])),
        manual_review_below_confidence=_d(v(appr["manual_review_below_confidence"])),
        quote_validity_days=int(raw["quote_validity_days"]),
        interest_period_months=int(raw["interest_period_months"]),
        cea_reference_price=_d(v(market["cea_price_cny_per_t"])),
        cea_volatility=_d(v(market["cea_annual_volatility"])),
        products={code: _product(code, p, sharing) for code, p in raw["products"].items()},
        pcaf=PcafTerms(
            assets_per_revenue={
                str(k): _d(v(x)) for k, x in (raw.get("pcaf", {}).get("assets_per_revenue") or {}).items()
            },
            fallback_min_score=_d(v(raw.get("pcaf", {}).get("fallback_min_score", 4))),
        ),
    )


@dataclass(frozen=True, slots=True)
class PolicyBook:
    """Every bank's policy (``default`` for banks without their own file)."""

    policies: dict[str, BankPolicy]

    def for_bank(self, bank_id: str) -> BankPolicy:
        return self.policies.get(bank_id) or self.policies["default"]
