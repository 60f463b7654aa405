"""Cross-validation between sources (DESIGN.md §3 "Cross-validation", issue 3 "Data quality").

Where the catalogue marks an indicator ``cross_check`` (electricity.purchased: grid-metered vs
self-declared, tolerance 5 % per docs/indicators.md), the current values of every department
for one enterprise, indicator and period are summed per department (a grid company may report
several meters). The authoritative departments' total is the reference; each other department
whose total differs by more than the tolerance (relative to the reference) is flagged with both
values. The authoritative value is the one that counts (``FactRecorded.authoritative``).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from decimal import Decimal
from typing import NamedTuple

CROSS_SOURCE = "cross_source"


class SourceValue(NamedTuple):
    credit_code: str
    period: str
    indicator: str
    department: str
    authoritative: bool
    value: Decimal


@dataclass(frozen=True, slots=True)
class Flag:
    credit_code: str
    period: str
    indicator: str
    check: str
    department: str
    value: Decimal
    reference_departments: str
    reference_value: Decimal
    #: |value − reference| / |reference|; None when the reference is zero
    relative_difference: Decimal | None
    tolerance: Decimal


Key = tuple[str, str, str]  # credit_code, period, indicator


def cross_check(values: Iterable[SourceValue], tolerance: dict[str, Decimal]) -> list[Flag]:
    """Flags for every (enterprise, period, indicator) among ``values`` (already the current heads)."""
    per_dept: dict[Key, dict[tuple[str, bool], Decimal]] = defaultdict(lambda: defaultdict(Decimal))
    for v in values:
        per_dept[(v.credit_code, v.period, v.indicator)][(v.department, v.authoritative)] += v.value
    flags: list[Flag] = []
    for (code, period, indicator), depts in sorted(per_dept.items()):
        tol = tolerance.get(indicator)
        refs = sorted(d for d, auth in depts if auth)
        if tol is None or not refs:
            continue  # nothing to compare against: no authoritative source yet
        reference = sum((val for (_, auth), val in depts.items() if auth), Decimal(0))
        for (dept, auth), val in sorted(depts.items()):
            if auth:
                continue
            if reference == 0:
                diff = None if val != 0 else Decimal(0)
            else:
                diff = abs(val - reference) / abs(reference)
            if diff is None or diff > tol:
                flags.append(
                    Flag(
                        code, period, indicator, CROSS_SOURCE, dept, val, ",".join(refs), reference, diff, tol
                    )
                )
    return flags
