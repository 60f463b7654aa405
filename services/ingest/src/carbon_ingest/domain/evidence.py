"""The evidence chain: each accepted fact appended to a hash chain (tamper evidence).

``entry_hash = sha256(previous entry_hash || canonical JSON of the fact)``. The canonical JSON
is rebuilt from the stored fact, so altering a fact row, an entry hash or the order of entries
breaks the chain at that entry, and ``verify`` names the first broken one. DESIGN.md §6 and the
pilot's recommendation of "blockchain-style tamper-evident evidence" (domain-data.md §1) ask for it.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import orjson

from carbon_ingest.domain.units import canonical_decimal

#: the previous hash of the first entry
GENESIS = "0" * 64


def canonical_fact(
    *,
    fact_id: str,
    department: str,
    record_id: str,
    revision: int,
    credit_code: str,
    indicator: str,
    period: str,
    value: Decimal,
    unit: str,
    original_value: str,
    original_unit: str,
    attributes: Mapping[str, Any],
    authoritative: bool,
    recorded_at: datetime,
) -> bytes:
    """The bytes a fact is hashed as: sorted keys, decimal strings, UTC ISO time, UTF-8."""
    return canonical_bytes(
        fact_id=fact_id,
        department=department,
        record_id=record_id,
        revision=revision,
        credit_code=credit_code,
        indicator=indicator,
        period=period,
        value=canonical_decimal(value),
        unit=unit,
        original_value=original_value,
        original_unit=original_unit,
        attributes=attributes,
        authoritative=authoritative,
        recorded_at=utc_text(recorded_at),
    )


def utc_text(at: datetime) -> str:
    """A time as the canonical bytes spell it (UTC, ISO 8601)."""
    return at.astimezone(UTC).isoformat()


def canonical_bytes(
    *,
    fact_id: str,
    department: str,
    record_id: str,
    revision: int,
    credit_code: str,
    indicator: str,
    period: str,
    value: str,
    unit: str,
    original_value: str,
    original_unit: str,
    attributes: Mapping[str, Any],
    authoritative: bool,
    recorded_at: str,
) -> bytes:
    """``canonical_fact`` with the value and time already in their canonical text
    (``canonical_decimal``, ``utc_text``): a batch spells its one ``recorded_at`` once."""
    body = {
        "fact_id": fact_id,
        "department": department,
        "record_id": record_id,
        "revision": revision,
        "credit_code": credit_code,
        "indicator": indicator,
        "period": period,
        "value": value,
        "unit": unit,
        "original_value": original_value,
        "original_unit": original_unit,
        "attributes": attributes,
        "authoritative": authoritative,
        "recorded_at": recorded_at,
    }
    if type(attributes) is dict and plain_json(attributes):
        try:
            return orjson.dumps(body, option=orjson.OPT_SORT_KEYS)
        except orjson.JSONEncodeError:
            pass  # e.g. a lone surrogate: the reference encoder decides (and fails the same way)
    return json.dumps(body, sort_keys=True, ensure_ascii=False, separators=(",", ":")).encode()


def plain_json(value: Any) -> bool:
    """JSON made of strings, 64-bit integers, booleans, null, lists and string-keyed dicts only:
    then orjson's compact sorted output is byte for byte the reference ``json.dumps`` form above
    (property-tested, tests/test_chain_append.py), ~10x faster. Floats (whose text the two
    encoders spell differently, e.g. ``1e+16`` vs ``1e16``) take the reference path, so every
    existing entry hash stays verifiable. Concrete types only (``type(x) is dict``, not an
    ``isinstance`` against the ``Mapping`` ABC: that check is a Python-level call per fact);
    anything else (a subclass, another mapping) takes the reference path."""
    t = type(value)
    if t is str or t is bool or value is None:
        return True
    if t is int:
        return -(2**63) <= value < 2**64  # type: ignore[no-any-return]
    if t is dict:
        return not value or all(type(k) is str and plain_json(v) for k, v in value.items())
    if t is list or t is tuple:
        return all(plain_json(v) for v in value)
    return False


def entry_hash(previous: str, fact_bytes: bytes) -> str:
    return hashlib.sha256(previous.encode() + fact_bytes).hexdigest()


def chain(previous: str, facts: Iterable[bytes]) -> list[str]:
    """Hashes of consecutive entries after ``previous`` (a whole batch at once)."""
    out: list[str] = []
    for b in facts:
        previous = entry_hash(previous, b)
        out.append(previous)
    return out


@dataclass(frozen=True, slots=True)
class StoredEntry:
    seq: int
    fact_id: str
    prev_hash: str
    entry_hash: str
    fact_bytes: bytes


@dataclass(frozen=True, slots=True)
class Broken:
    seq: int
    fact_id: str
    reason: str


def verify(entries: Iterable[StoredEntry], previous: str = GENESIS) -> tuple[int, Broken | None, str]:
    """Walk entries in order; return (entries checked, first broken entry or None, last hash)."""
    checked = 0
    for e in entries:
        if e.prev_hash != previous:
            return (
                checked,
                Broken(e.seq, e.fact_id, "previous-hash link does not match the entry before"),
                previous,
            )
        if entry_hash(previous, e.fact_bytes) != e.entry_hash:
            return (
                checked,
                Broken(e.seq, e.fact_id, "fact content does not match its recorded hash"),
                previous,
            )
        previous = e.entry_hash
        checked += 1
    return checked, None, previous
