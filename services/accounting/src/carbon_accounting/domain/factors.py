"""The emission factor library as values: factors, versioned factor sets and their look-ups.

Factors are DATA (``carbon_accounting/factors/*.yaml``), never constants in calculation code.
A factor set is immutable once published; a correction is a new version, and every account
records the ``id@version`` it used so a figure can always be traced to the exact factors.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

#: 44/12: molar mass of CO2 over that of carbon (IPCC 2006 Vol. 2 Ch. 1, Eq. 1.1 conventions)
CO2_PER_C = Decimal(44) / Decimal(12)


class FactorNotFound(LookupError):
    """No factor in the set covers the requested code and year."""


@dataclass(frozen=True, slots=True)
class Factor:
    code: str
    value: Decimal
    unit: str
    source: str
    valid_from: int | None = None
    valid_to: int | None = None
    year: int | None = None
    indicator: str | None = None
    verified: bool = True
    params: Mapping[str, str] = field(default_factory=dict)

    def covers(self, year: int) -> bool:
        return (self.valid_from is None or self.valid_from <= year) and (
            self.valid_to is None or year <= self.valid_to
        )

    def from_parameters(self) -> Decimal | None:
        """EF recomputed as NCV × carbon content × oxidation × 44/12 (fuels only), unrounded.

        NCV is in GJ per physical unit and carbon content in tC/TJ, hence the /1000.
        """
        try:
            ncv = Decimal(self.params["ncv"])
            cc = Decimal(self.params["carbon_content_tc_per_tj"])
            ox = Decimal(self.params["oxidation"])
        except KeyError:
            return None
        return ncv * cc * ox * CO2_PER_C / Decimal(1000)

    def to_dict(self) -> dict[str, Any]:
        return {
            "code": self.code,
            "value": str(self.value),
            "unit": self.unit,
            "source": self.source,
            "valid_from": self.valid_from,
            "valid_to": self.valid_to,
            "year": self.year,
            "indicator": self.indicator,
            "verified": self.verified,
            "params": dict(self.params),
        }

    @classmethod
    def from_dict(cls, raw: Mapping[str, Any]) -> Factor:
        source = str(raw["source"])
        verified = bool(raw.get("verified", "unverified" not in source.lower()))
        return cls(
            code=str(raw["code"]),
            value=Decimal(str(raw["value"])),
            unit=str(raw["unit"]),
            source=source,
            valid_from=_int_or_none(raw.get("valid_from")),
            valid_to=_int_or_none(raw.get("valid_to")),
            year=_int_or_none(raw.get("year")),
            indicator=raw.get("indicator"),
            verified=verified,
            params={str(k): str(v) for k, v in (raw.get("params") or {}).items()},
        )


def _int_or_none(v: Any) -> int | None:
    return None if v is None else int(v)


@dataclass(frozen=True, slots=True)
class FactorSet:
    """One published version of a factor library.

    Look-ups are memoised per (code, year): a set is immutable, and the consumer asks the same
    few questions for every enterprise-month of a batch.
    """

    id: str
    version: str
    factors: tuple[Factor, ...]
    title: str = ""
    _memo: dict[tuple[str, str, int], Factor | None] = field(
        default_factory=dict, init=False, repr=False, compare=False
    )

    @property
    def ref(self) -> str:
        """``id@version``: what every account records."""
        return f"{self.id}@{self.version}"

    @property
    def digest(self) -> str:
        """sha256 (hex) of the canonical content: ``to_dict()`` as JSON with sorted keys, no
        whitespace, UTF-8 — what is stored, so anyone can recompute it from the stored row."""
        canonical = json.dumps(self.to_dict(), sort_keys=True, separators=(",", ":"), ensure_ascii=False)
        return hashlib.sha256(canonical.encode()).hexdigest()

    def by_code(self, code: str, year: int) -> Factor:
        """The factor ``code`` for accounting year ``year``.

        Year-specific factors (grid): the latest data year <= ``year`` (domain-data.md §2:
        "accounting year Y normally uses the latest published factor"). Before the first
        published year the earliest one is used (a documented extrapolation, visible in lineage).
        """
        key = ("code", code, year)
        if key in self._memo:
            found = self._memo[key]
        else:
            found = self._memo[key] = self._by_code(code, year)
        if found is None:
            raise FactorNotFound(f"{self.ref} has no factor {code!r}")
        return found

    def _by_code(self, code: str, year: int) -> Factor | None:
        candidates = [f for f in self.factors if f.code == code]
        if not candidates:
            return None
        dated = [f for f in candidates if f.year is not None]
        if not dated:
            covering = [f for f in candidates if f.covers(year)] or candidates
            return covering[0]
        usable = [f for f in dated if f.year is not None and f.year <= year and f.covers(year)]
        if usable:
            return max(usable, key=lambda f: f.year or 0)
        return min(dated, key=lambda f: f.year or 0)

    def for_indicator(self, indicator: str, year: int) -> Factor | None:
        """The (first) factor whose ``indicator`` is exactly ``indicator``, if any."""
        key = ("indicator", indicator, year)
        if key not in self._memo:
            self._memo[key] = next(
                (f for f in self.factors if f.indicator == indicator and f.covers(year)), None
            )
        return self._memo[key]

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "version": self.version,
            "title": self.title,
            "factors": [f.to_dict() for f in self.factors],
        }

    @classmethod
    def from_dict(cls, raw: Mapping[str, Any]) -> FactorSet:
        return cls(
            id=str(raw["id"]),
            version=str(raw["version"]),
            title=str(raw.get("title", "")),
            factors=tuple(Factor.from_dict(f) for f in raw["factors"]),
        )
