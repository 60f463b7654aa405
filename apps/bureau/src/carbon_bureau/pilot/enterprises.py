"""The enterprise directory (名录库): identities, classifications and each plant's hidden traits.

Public fields are exactly the ``POST /v1/enterprises`` body; the traits (size of the plant,
growth, decarbonisation rate, reporting habits) drive the facts and never leave the generator
except as summary expectations.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from typing import Any

from stdnum.cn import uscc

from .industries import (
    BALANCE_SHEET,
    HEAT_EXPORT,
    HEAT_RESALE,
    INDUSTRIES,
    INSOLVENT_SHARE,
    PER_REVENUE,
    POWER_EXPORT,
    PROFILES,
    Industry,
    Profile,
)
from .regions import CITIES, PILOT_TOTAL, City, largest_remainder

_USCC_ALPHABET = "0123456789ABCDEFGHJKLMNPQRTUWXY"
_ORG_WEIGHTS = (3, 7, 9, 10, 5, 8, 4, 2)
_WORD_CHARS = "晋潞华鑫宏恒瑞泰德盛源兴隆丰昌达通安祥和嘉永金新中广天东北汇博卓凯润康荣信鼎辰峰海诚"
_STAGE_MIX = {"high": (0.45, 0.40, 0.15), "medium": (0.30, 0.45, 0.25), "low": (0.10, 0.30, 0.60)}
_DECARB_PROB = {"early": 0.35, "mid": 0.6, "mature": 0.8}
STAGES = ("early", "mid", "mature")


@dataclass(slots=True)
class Enterprise:
    credit_code: str
    name: str
    region_code: str
    city: City
    industry: Industry
    size_class: str
    transition_stage: str
    ets_participant: bool
    activity: float  # base monthly activity (canonical unit of the profile's output)
    growth: float  # yearly output growth
    decarb_rate: float  # yearly intensity change of fossil inputs (positive = falling)
    coefs: dict[str, float] = field(default_factory=dict)  # reported inputs, per unit of activity
    co_ratios: dict[str, float] = field(default_factory=dict)
    per_revenue: dict[str, float] = field(default_factory=dict)  # vehicle/canteen fuels per 10k CNY
    self_copy: bool = False  # declares its electricity itself too
    self_discrepant: float = 0.0  # share of its self declarations that differ > tolerance
    green_share: float = 0.0
    scope3: bool = False
    capex: bool = False
    milestones: bool = False
    price: float = 0.0
    va_share: float = 0.25
    power_export: float = 0.0  # exported electricity, share of the month's grid purchases
    heat_export: float = 0.0  # exported heat, GJ per unit of activity
    heat_resale: float = 0.0  # exported heat, share of the month's purchased heat
    assets_per_revenue: float = 1.2  # total assets / annual revenue
    leverage: float = 0.5  # debt / total assets (above 1: negative equity)

    @property
    def profile(self) -> Profile:
        return PROFILES[self.industry.profile]

    @property
    def decarbonises(self) -> bool:
        return self.decarb_rate >= 0.02

    def public(self) -> dict[str, Any]:
        """The ``POST /v1/enterprises`` body."""
        return {
            "credit_code": self.credit_code,
            "name": self.name,
            "region_code": self.region_code,
            "industry_code": self.industry.code,
            "size_class": self.size_class,
            "transition_stage": self.transition_stage,
            "ets_participant": self.ets_participant,
        }


def org_code(rng: random.Random) -> str:
    """A 9-character organisation code (GB 11714) with its own check character."""
    if rng.random() < 0.4:  # codes issued since 2015 start with "MA"
        body = "MA" + "".join(rng.choice(_USCC_ALPHABET) for _ in range(6))
    else:
        body = "".join(rng.choice("0123456789") for _ in range(8))
    total = sum(int(c, 36) * w for c, w in zip(body, _ORG_WEIGHTS, strict=True))
    check = 11 - total % 11
    return body + {10: "X", 11: "0"}.get(check, str(check))


def make_uscc(rng: random.Random, region_code: str) -> str:
    """Registration authority 9 (market regulation), entity type 1 (enterprise), region, org code."""
    first17 = "91" + region_code + org_code(rng)
    return first17 + uscc.calc_check_digit(first17)


def _name(rng: random.Random, city: City, county: str, industry: Industry, size: str) -> str:
    place = city.name if rng.random() < 0.7 else county
    word = rng.choice(_WORD_CHARS) + rng.choice(_WORD_CHARS)
    suffix = rng.choices(("有限公司", "有限责任公司", "股份有限公司"), (6, 3, 1 if size == "large" else 0))[0]
    return f"{place}{word}{rng.choice(industry.words)}{suffix}"


def _traits(rng: random.Random, ent: Enterprise) -> None:
    prof = ent.profile
    lo, hi = prof.large if ent.size_class == "large" else prof.sme
    ent.activity = rng.uniform(lo, hi)
    ent.growth = rng.uniform(*prof.growth)
    if rng.random() < _DECARB_PROB[ent.transition_stage]:
        ent.decarb_rate = rng.uniform(0.02, 0.06)
    else:
        ent.decarb_rate = rng.uniform(-0.01, 0.005)
    for inp in prof.inputs:
        if inp.share >= 1.0 or rng.random() < inp.share:
            ent.coefs[inp.indicator] = inp.per_unit * rng.gauss(1.0, prof.jitter)
    for indicator, rlo, rhi in prof.co_outputs:
        ent.co_ratios[indicator] = rng.uniform(rlo, rhi)
    for indicator, per, share in PER_REVENUE:
        if indicator not in ent.coefs and rng.random() < share:
            ent.per_revenue[indicator] = per * rng.uniform(0.5, 1.5)
    ent.self_copy = rng.random() < 0.45
    ent.self_discrepant = 0.15 if rng.random() < 0.3 else 0.0
    ent.green_share = rng.uniform(0.05, 0.3) if rng.random() < (0.3 if ent.decarbonises else 0.08) else 0.0
    ent.scope3 = ent.size_class == "large" and rng.random() < 0.25
    ent.capex = ent.size_class == "large" or rng.random() < 0.4
    ent.milestones = ent.size_class == "large" or (prof.carbon == "high" and rng.random() < 0.3)
    ent.price = prof.price * rng.gauss(1.0, 0.08)
    ent.va_share = rng.uniform(0.15, 0.35)
    _exports_and_balance_sheet(rng, ent)


def _exports_and_balance_sheet(rng: random.Random, ent: Enterprise) -> None:
    key, large = ent.industry.profile, ent.size_class == "large"
    if key in POWER_EXPORT:
        p_large, p_sme, lo, hi = POWER_EXPORT[key]
        if rng.random() < (p_large if large else p_sme):
            ent.power_export = rng.uniform(lo, hi)
    if key in HEAT_EXPORT:
        p_large, p_sme, lo, hi = HEAT_EXPORT[key]
        if rng.random() < (p_large if large else p_sme):
            ent.heat_export = rng.uniform(lo, hi)
    if key in HEAT_RESALE and "heat.purchased" in ent.coefs:
        p, lo, hi = HEAT_RESALE[key]
        if rng.random() < p:
            ent.heat_resale = rng.uniform(lo, hi)
    ratio, lev_lo, lev_hi = BALANCE_SHEET[key]
    ent.assets_per_revenue = ratio * rng.uniform(0.75, 1.3)
    ent.leverage = rng.uniform(lev_lo, lev_hi)
    if not large and ent.profile.carbon == "high" and rng.random() < INSOLVENT_SHARE:
        ent.leverage = rng.uniform(1.02, 1.15)


def build_enterprises(rng: random.Random, total: int) -> list[Enterprise]:
    """``total`` enterprises split across the pilot cities and industries in pilot proportions."""
    per_city = largest_remainder(total, [c.pilot_enterprises for c in CITIES])
    codes: set[str] = set()
    names: set[str] = set()
    out: list[Enterprise] = []
    for city, n_city in zip(CITIES, per_city, strict=True):
        per_industry = largest_remainder(n_city, [i.weight for i in INDUSTRIES])
        county_weights = [rng.uniform(0.5, 2.0) for _ in city.counties]
        for industry, n_ind in zip(INDUSTRIES, per_industry, strict=True):
            carbon = PROFILES[industry.profile].carbon
            for _ in range(n_ind):
                county_code, county_name = rng.choices(city.counties, county_weights)[0]
                size = "large" if rng.random() < industry.large_share else "sme"
                stage = rng.choices(STAGES, _STAGE_MIX[carbon])[0]
                code = make_uscc(rng, county_code)
                while code in codes:
                    code = make_uscc(rng, county_code)
                name = _name(rng, city, county_name, industry, size)
                while name in names:
                    name = _name(rng, city, county_name, industry, size)
                codes.add(code)
                names.add(name)
                ets = industry.ets_when == "all" or (industry.ets_when == "large" and size == "large")
                ent = Enterprise(code, name, county_code, city, industry, size, stage, ets, 0.0, 0.0, 0.0)
                _traits(rng, ent)
                out.append(ent)
    out.sort(key=lambda e: e.credit_code)
    return out


def scale_note(total: int) -> str:
    """Human note on how far the dataset is from the pilot's size."""
    return "pilot size" if total == PILOT_TOTAL else f"{total}/{PILOT_TOTAL} of pilot size"
