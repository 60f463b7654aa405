"""Stream mishaps that a real bureau sees: late arrivals, corrections, duplicates, bad records.

Shares (of the true facts): ~3 % late (1–6 months), ~1 % corrected later (same department and
record id, value changed by 2–12 %), ~0.5 % re-sent identically, ~0.3 % malformed copies, each
with exactly one defect and its expected rejection. Electricity that has a self-declared twin
is never corrected, so the cross-validation flags stay clearly on one side of the tolerance.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from stdnum.cn import uscc

from .catalogue import CATALOGUE, EEB, GRID, TAX, department_kind
from .departments import unit_for
from .enterprises import Enterprise, make_uscc
from .facts import Fact

REASONS: tuple[tuple[str, str], ...] = (
    ("unknown_enterprise", "credit_code"),
    ("invalid_credit_code", "credit_code"),
    ("unknown_indicator", "indicator"),
    ("invalid_period", "period"),
    ("negative_value", "value"),
    ("unit_not_accepted", "unit"),
    ("department_not_allowed", "indicator"),
    ("missing_attribute", "attributes.severity"),
)
_BAD_PERIODS = ("2024-13", "2023-00", "2022-1", "202305", "2021/06")
_BAD_INDICATORS = ("energy.coal_gangue", "electricity.bought", "production.steel", "emissions.total")
_FOREIGN_UNITS = ("MWh", "t", "GJ", "lb", "10k CNY")
_NO_CORRECTION = frozenset(("ets.", "compliance.", "emissions.", "transition."))
_USCC_ALPHABET = "0123456789ABCDEFGHJKLMNPQRTUWXY"
_LATE_SHARE, _CORRECTION_SHARE, _DUPLICATE_SHARE, _MALFORMED_SHARE = 0.03, 0.01, 0.005, 0.003


@dataclass(slots=True)
class Sent:
    """One record as it travels: its batch (slot, department) and its body."""

    slot: int
    department: str
    seq: int
    body: dict[str, Any]


def render(fact: Fact) -> dict[str, Any]:
    """The record body a department sends for a fact, in the department's unit."""
    unit = unit_for(fact.department, fact.indicator)
    value = fact.value / CATALOGUE[fact.indicator].units[unit]
    body: dict[str, Any] = {
        "record_id": f"{fact.credit_code}-{fact.period}-{fact.indicator}",
        "credit_code": fact.credit_code,
        "indicator": fact.indicator,
        "period": fact.period,
        "value": format(value, "f"),
        "unit": unit,
    }
    if fact.attributes:
        body["attributes"] = dict(fact.attributes)
    return body


def _corrected(rng: random.Random, body: dict[str, Any]) -> dict[str, Any]:
    row = CATALOGUE[body["indicator"]]
    factor = row.units[body["unit"]]
    canonical = Decimal(body["value"]) * factor
    change = 1 + rng.uniform(0.02, 0.12) * rng.choice((-1, 1))
    new = Decimal(f"{float(canonical) * change:.{row.places}f}")
    if new <= 0 or new == canonical:
        new = canonical + Decimal(1).scaleb(-row.places)
    return {**body, "value": format(new / factor, "f")}


class Mishaps:
    """Applies the mishaps to the rendered facts with the generator's ``random.Random``."""

    def __init__(self, rng: random.Random, enterprises: list[Enterprise]) -> None:
        self.rng = rng
        self.known = {e.credit_code for e in enterprises}
        self.by_code = {e.credit_code: e for e in enterprises}
        self.malformed: list[dict[str, str]] = []

    def apply(self, facts: list[Fact]) -> list[Sent]:
        rng = self.rng
        base: list[Sent] = []
        for i, fact in enumerate(facts):
            slot = fact.slot
            if fact.indicator.split(".")[0] not in ("ets", "emissions") and rng.random() < _LATE_SHARE:
                slot += rng.randint(1, 6)
            base.append(Sent(slot, fact.department, i, render(fact)))
        twins = {
            (s.body["credit_code"], s.body["period"])
            for s in base
            if department_kind(s.department) == "self" and s.body["indicator"] == "electricity.purchased"
        }
        extra: list[Sent] = []
        seq = len(base)
        for sent in base:
            body = sent.body
            if self._correctable(sent, twins) and rng.random() < _CORRECTION_SHARE:
                seq += 1
                extra.append(Sent(sent.slot + rng.randint(1, 4), sent.department, seq, _corrected(rng, body)))
            elif rng.random() < _DUPLICATE_SHARE:
                seq += 1
                extra.append(Sent(sent.slot + rng.randint(1, 3), sent.department, seq, dict(body)))
        n_bad = max(len(REASONS), round(_MALFORMED_SHARE * len(base)))
        unsigned = [s for s in base if not CATALOGUE[s.body["indicator"]].signed]
        for k in range(n_bad):
            seq += 1
            extra.append(self._malformed(k, rng.choice(unsigned), seq))
        return base + extra

    @staticmethod
    def _correctable(sent: Sent, twins: set[tuple[str, str]]) -> bool:
        body = sent.body
        if department_kind(sent.department) == "self" or body["indicator"].startswith(tuple(_NO_CORRECTION)):
            return False
        return not (
            body["indicator"] == "electricity.purchased" and (body["credit_code"], body["period"]) in twins
        )

    def _malformed(self, k: int, src: Sent, seq: int) -> Sent:
        """A copy of ``src`` with exactly one defect; records the expected rejection."""
        rng = self.rng
        reason, field = REASONS[k % len(REASONS)]
        body = dict(src.body)
        if body["indicator"].startswith(("ets.", "compliance.")):  # attributes would muddy the defect
            body.pop("attributes", None)
            body.update(indicator="finance.revenue", unit="10k CNY")
        dept = src.department
        ent = self.by_code[body["credit_code"]]
        if department_kind(dept) not in CATALOGUE[body["indicator"]].kinds:
            dept = f"{TAX}-{ent.region_code if ent.size_class == 'sme' else ent.city.code}"
        if reason == "unknown_enterprise":
            code = make_uscc(rng, ent.region_code)
            while code in self.known:
                code = make_uscc(rng, ent.region_code)
            body["credit_code"] = code
        elif reason == "invalid_credit_code":
            code = body["credit_code"]
            wrong = rng.choice([c for c in _USCC_ALPHABET if c != code[-1]])
            body["credit_code"] = code[:-1] + wrong
            assert not uscc.is_valid(body["credit_code"])
        elif reason == "unknown_indicator":
            body["indicator"] = rng.choice(_BAD_INDICATORS)
        elif reason == "invalid_period":
            body["period"] = rng.choice(_BAD_PERIODS)
        elif reason == "negative_value":
            body["value"] = "-" + body["value"]
        elif reason == "unit_not_accepted":
            accepted = CATALOGUE[body["indicator"]].units
            body["unit"] = next(u for u in _FOREIGN_UNITS if u not in accepted)
        elif reason == "department_not_allowed":
            allowed = CATALOGUE[body["indicator"]].kinds
            kind = TAX if TAX not in allowed else GRID
            dept = f"{kind}-{ent.region_code if ent.size_class == 'sme' else ent.city.code}"
        else:  # missing_attribute: an environmental penalty without its required severity
            dept = f"{EEB}-{ent.city.code}"
            body.update(indicator="compliance.env_penalty", value="1", unit="count")
            body.pop("attributes", None)
        body["record_id"] = f"{body['credit_code']}-{src.body['period']}-{body['indicator']}~bad{k}"
        self.malformed.append(
            {"department": dept, "record_id": body["record_id"], "field": field, "reason": reason}
        )
        return Sent(src.slot, dept, seq, body)
