"""The indicator catalogue as a value object, built from its versioned data file.

The data (``carbon_ingest/catalogue/indicators-v<N>.yaml``) is the contract that
docs/indicators.md summarises; this module only gives it types and checks it on load, so a
broken catalogue fails at start-up rather than on the first submission.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from carbon_ingest.domain.identifiers import DEPARTMENT_KINDS
from carbon_ingest.domain.plausibility import PlausibilityRule, rule_for
from carbon_ingest.domain.units import UnitError, factor

ATTRIBUTE_TYPES: dict[str, type | tuple[type, ...]] = {"string": str, "bool": bool, "number": (int, float)}
#: the fact streams besides the one that carries every fact (``streams`` in the catalogue data):
#: ``credit``, the families the rating and lending services read (service_layer/fact_events.py
#: maps each stream to its topic)
STREAMS = frozenset({"credit"})


class CatalogueError(ValueError):
    """The catalogue data is inconsistent (unknown kind, unconvertible unit, ...)."""


@dataclass(frozen=True, slots=True)
class AttributeRule:
    required: bool = False
    enum: tuple[str, ...] = ()
    type: str | None = None


@dataclass(frozen=True, slots=True)
class Indicator:
    code: str
    unit: str
    accepted_units: tuple[str, ...]
    kinds: frozenset[str]
    authoritative: frozenset[str]
    not_correctable_by: frozenset[str] = frozenset()
    min_value: Decimal | None = Decimal(0)
    integer: bool = False
    attributes: Mapping[str, AttributeRule] = field(default_factory=dict)
    #: relative tolerance when two sources report this indicator; None = not cross-checked
    cross_check_tolerance: Decimal | None = None

    def may_correct(self, kind: str) -> bool:
        return kind not in self.not_correctable_by


@dataclass(frozen=True, slots=True)
class Catalogue:
    version: int
    indicators: Mapping[str, Indicator]
    #: plausibility rules per indicator family (domain/plausibility.py)
    plausibility: tuple[PlausibilityRule, ...] = ()
    #: per extra fact stream (``STREAMS``), the indicator families (code prefixes) it carries
    streams: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    #: each indicator's plausibility rule (derived from ``plausibility``)
    plausibility_rules: Mapping[str, PlausibilityRule] = field(init=False)
    #: per extra fact stream, the indicator codes it carries (derived from ``streams``)
    stream_indicators: Mapping[str, frozenset[str]] = field(init=False)

    def __post_init__(self) -> None:
        rules = {c: r for c in self.indicators if (r := rule_for(self.plausibility, c)) is not None}
        object.__setattr__(self, "plausibility_rules", rules)
        carried = {
            stream: frozenset(c for c in self.indicators if c.startswith(tuple(families)))
            for stream, families in self.streams.items()
        }
        object.__setattr__(self, "stream_indicators", carried)

    def get(self, code: str) -> Indicator | None:
        return self.indicators.get(code)

    @property
    def cross_checked(self) -> frozenset[str]:
        return frozenset(c for c, i in self.indicators.items() if i.cross_check_tolerance is not None)


def _kinds(value: Any, where: str) -> frozenset[str]:
    kinds = frozenset(value or ())
    unknown = kinds - DEPARTMENT_KINDS
    if unknown:
        raise CatalogueError(f"{where}: unknown department kinds {sorted(unknown)}")
    return kinds


def _indicator(code: str, spec: Mapping[str, Any]) -> Indicator:
    unit = str(spec["unit"])
    accepted = tuple(str(u) for u in spec.get("accepted", [unit]))
    for u in accepted:
        try:
            factor(u, unit)
        except UnitError as exc:
            raise CatalogueError(f"{code}: {exc}") from exc
    kinds = _kinds(spec.get("kinds"), code)
    if not kinds:
        raise CatalogueError(f"{code}: no department kind may report it")
    default_authority = (kinds - {"self"}) or kinds
    authoritative = _kinds(spec.get("authoritative"), code) or default_authority
    minimum = spec.get("min", 0)
    attrs = {
        name: AttributeRule(
            required=bool(rule.get("required", False)),
            enum=tuple(str(v) for v in rule.get("enum", ())),
            type=rule.get("type"),
        )
        for name, rule in (spec.get("attributes") or {}).items()
    }
    for name, rule in attrs.items():
        if rule.type is not None and rule.type not in ATTRIBUTE_TYPES:
            raise CatalogueError(f"{code}: attribute {name} has unknown type {rule.type}")
    cross = spec.get("cross_check")
    return Indicator(
        code=code,
        unit=unit,
        accepted_units=accepted,
        kinds=kinds,
        authoritative=authoritative,
        not_correctable_by=_kinds(spec.get("not_correctable_by"), code),
        min_value=None if minimum is None else Decimal(str(minimum)),
        integer=bool(spec.get("integer", False)),
        attributes=attrs,
        cross_check_tolerance=Decimal(str(cross["tolerance"])) if cross else None,
    )


def _plausibility(spec: Mapping[str, Any]) -> PlausibilityRule:
    rule = PlausibilityRule(
        family=str(spec["family"]),
        max_ratio=Decimal(str(spec["max_ratio"])),
        window_months=int(spec.get("window_months", 12)),
        min_history=int(spec.get("min_history", 3)),
    )
    if not rule.family or rule.max_ratio <= 1 or rule.window_months < 1 or rule.min_history < 1:
        raise CatalogueError(
            f"plausibility rule {spec!r}: needs a family, max_ratio > 1, window and history ≥ 1"
        )
    return rule


def _streams(spec: Any, indicators: Mapping[str, Indicator]) -> dict[str, tuple[str, ...]]:
    """``streams: {<stream>: [<family prefix>, ...]}``: every stream known, every prefix a non-empty
    string that matches at least one indicator (a typo would silently starve a consumer)."""
    if spec is None:
        return {}
    if not isinstance(spec, dict):
        raise CatalogueError("streams: must map a stream name to a list of indicator families")
    out: dict[str, tuple[str, ...]] = {}
    for name, families in spec.items():
        where = f"streams.{name}"
        if name not in STREAMS:
            raise CatalogueError(f"{where}: unknown stream (known: {', '.join(sorted(STREAMS))})")
        if not isinstance(families, list) or not families:
            raise CatalogueError(f"{where}: must be a non-empty list of indicator families (code prefixes)")
        for family in families:
            if not isinstance(family, str) or not family:
                raise CatalogueError(f"{where}: {family!r} is not an indicator family (a code prefix)")
            if not any(code.startswith(family) for code in indicators):
                raise CatalogueError(f"{where}: family {family!r} matches no indicator")
        if len(set(families)) != len(families):
            raise CatalogueError(f"{where}: a family appears twice in {families}")
        out[str(name)] = tuple(families)
    return out


def parse_catalogue(data: Mapping[str, Any]) -> Catalogue:
    """Build and check a catalogue from its data-file mapping."""
    try:
        version = int(data["version"])
        indicators = {str(code): _indicator(str(code), spec) for code, spec in data["indicators"].items()}
        plausibility = tuple(_plausibility(r) for r in data.get("plausibility") or ())
        streams = _streams(data.get("streams"), indicators)
    except (KeyError, TypeError, AttributeError, ValueError, ArithmeticError) as exc:
        if isinstance(exc, CatalogueError):
            raise
        raise CatalogueError(f"malformed catalogue: {exc!r}") from exc
    families = [r.family for r in plausibility]
    if len(set(families)) != len(families):
        raise CatalogueError(f"plausibility: a family appears twice in {families}")
    for r in plausibility:
        if not any(code.startswith(r.family) for code in indicators):
            raise CatalogueError(f"plausibility: family {r.family!r} matches no indicator")
    return Catalogue(version=version, indicators=indicators, plausibility=plausibility, streams=streams)
