"""Identifiers the directory and submissions accept: credit codes, regions, industries, departments.

Each check returns the normalised value or raises ``InvalidIdentifier`` with a reason a person
can act on; the callers attach the field name.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date
from functools import lru_cache

from stdnum import exceptions as stdnum_errors
from stdnum.cn import uscc

#: Department kinds of docs/indicators.md ("the kind decides what a department may report").
DEPARTMENT_KINDS = frozenset({"grid", "eeb", "tax", "stats", "ets", "ndrc", "self"})

_REGION = re.compile(r"^\d{6}$")
_INDUSTRY = re.compile(r"^\d{2,4}$")
_PERIOD = re.compile(r"^(\d{4})-(0[1-9]|1[0-2])$")


class InvalidIdentifierError(ValueError):
    """An identifier that fails its standard's rules; ``str(exc)`` is the reason."""


@lru_cache(maxsize=65_536)
def credit_code(value: str) -> str:
    """Validate an 18-character Unified Social Credit Code (GB 32100-2015) incl. its check character.

    Cached: a batch names the same ~1,100 pilot enterprises thousands of times. Delegates to
    ``python-stdnum`` (``stdnum.cn.uscc``), as issue 3 asks: no hand-rolled checksum.
    """
    try:
        return str(uscc.validate(value))
    except stdnum_errors.InvalidChecksum as exc:
        raise InvalidIdentifierError("check character does not match (GB 32100-2015)") from exc
    except stdnum_errors.InvalidLength as exc:
        raise InvalidIdentifierError("a unified social credit code has 18 characters") from exc
    except stdnum_errors.ValidationError as exc:
        raise InvalidIdentifierError(f"not a unified social credit code: {exc}") from exc


@lru_cache(maxsize=65_536)
def compact_credit_code(value: str) -> str:
    """The form a credit code is stored under (no spaces or dashes, upper case), unvalidated."""
    return str(uscc.compact(value))


def region_code(value: str) -> str:
    """GB/T 2260 administrative division: six digits, province prefix 11–82 (the standard's range)."""
    if not _REGION.match(value) or not 11 <= int(value[:2]) <= 82:
        raise InvalidIdentifierError("a GB/T 2260 region code has six digits, e.g. 140400 (Changzhi)")
    return value


def industry_code(value: str) -> str:
    """GB/T 4754-2017 division (2 digits), group (3) or class (4); divisions run 01–97."""
    if not _INDUSTRY.match(value) or not 1 <= int(value[:2]) <= 97:
        raise InvalidIdentifierError("a GB/T 4754-2017 industry code has 2–4 digits, e.g. 4411 thermal power")
    return value


@dataclass(frozen=True, slots=True)
class Department:
    """``<kind>-<code>``: a kind from ``DEPARTMENT_KINDS`` and a GB/T 2260 region code
    (or, for an enterprise's own declaration, its credit code)."""

    kind: str
    code: str

    @property
    def id(self) -> str:
        return f"{self.kind}-{self.code}"

    @property
    def own_credit_code(self) -> str | None:
        """For ``self-<credit_code>``: the only enterprise this department may report for."""
        return self.code if self.kind == "self" and len(self.code) == 18 else None


def department(value: str) -> Department:
    kind, sep, code = value.strip().partition("-")
    if not sep or kind not in DEPARTMENT_KINDS:
        kinds = ", ".join(sorted(DEPARTMENT_KINDS))
        raise InvalidIdentifierError(f"department must be <kind>-<region code> with kind one of {kinds}")
    if kind == "self" and len(code) == 18:
        return Department(kind, credit_code(code))
    return Department(kind, region_code(code))


def period(value: str, today: date) -> str:
    """``YYYY-MM``, not after the month of ``today`` (a month cannot be reported before it starts)."""
    m = _PERIOD.match(value)
    if not m:
        raise InvalidIdentifierError("period must be YYYY-MM, e.g. 2024-03")
    if (int(m.group(1)), int(m.group(2))) > (today.year, today.month):
        raise InvalidIdentifierError(f"period {value} is in the future")
    return value
