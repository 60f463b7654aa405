"""The true monthly (and yearly) facts of every enterprise, before any stream mishaps.

Per month an enterprise's activity = base × growth^(t/12) × season × maintenance × noise; each
reported input = activity × its coefficient × (fossil inputs only) the decarbonisation
trajectory (1 − rate)^(t/12) × winter heating surcharge × noise. Money follows activity.
Exporters sell a share of the electricity they buy (self-generation surplus) or heat per unit of
activity; the approximate true scope 2 behind the verified figures nets them as accounting does
(not for power plants, floored at zero). Yearly facts (carbon market, verified emissions,
transition milestones, December balance sheets: total debt and equity, consistent with revenue)
are derived from the months.
Values are kept in canonical units as decimals; units are chosen later by the department.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from .catalogue import CATALOGUE, EEB, GRID, NDRC, SELF, STATS, TAX
from .departments import REGISTRY, VERIFIER, home
from .enterprises import Enterprise
from .factors import FACTORS, grid_factor
from .industries import PROFILES, WINTER_MONTHS

# GB/T 4754-2017 power generation (441x): the MEE power guideline does not net exported
# electricity or heat (it is the product); docs/accounting.md §2
POWER_METHOD_PREFIX = "441"

_FOSSIL = {key: {i.indicator: i.fossil for i in p.inputs} for key, p in PROFILES.items()}
_WINTER = {key: {i.indicator: i.winter for i in p.inputs} for key, p in PROFILES.items()}
_EF = {k: float(f.value) for k, f in FACTORS.items()}


@dataclass(slots=True)
class Fact:
    """A value as its department would first send it (canonical unit)."""

    department: str
    credit_code: str
    indicator: str
    period: str
    value: Decimal
    slot: int  # arrival slot: 0 = the first month of the dataset; period month t arrives at t + 1
    attributes: dict[str, Any] | None = None


def _q(indicator: str, value: float) -> Decimal | None:
    """Canonical decimal with the indicator's precision; None when it rounds to nothing."""
    row = CATALOGUE[indicator]
    d = Decimal(f"{value:.{row.places}f}")
    return d if d > 0 or (row.signed and d != 0) else None


class Calendar:
    """Month index ↔ ``YYYY-MM`` for the dataset's window."""

    def __init__(self, start: str, months: int) -> None:
        year, month = (int(x) for x in start.split("-"))
        self.year0, self.month0, self.months = year, month, months
        self.periods = [self.period(t) for t in range(months)]

    def ym(self, t: int) -> tuple[int, int]:
        n = self.year0 * 12 + self.month0 - 1 + t
        return n // 12, n % 12 + 1

    def period(self, t: int) -> str:
        y, m = self.ym(t)
        return f"{y:04d}-{m:02d}"

    def index(self, year: int, month: int) -> int:
        return year * 12 + month - 1 - (self.year0 * 12 + self.month0 - 1)

    def complete_years(self) -> list[int]:
        """Years whose January and December are both inside the window."""
        y_first, _ = self.ym(0)
        y_last, _ = self.ym(self.months - 1)
        return [
            y for y in range(y_first, y_last + 1) if self.index(y, 1) >= 0 and self.index(y, 12) < self.months
        ]


