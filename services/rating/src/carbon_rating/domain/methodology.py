"""The methodology as versioned data: its shape, and the validation that refuses a bad file.

The numbers live in ``carbon_rating/methodology/<version>.yaml`` (with their sources); this module
only checks that a parsed file is coherent — weights per stage sum to exactly 1, label thresholds
strictly descending down to 0, every veto caps at a known label — and raises ``MethodologyError``
naming the offending field, so a broken methodology is refused at load rather than producing odd
ratings later.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from itertools import pairwise
from typing import Any

from carbon_rating.domain.stage import MEASURES, StageRule

SUB_SCORES = (
    "current_performance",
    "improvement",
    "forward_looking",
    "compliance",
    "market_conduct",
    "data_quality",
    "leader_gap",
)
STAGES = ("early", "mid", "mature")
LABELS = ("dark_green", "light_green", "yellow", "red")  # best first


class MethodologyError(ValueError):
    """The methodology file does not validate; ``field`` is the dotted path of the culprit."""

    def __init__(self, field: str, reason: str) -> None:
        super().__init__(f"{field}: {reason}")
        self.field = field
        self.reason = reason


@dataclass(frozen=True, slots=True)
class LabelBand:
    label: str
    min_score: Decimal
    name_zh: str
    name_en: str
    meaning_en: str
    meaning_zh: str


@dataclass(frozen=True, slots=True)
class Benchmark:
    industry_code: str
    unit: str
    intensity: Decimal
    source: str


@dataclass(frozen=True, slots=True)
class Veto:
    code: str
    cap: str
    description: str


@dataclass(frozen=True, slots=True)
class Methodology:
    version: str
    window_months: int
    missing_score: Decimal
    weights: dict[str, dict[str, Decimal]]
    labels: tuple[LabelBand, ...]
    benchmarks: tuple[Benchmark, ...]
    params: dict[str, Decimal]
    penalty_points: dict[str, Decimal]
    vetoes: dict[str, Veto]
    #: where a non-applicable sub-score's weight goes (keeps weights exact decimals summing to 1)
    reassign: dict[str, str]
    raw: dict[str, Any]
    #: rules deriving the stage from evidence (first match wins); empty = the directory's stage
    stage_rules: tuple[StageRule, ...] = ()
    #: sha256 of the methodology file's text (set by the loader): what the audit trail records
    digest: str = ""

    def band(self, label: str) -> LabelBand:
        return next(b for b in self.labels if b.label == label)

    def benchmark(self, industry_code: str, unit: str | None) -> Benchmark | None:
        for b in self.benchmarks:
            if b.industry_code == industry_code and b.unit == unit:
                return b
        return None

    def p(self, name: str) -> Decimal:
        return self.params[name]


def _dec(value: Any, field: str) -> Decimal:
    try:
        d = Decimal(str(value))
    except (InvalidOperation, ValueError) as exc:
        raise MethodologyError(field, f"not a decimal number: {value!r}") from exc
    if not d.is_finite():
        raise MethodologyError(field, "must be finite")
    return d


def _section(data: dict[str, Any], key: str) -> Any:
    if key not in data:
        raise MethodologyError(key, "missing")
    return data[key]


def _weights(raw: Any) -> dict[str, dict[str, Decimal]]:
    if not isinstance(raw, dict):
        raise MethodologyError("weights", "must map each stage to its weights")
    out: dict[str, dict[str, Decimal]] = {}
    for stage in STAGES:
        per = raw.get(stage)
        if not isinstance(per, dict):
            raise MethodologyError(f"weights.{stage}", "missing")
        unknown = sorted(set(per) - set(SUB_SCORES))
        if unknown:
            raise MethodologyError(f"weights.{stage}.{unknown[0]}", "unknown sub-score")
        ws = {s: _dec(per.get(s, 0), f"weights.{stage}.{s}") for s in SUB_SCORES}
        for s, w in ws.items():
            if w < 0:
                raise MethodologyError(f"weights.{stage}.{s}", "must not be negative")
        total = sum(ws.values(), Decimal(0))
        if total != 1:
            raise MethodologyError(f"weights.{stage}", f"must sum to 1, sums to {total}")
        out[stage] = ws
    return out


def _labels(raw: Any) -> tuple[LabelBand, ...]:
    if not isinstance(raw, list) or [b.get("label") for b in raw] != list(LABELS):
        raise MethodologyError("labels", f"must list exactly {', '.join(LABELS)} in that order")
    bands = tuple(
        LabelBand(
            label=b["label"],
            min_score=_dec(b.get("min_score"), f"labels.{b['label']}.min_score"),
            name_zh=str(b.get("name_zh", "")),
            name_en=str(b.get("name_en", "")),
            meaning_en=str(b.get("meaning_en", "")),
            meaning_zh=str(b.get("meaning_zh", "")),
        )
        for b in raw
    )
    for upper, lower in pairwise(bands):
        if lower.min_score >= upper.min_score:
            raise MethodologyError(
                f"labels.{lower.label}.min_score", f"overlaps {upper.label}: thresholds must strictly descend"
            )
    if bands[-1].min_score != 0:
        raise MethodologyError(f"labels.{bands[-1].label}.min_score", "the lowest label must start at 0")
    if bands[0].min_score > 100:
        raise MethodologyError(f"labels.{bands[0].label}.min_score", "must be at most 100")
    return bands


def _bounds(raw: Any, field: str) -> dict[str, Decimal]:
    if raw is None:
        return {}
    if not isinstance(raw, dict):
        raise MethodologyError(field, "must map evidence measures to bounds")
    out: dict[str, Decimal] = {}
    for name, value in raw.items():
        if name not in MEASURES:
            raise MethodologyError(
                f"{field}.{name}", f"unknown evidence measure (known: {', '.join(MEASURES)})"
            )
        bound = _dec(value, f"{field}.{name}")
        if not 0 <= bound <= 1:
            raise MethodologyError(f"{field}.{name}", "a share: must be within 0..1")
        out[str(name)] = bound
    return out


def _stage_rules(raw: Any) -> tuple[StageRule, ...]:
    if raw is None:
        return ()
    if not isinstance(raw, list):
        raise MethodologyError("stage_rules", "must be a list of rules")
    rules = []
    for i, r in enumerate(raw):
        field = f"stage_rules[{i}]"
        if not isinstance(r, dict):
            raise MethodologyError(field, "must be a mapping")
        if r.get("stage") not in STAGES:
            raise MethodologyError(f"{field}.stage", f"must be one of {', '.join(STAGES)}")
        at_least, below = (
            _bounds(r.get("at_least"), f"{field}.at_least"),
            _bounds(r.get("below"), f"{field}.below"),
        )
        if not at_least and not below:
            raise MethodologyError(field, "needs at least one condition (at_least or below)")
        for name in set(at_least) & set(below):
            if at_least[name] >= below[name]:
                raise MethodologyError(
                    f"{field}.below.{name}", "must be above at_least: the rule never holds"
                )
        declared = r.get("declared") or []
        if not isinstance(declared, list) or any(d not in STAGES for d in declared):
            raise MethodologyError(f"{field}.declared", f"must list stages among {', '.join(STAGES)}")
        rules.append(StageRule(str(r["stage"]), at_least, below, str(r.get("reason", "")), tuple(declared)))
    return tuple(rules)


def parse_methodology(data: dict[str, Any]) -> Methodology:
    """Validate a parsed methodology document; raise ``MethodologyError`` naming the field."""
    version = str(_section(data, "version"))
    window = int(_section(data, "window_months"))
    if not 1 <= window <= 36:
        raise MethodologyError("window_months", "must be between 1 and 36")
    params_raw = _section(data, "parameters")
    if not isinstance(params_raw, dict):
        raise MethodologyError("parameters", "must be a mapping")
    params = {k: _dec(v, f"parameters.{k}") for k, v in params_raw.items()}
    penalties_raw = _section(data, "penalty_points")
    penalties = {k: _dec(v, f"penalty_points.{k}") for k, v in penalties_raw.items()}
    benchmarks = tuple(
        Benchmark(
            industry_code=str(b["industry_code"]),
            unit=str(b["unit"]),
            intensity=_dec(b["intensity"], f"benchmarks[{i}].intensity"),
            source=str(b.get("source", "")),
        )
        for i, b in enumerate(_section(data, "benchmarks"))
    )
    vetoes: dict[str, Veto] = {}
    for code, v in _section(data, "vetoes").items():
        if v.get("cap") not in LABELS:
            raise MethodologyError(f"vetoes.{code}.cap", f"must be one of {', '.join(LABELS)}")
        vetoes[code] = Veto(code=code, cap=v["cap"], description=str(v.get("description", "")))
    missing = _dec(_section(data, "missing_score"), "missing_score")
    if not 0 <= missing <= 100:
        raise MethodologyError("missing_score", "must be within 0..100")
    reassign = {str(k): str(v) for k, v in (data.get("reassign_when_not_applicable") or {}).items()}
    for k, v in reassign.items():
        if k not in SUB_SCORES or v not in SUB_SCORES or k == v:
            raise MethodologyError(f"reassign_when_not_applicable.{k}", "must map a sub-score to another one")
    return Methodology(
        version=version,
        window_months=window,
        missing_score=missing,
        weights=_weights(_section(data, "weights")),
        labels=_labels(_section(data, "labels")),
        benchmarks=benchmarks,
        params=params,
        penalty_points=penalties,
        vetoes=vetoes,
        reassign=reassign,
        raw=data,
        stage_rules=_stage_rules(data.get("stage_rules")),
    )
