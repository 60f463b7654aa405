"""Validation of one submitted record against the directory and the catalogue.

One path for HTTP batches and Kafka records. ``check_record`` needs no database state beyond
"is this enterprise in the directory", so it runs before the batch takes the evidence-chain lock;
``classify`` (facts.py) then decides new / duplicate / correction against the stored heads.
Every rejection names the record, the field and a reason a person can act on.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Container, Mapping
from dataclasses import dataclass
from datetime import date
from decimal import Decimal, InvalidOperation
from typing import Any, NamedTuple

from carbon_ingest.domain import identifiers
from carbon_ingest.domain.catalogue import ATTRIBUTE_TYPES, Catalogue, Indicator
from carbon_ingest.domain.units import UnitError, canonical_decimal, convert_spelled

MAX_RECORD_ID = 200


class RawRecord(NamedTuple):
    """A record as received (any JSON types): validation decides what it is. (The per-record
    value objects are ``NamedTuple``s: immutable, and built in one C call, where a frozen
    dataclass sets each field through ``object.__setattr__``.)"""

    record_id: Any
    credit_code: Any = None
    indicator: Any = None
    period: Any = None
    value: Any = None
    unit: Any = None
    attributes: Any = None


@dataclass(frozen=True, slots=True)
class Rejection:
    record_id: str
    field: str
    reason: str
    #: index of the record in its submission (-1 when unknown)
    position: int = -1


class CheckedRecord(NamedTuple):
    record_id: str
    credit_code: str
    indicator: Indicator
    period: str
    value: Decimal
    original_value: str
    original_unit: str
    attributes: Mapping[str, Any]
    position: int = -1
    #: ``canonical_decimal(value)``, when the validator has it already ("" = not given)
    value_text: str = ""

    @property
    def unit(self) -> str:
        return self.indicator.unit

    @property
    def content_hash(self) -> str:
        """What makes two submissions of one record_id "the same content" (canonical units, so
        1,000 kg and 1 t are the same value)."""
        value = self.value_text or canonical_decimal(self.value)
        if not self.attributes:
            # the common case, spelled out: byte for byte what json.dumps(sort_keys=True) gives for
            # these validated ASCII fields (nothing to escape), without the encoder's overhead
            text = (
                f'{{"attributes": {{}}, "credit_code": "{self.credit_code}", "indicator": '
                f'"{self.indicator.code}", "period": "{self.period}", "value": "{value}"}}'
            )
            return hashlib.sha256(text.encode()).hexdigest()
        body = {
            "credit_code": self.credit_code,
            "indicator": self.indicator.code,
            "period": self.period,
            "value": value,
            "attributes": self.attributes,
        }
        return hashlib.sha256(json.dumps(body, sort_keys=True, ensure_ascii=False).encode()).hexdigest()


class _Reject(Exception):
    def __init__(self, field: str, reason: str) -> None:
        self.field = field
        self.reason = reason


def _text(value: Any, field: str) -> str:
    if not isinstance(value, str) or not value.strip():
        raise _Reject(field, "missing" if value is None else "must be a non-empty string")
    return value.strip()


#: no physical or monetary indicator of one enterprise-month comes near 1e15 in any accepted unit
#: (1e15 t of coal is a million times China's yearly use); larger values are typos or attacks
MAX_MAGNITUDE = Decimal("1e15")
MAX_DIGITS = 34


def _value(raw: Any, ind: Indicator) -> Decimal:
    if isinstance(raw, bool) or not isinstance(raw, str | int | float):
        raise _Reject(
            "value", "missing" if raw is None else 'must be a decimal number (a string such as "12.5")'
        )
    try:
        value = Decimal(str(raw).strip())
    except InvalidOperation as exc:
        raise _Reject("value", f"{str(raw)[:40]!r} is not a decimal number") from exc
    if not value.is_finite():
        raise _Reject("value", "must be a finite number")
    if abs(value) >= MAX_MAGNITUDE or len(value.as_tuple().digits) > MAX_DIGITS:
        raise _Reject(
            "value", f"{str(raw)[:40]!r} is out of range (at most {MAX_DIGITS} digits, magnitude below 1e15)"
        )
    if ind.min_value is not None and value < ind.min_value:
        raise _Reject("value", f"{ind.code} cannot be below {ind.min_value}")
    if ind.integer and value != value.to_integral_value():
        raise _Reject("value", f"{ind.code} is a count and must be a whole number")
    return value


def _attributes(raw: Any, ind: Indicator) -> dict[str, Any]:
    if raw is None:
        raw = {}
    if not isinstance(raw, dict):
        raise _Reject("attributes", "must be an object")
    for name, rule in ind.attributes.items():
        field = f"attributes.{name}"
        if name not in raw:
            if rule.required:
                raise _Reject(field, f"required for {ind.code}")
            continue
        value = raw[name]
        if rule.enum and value not in rule.enum:
            raise _Reject(field, f"must be one of {', '.join(rule.enum)}")
        expected = ATTRIBUTE_TYPES.get(rule.type or "")
        if expected is not None and (
            not isinstance(value, expected) or (rule.type == "number" and isinstance(value, bool))
        ):
            raise _Reject(field, f"must be a {rule.type}")
    return dict(raw)


def check_record(
    raw: RawRecord,
    department: identifiers.Department,
    catalogue: Catalogue,
    directory: Container[str],
    today: date,
    position: int = -1,
) -> CheckedRecord | Rejection:
    """Validate ``raw`` completely; the first failing field is reported."""
    record_id = raw.record_id if isinstance(raw.record_id, str) else ""
    try:
        record_id = _text(raw.record_id, "record_id")
        if len(record_id) > MAX_RECORD_ID:
            raise _Reject("record_id", f"longer than {MAX_RECORD_ID} characters")
        try:
            credit_code = identifiers.credit_code(_text(raw.credit_code, "credit_code"))
        except identifiers.InvalidIdentifierError as exc:
            raise _Reject("credit_code", str(exc)) from exc
        own = department.own_credit_code
        if own is not None and credit_code != own:
            raise _Reject("credit_code", f"department {department.id} may only report for {own}")
        if credit_code not in directory:
            raise _Reject("credit_code", f"enterprise {credit_code} is not registered in the directory")
        code = _text(raw.indicator, "indicator")
        ind = catalogue.get(code)
        if ind is None:
            raise _Reject("indicator", f"unknown indicator {code!r} (see GET /v1/catalogue/indicators)")
        if department.kind not in ind.kinds:
            allowed = ", ".join(sorted(ind.kinds))
            raise _Reject(
                "indicator", f"{department.kind} departments may not report {code} (allowed: {allowed})"
            )
        try:
            period = identifiers.period(_text(raw.period, "period"), today)
        except identifiers.InvalidIdentifierError as exc:
            raise _Reject("period", str(exc)) from exc
        value = _value(raw.value, ind)
        unit = _text(raw.unit, "unit")
        if unit not in ind.accepted_units:
            raise _Reject(
                "unit", f"{unit!r} is not accepted for {code} (accepted: {', '.join(ind.accepted_units)})"
            )
        try:
            canonical, spelled = convert_spelled(value, unit, ind.unit)
        except UnitError as exc:
            raise _Reject("unit", str(exc)) from exc
        if abs(canonical) >= MAX_MAGNITUDE:  # e.g. 5e14 kt: in range as sent, 5e17 t once converted
            raise _Reject(
                "value",
                f"{str(raw.value).strip()[:40]} {unit} is {canonical:.3e} {ind.unit}: out of range "
                f"(magnitude below 1e15 in the canonical unit)",
            )
        attributes = _attributes(raw.attributes, ind)
    except _Reject as rej:
        return Rejection(record_id or "", rej.field, rej.reason, position)
    return CheckedRecord(
        record_id=record_id,
        credit_code=credit_code,
        indicator=ind,
        period=period,
        value=canonical,
        original_value=str(raw.value).strip(),
        original_unit=unit,
        attributes=attributes,
        position=position,
        value_text=spelled,
    )