class FactBuilder:
    """Builds the facts of all enterprises with one seeded ``random.Random``."""

    def __init__(self, rng: random.Random, cal: Calendar) -> None:
        self.rng = rng
        self.cal = cal
        self.facts: list[Fact] = []
        # approximate true scope 1 / scope 1+2 per (credit_code, year), used for ETS and verification
        self.s1: dict[tuple[str, int], float] = {}
        self.s12: dict[tuple[str, int], float] = {}
        # (credit_code, year) -> (revenue sum, months), for the year-end balance sheet
        self.revenue: dict[tuple[str, int], tuple[float, int]] = {}

    def _emit(
        self,
        dept: str,
        ent: Enterprise,
        ind: str,
        t: int,
        value: float,
        slot: int | None = None,
        **attrs: Any,
    ) -> float:
        d = _q(ind, value)
        if d is None:
            return 0.0
        period = self.cal.periods[t]
        self.facts.append(
            Fact(dept, ent.credit_code, ind, period, d, t + 1 if slot is None else slot, attrs or None)
        )
        return float(d)

    def monthly(self, ent: Enterprise) -> None:
        rng, prof = self.rng, ent.profile
        fossil, winter = _FOSSIL[prof.key], _WINTER[prof.key]
        for t in range(self.cal.months):
            year, month = self.cal.ym(t)
            years = t / 12
            maint = 0.35 if rng.random() < 0.015 else 1.0
            act = (
                ent.activity * (1 + ent.growth) ** years * prof.season[month - 1] * maint * rng.gauss(1, 0.04)
            )
            trend = (1 - ent.decarb_rate * prof.transition_scale) ** years
            s1 = s2 = el_bought = heat_bought = 0.0
            if prof.output is not None:
                self._emit(home(prof.output_kind, ent), ent, prof.output, t, act)
            for ind, ratio in ent.co_ratios.items():
                dept = home(EEB if ent.ets_participant and ind.startswith("process.") else STATS, ent)
                v = self._emit(dept, ent, ind, t, act * ratio * (1 if ratio == 1.0 else rng.gauss(1, 0.01)))
                s1 += v * _EF.get(ind, 0.0)
            for ind, coef in ent.coefs.items():
                q = act * coef * (trend if fossil[ind] else trend**0.5)
                if month in WINTER_MONTHS:
                    q *= winter[ind]
                q *= rng.gauss(1, 0.03)
                if ind == "electricity.purchased":
                    el_bought = self._emit(home(GRID, ent), ent, ind, t, q)
                    self._electricity_extras(ent, t, year, el_bought)
                else:
                    v = self._emit(home(STATS, ent), ent, ind, t, q)
                    if ind == "heat.purchased":
                        heat_bought = v
                    else:
                        s1 += v * _EF.get(ind, 0.0)
            el_sold, heat_sold = self._exports(ent, t, act, el_bought, heat_bought)
            if ent.industry.code.startswith(POWER_METHOD_PREFIX):  # exports are the product
                el_sold = heat_sold = 0.0
            s2 += max(el_bought - el_sold, 0.0) * float(grid_factor(year).value)
            s2 += max(heat_bought - heat_sold, 0.0) * _EF["heat.purchased"]
            revenue = self._emit(
                home(TAX, ent), ent, "finance.revenue", t, act * ent.price * rng.gauss(1, 0.05)
            )
            self._emit(
                home(STATS, ent), ent, "finance.value_added", t, revenue * ent.va_share * rng.gauss(1, 0.05)
            )
            for ind, per in ent.per_revenue.items():
                v = self._emit(home(STATS, ent), ent, ind, t, revenue * per * trend * rng.gauss(1, 0.05))
                s1 += v * _EF[ind]
            if ent.scope3:
                self._emit(home(SELF, ent), ent, "scope3.purchased_goods", t, revenue * rng.uniform(0.3, 0.6))
                self._emit(home(SELF, ent), ent, "scope3.transport", t, revenue * rng.uniform(0.02, 0.06))
            rev_sum, rev_n = self.revenue.get((ent.credit_code, year), (0.0, 0))
            self.revenue[(ent.credit_code, year)] = (rev_sum + revenue, rev_n + 1)
            if ent.capex and month % 3 == 0:
                self._capex(ent, t, revenue * 3)
            self._compliance(ent, t)
            key = (ent.credit_code, year)
            self.s1[key] = self.s1.get(key, 0.0) + s1
            self.s12[key] = self.s12.get(key, 0.0) + s1 + s2

    def _electricity_extras(self, ent: Enterprise, t: int, year: int, grid_mwh: float) -> None:
        rng = self.rng
        if ent.self_copy and grid_mwh > 0:
            if rng.random() < ent.self_discrepant:  # clearly above the 5 % tolerance
                dev = rng.uniform(0.07, 0.15) * rng.choice((-1, 1))
            else:  # clearly within it
                dev = rng.uniform(-0.03, 0.03)
            self._emit(home(SELF, ent), ent, "electricity.purchased", t, grid_mwh * (1 + dev))
        if ent.green_share and year >= 2022:
            green = grid_mwh * ent.green_share
            self._emit(home(GRID, ent), ent, "electricity.green_purchased", t, green, certificates=int(green))

    def _exports(
        self, ent: Enterprise, t: int, act: float, el_bought: float, heat_bought: float
    ) -> tuple[float, float]:
        """Exported electricity (grid-metered) and heat (statistics / self-declared) of a month."""
        rng = self.rng
        el_sold = heat_sold = 0.0
        if ent.power_export and el_bought > 0:
            share = ent.power_export * rng.gauss(1, 0.08)
            el_sold = self._emit(home(GRID, ent), ent, "electricity.exported", t, el_bought * share)
        if ent.heat_resale and heat_bought > 0:
            share = ent.heat_resale * rng.gauss(1, 0.05)
            heat_sold += self._emit(home(STATS, ent), ent, "heat.exported", t, heat_bought * share)
        if ent.heat_export:
            per = ent.heat_export * rng.gauss(1, 0.05)
            heat_sold += self._emit(home(SELF, ent), ent, "heat.exported", t, act * per)
        return el_sold, heat_sold

    def _capex(self, ent: Enterprise, t: int, quarter_revenue: float) -> None:
        rng = self.rng
        total = self._emit(
            home(NDRC, ent), ent, "finance.total_capex", t, quarter_revenue * rng.uniform(0.03, 0.12)
        )
        share = rng.uniform(0.15, 0.45) if ent.decarbonises else rng.uniform(0.0, 0.08)
        self._emit(home(NDRC, ent), ent, "finance.reduction_capex", t, total * share)

    def _compliance(self, ent: Enterprise, t: int) -> None:
        rng = self.rng
        risk = {"early": 2.0, "mid": 1.0, "mature": 0.4}[ent.transition_stage]
        risk *= 1.5 if ent.profile.carbon == "high" else 0.6
        if rng.random() < 0.002 * risk:
            severity = rng.choices(("minor", "major", "serious"), (0.7, 0.25, 0.05))[0]
            self._emit(home(EEB, ent), ent, "compliance.env_penalty", t, 1, severity=severity)
        if rng.random() < 0.001 * risk:
            self._emit(home(EEB, ent), ent, "compliance.permit_violation", t, 1)

    def yearly(self, ents: list[Enterprise]) -> None:
        """Milestones for every year in the window; carbon market and verification for complete years."""
        rng, cal = self.rng, self.cal
        y_first, _ = cal.ym(0)
        y_last, _ = cal.ym(cal.months - 1)
        for ent in ents:
            if not ent.milestones:
                continue
            for year in range(y_first, y_last + 1):
                jan, dec = cal.index(year, 1), cal.index(year, 12)
                if jan < 0:
                    continue
                planned = rng.randint(2, 6)
                self._emit(home(NDRC, ent), ent, "transition.milestones_planned", jan, planned)
                if dec < cal.months:
                    met = planned - rng.randint(0, 1) if ent.decarbonises else rng.randint(0, planned // 2)
                    self._emit(home(NDRC, ent), ent, "transition.milestones_met", dec, met)
        self._balance_sheets(ents)
        participants = [e for e in ents if e.ets_participant]
        years = cal.complete_years()
        pairs = [(e, y) for e in participants for y in years]
        overdrafts = {(e.credit_code, y) for e, y in rng.sample(pairs, min(2, len(pairs)))}
        last = cal.months
        for ent, year in pairs:
            dec = cal.index(year, 12)
            self._ets(
                ent, year, dec, min(cal.index(year + 1, 5), last), (ent.credit_code, year) in overdrafts
            )
            s12 = self.s12.get((ent.credit_code, year), 0.0)
            dev = (
                rng.uniform(0.07, 0.12) * rng.choice((-1, 1))
                if rng.random() < 0.08
                else rng.uniform(-0.02, 0.02)
            )
            slot = min(cal.index(year + 1, 4), last)
            self._emit(VERIFIER, ent, "emissions.verified", dec, s12 * (1 + dev), slot)

    def _balance_sheets(self, ents: list[Enterprise]) -> None:
        """Total debt and equity at every December in the window, filed with the yearly tax return.

        Total assets = the year's revenue (annualised from the months in the window) × the plant's
        assets per revenue × noise; leverage drifts ±3 pp a year around the plant's own. The
        statements arrive with the annual corporate income tax settlement (by 31 May).
        """
        rng, cal = self.rng, self.cal
        y_first, _ = cal.ym(0)
        y_last, _ = cal.ym(cal.months - 1)
        for ent in ents:
            dept = home(TAX, ent)
            for year in range(y_first, y_last + 1):
                dec = cal.index(year, 12)
                rev_sum, rev_n = self.revenue.get((ent.credit_code, year), (0.0, 0))
                if not 0 <= dec < cal.months or rev_n == 0:
                    continue
                assets = rev_sum * 12 / rev_n * ent.assets_per_revenue * rng.gauss(1, 0.03)
                leverage = ent.leverage + rng.uniform(-0.03, 0.03)
                debt = self._emit(dept, ent, "finance.total_debt", dec, assets * leverage, self._may(year))
                self._emit(dept, ent, "finance.total_equity", dec, assets - debt, self._may(year))

    def _may(self, year: int) -> int:
        """Arrival slot of a yearly filing due by the end of May of the next year (window-capped)."""
        return min(self.cal.index(year + 1, 5), self.cal.months)

    def _ets(self, ent: Enterprise, year: int, dec: int, slot: int, overdraft: bool) -> None:
        rng = self.rng
        verified = round(self.s1.get((ent.credit_code, year), 0.0) * rng.gauss(1, 0.005))
        if verified <= 0:
            return
        allocated = round(verified * (0.9 if overdraft else rng.uniform(0.94, 1.04)))
        emit = self._emit
        emit(REGISTRY, ent, "ets.allocated", dec, allocated, slot)
        emit(REGISTRY, ent, "ets.verified", dec, verified, slot)
        shortfall = verified - allocated
        if overdraft:
            emit(REGISTRY, ent, "ets.surrendered", dec, allocated, slot, on_time=False)
            emit(REGISTRY, ent, "ets.overdraft", dec, shortfall, slot)
            return
        if shortfall > 0 and rng.random() < 0.4:
            emit(REGISTRY, ent, "ets.borrowed", dec, shortfall, slot)
        emit(REGISTRY, ent, "ets.surrendered", dec, verified, slot, on_time=rng.random() < 0.95)


def build_facts(rng: random.Random, cal: Calendar, ents: list[Enterprise]) -> list[Fact]:
    """All true facts, enterprise by enterprise (sorted by credit code), then the yearly ones."""
    builder = FactBuilder(rng, cal)
    for ent in ents:
        builder.monthly(ent)
    builder.yearly(ents)
    return builder.facts
