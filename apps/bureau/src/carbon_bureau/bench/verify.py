"""Is the replay's outcome complete and right? Pure checks on what the bench read back.

The reference is the generator's own recomputation (``dataset.expectations``), which never
touches a service: accepted record count, distinct facts, and tCO2 per enterprise and period in
four columns (scope 1 combustion, scope 1 process, scope 2 location-based, total).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

COLUMNS = ("scope1_combustion", "scope1_process", "scope2_location", "total")
#: expectations are quantised to 1e-6 tCO2; services keep full precision
ABS_TOLERANCE = Decimal("0.001")
REL_TOLERANCE = Decimal("1e-9")
_SHOW = 5  # mismatches listed per check
Figures = tuple[Decimal, Decimal, Decimal, Decimal]


@dataclass(frozen=True, slots=True)
class Check:
    name: str
    ok: bool
    detail: str


@dataclass(slots=True)
class Observed:
    """What the services hold for the dataset's enterprises after the replay."""

    ingest_accepted: int  # fact revisions ingest recorded (new facts + corrections)
    ingest_facts: int  # distinct (department, record_id) heads at ingest
    ingest_accounted_revisions: int  # of those, in the indicator families accounting applies
    ingest_accounted_facts: int  # distinct facts at ingest in those families
    accounted_revisions: int  # fact revisions accounting applied (fact_history rows)
    accounted_facts: int  # distinct facts accounting holds (its heads)
    #: credit code -> period -> the four columns, tCO2
    accounts: dict[str, dict[str, tuple[Decimal, Decimal, Decimal, Decimal]]]
    rating_current: dict[str, str]  # credit code -> current rating id at rating
    lending_current: dict[str, str]  # credit code -> rating id in lending's read model
    extra: dict[str, Any] = field(default_factory=dict)
    #: Σ revision over ingest's heads (accounting's families) and over accounting's current facts:
    #: equal when accounting holds the latest revision of every fact
    ingest_accounted_revision_sum: int = 0
    accounted_revision_sum: int = 0


def _close(a: Decimal, b: Decimal) -> bool:
    return abs(a - b) <= max(ABS_TOLERANCE, REL_TOLERANCE * max(abs(a), abs(b)))


def _count(name: str, got: int, want: int, what: str) -> Check:
    return Check(name, got == want, f"{got:,} {what} (expected {want:,})")


def check_accounted_once(o: Observed) -> Check:
    """Accounting holds the latest revision of every fact ingest accepted in its families, and never
    more revisions than ingest accepted. It may apply fewer: a batch that carries a fact and its
    correction applies only the correction (the superseded revision never counted in any account)."""
    latest = (o.accounted_facts, o.accounted_revision_sum) == (
        o.ingest_accounted_facts,
        o.ingest_accounted_revision_sum,
    )
    ok = latest and o.accounted_revisions <= o.ingest_accounted_revisions
    skipped = o.ingest_accounted_revisions - o.accounted_revisions
    return Check(
        "every accepted fact accounted once",
        ok,
        f"{o.accounted_facts:,} facts at Σ revision {o.accounted_revision_sum:,} (expected {o.ingest_accounted_facts:,} "
        f"at {o.ingest_accounted_revision_sum:,}); {o.accounted_revisions:,} of {o.ingest_accounted_revisions:,} "
        f"accepted revisions applied"
        + (f" ({skipped:,} superseded within their batch)" if skipped > 0 else "")
        + " (accounting's indicator families)",
    )


def check_accounts(
    expected: dict[str, dict[str, list[str]]],
    accounts: dict[str, dict[str, tuple[Decimal, Decimal, Decimal, Decimal]]],
) -> Check:
    """Every expected (enterprise, period) account exists and matches in all four columns;
    accounts the reference does not know must be all zero (e.g. a month of output only)."""
    wrong: list[str] = []
    compared = 0
    for code, periods in expected.items():
        for period, row in periods.items():
            compared += 1
            got = accounts.get(code, {}).get(period)
            if got is None:
                wrong.append(f"{code} {period}: missing")
                continue
            for col, want, have in zip(COLUMNS, (Decimal(x) for x in row), got, strict=True):
                if not _close(want, have):
                    wrong.append(f"{code} {period} {col}: {have} != expected {want}")
    for code, held in accounts.items():
        for period, figures in held.items():
            if period not in expected.get(code, {}) and any(x != 0 for x in figures):
                wrong.append(f"{code} {period}: unexpected non-zero account {figures[3]}")
    shown = "; ".join(wrong[:_SHOW]) + (f"; … {len(wrong) - _SHOW} more" if len(wrong) > _SHOW else "")
    detail = f"{compared:,} enterprise-months compared" + (
        f", {len(wrong):,} wrong: {shown}" if wrong else ""
    )
    return Check("account totals = independent recomputation", not wrong, detail)


def check_totals(expected_total: dict[str, str], accounts: dict[str, dict[str, Figures]]) -> Check:
    got = [sum((row[i] for p in accounts.values() for row in p.values()), Decimal(0)) for i in range(4)]
    want = [Decimal(expected_total[c]) for c in COLUMNS]
    ok = all(
        abs(g - w) <= max(Decimal("0.01"), REL_TOLERANCE * abs(w)) for g, w in zip(got, want, strict=True)
    )
    return Check(
        "grand total tCO2",
        ok,
        f"{got[3]:.3f} tCO2 (expected {want[3]:.3f})"
        if ok
        else f"got {[str(g) for g in got]}, expected {want}",
    )


def verify(expectations: dict[str, Any], enterprises: list[str], observed: Observed) -> list[Check]:
    """All correctness checks, in the order a reader wants them."""
    counts = expectations["counts"]
    codes = set(enterprises)
    checks = [
        _count("ingest accepted every valid record", observed.ingest_accepted, counts["expected_accepted"],
               "fact revisions"),
        _count("ingest holds every distinct fact", observed.ingest_facts, counts["facts"], "facts"),
        check_accounted_once(observed),
        _count("accounting holds every distinct fact", observed.accounted_facts, observed.ingest_accounted_facts,
               "facts (accounting's indicator families)"),
        check_accounts(expectations["emissions"]["by_enterprise"], observed.accounts),
        check_totals(expectations["emissions"]["total"], observed.accounts),
    ]  # fmt: skip
    unrated = sorted(codes - set(observed.rating_current))
    checks.append(
        Check(
            "every enterprise rated",
            not unrated,
            f"{len(codes) - len(unrated):,}/{len(codes):,} rated"
            + (f"; unrated e.g. {unrated[:3]}" if unrated else ""),
        )
    )
    stale = sorted(c for c, rid in observed.rating_current.items() if observed.lending_current.get(c) != rid)
    checks.append(
        Check(
            "lending read model = current ratings",
            not stale,
            f"{len(observed.rating_current) - len(stale):,}/{len(observed.rating_current):,} in step"
            + (f"; behind e.g. {stale[:3]}" if stale else ""),
        )
    )
    return checks
