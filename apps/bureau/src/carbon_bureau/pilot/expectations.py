"""What a correct platform must make of the stream, recomputed independently from the records.

It replays the generated stream the way ingest should (idempotency by department + record id,
later values supersede, malformed records rejected), converts every final value to its
canonical unit with exact decimals and applies the ONE factor table in ``factors.py``:
scope 1 combustion (``energy.*``), scope 1 process (``process.*``) and scope 2 location-based
(grid-metered ``electricity.purchased`` × national grid factor of the period's year, plus
``heat.purchased``). Self-declared electricity never counts: the grid is authoritative.

Exported energy, written from the rule in docs/accounting.md §2 (not from accounting's code):
``electricity.exported`` (× the same grid factor) and ``heat.exported`` (× the heat factor) are
deducted from scope 2 location-based, except for power generation (GB/T 4754 441x, whose export
is its product); the net electricity and the net heat are each floored at zero. Where an
official source (grid / statistics) and the enterprise both report an export for the month, the
official one counts.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from decimal import Decimal
from typing import Any

from .catalogue import GRID, SELF, department_kind, to_canonical
from .enterprises import Enterprise
from .factors import COMBUSTION, FACTORS, PROCESS, as_table, grid_factor
from .facts import POWER_METHOD_PREFIX
from .industries import PROFILES
from .realism import REASONS

TOLERANCE = Decimal("0.05")
_COLUMNS = ("scope1_combustion", "scope1_process", "scope2_location", "total")
_Q = Decimal("0.000001")

Batch = tuple[str, list[dict[str, Any]]]

DEFINITIONS = {
    "records": "records in the stream, every batch, including duplicates, corrections and malformed ones",
    "rejected": "malformed records (each has exactly one defect, listed in `malformed`)",
    "duplicates": "exact re-sends of an already accepted record (same department, record_id and content)",
    "corrections": "re-sends with the same department and record_id but a different value (supersede)",
    "expected_accepted": "records that create a fact or a new fact revision: records - rejected - duplicates",
    "facts": "distinct (department, record_id) facts after corrections",
    "emissions": "per enterprise and period, tCO2, from the final value of each fact (see factors)",
    "electricity_flags": "grid vs self-declared electricity.purchased differing by more than 5 % of grid",
    "verified_flags": "emissions.verified differing from computed yearly scope 1+2 by more than 5 %",
    "netted_enterprise_months": "enterprise-months whose scope 2 was reduced by exported electricity or heat",
    "floored_enterprise_months": "enterprise-months where exports exceeded purchases (net floored at zero)",
    "balance_sheets": "enterprises with both finance.total_debt and finance.total_equity (PCAF attribution)",
}
_EXPORTS = {"electricity.exported": "electricity", "heat.exported": "heat"}


def _s(d: Decimal) -> str:
    return format(d.quantize(_Q), "f")


def compute(
    enterprises: list[Enterprise], batches: list[Batch], malformed: list[dict[str, str]]
) -> dict[str, Any]:
    """The ``expectations.json`` content."""
    bad = {(m["department"], m["record_id"]) for m in malformed}
    final: dict[tuple[str, str], dict[str, Any]] = {}
    records = duplicates = corrections = 0
    for dept, recs in batches:
        for rec in recs:
            records += 1
            key = (dept, rec["record_id"])
            if key in bad:
                continue
            prev = final.get(key)
            if prev is not None:
                if prev == rec:
                    duplicates += 1
                    continue
                corrections += 1
            final[key] = rec

    emissions: dict[str, dict[str, list[Decimal]]] = defaultdict(
        lambda: defaultdict(lambda: [Decimal(0)] * 4)
    )
    # (credit_code, production indicator) -> canonical total
    output: defaultdict[tuple[str, str], Decimal] = defaultdict(Decimal)
    grid_el: dict[tuple[str, str], Decimal] = {}
    self_el: dict[tuple[str, str], Decimal] = {}
    verified: dict[tuple[str, int], Decimal] = {}
    by_kind: Counter[str] = Counter()
    # scope 2 location-based per enterprise-month and carrier, before netting and flooring
    scope2: defaultdict[tuple[str, str], dict[str, Decimal]] = defaultdict(dict)
    # exported tCO2 per (enterprise, period, carrier) and reporting kind
    exports: defaultdict[tuple[str, str, str], defaultdict[str, Decimal]] = defaultdict(
        lambda: defaultdict(Decimal)
    )
    balance: defaultdict[str, set[str]] = defaultdict(set)
    for (dept, _rid), rec in final.items():
        ind, code, period = rec["indicator"], rec["credit_code"], rec["period"]
        value = to_canonical(ind, Decimal(rec["value"]), rec["unit"])
        kind = department_kind(dept)
        by_kind[kind] += 1
        if ind in COMBUSTION:
            emissions[code][period][0] += value * FACTORS[ind].value
        elif ind in PROCESS:
            emissions[code][period][1] += value * FACTORS[ind].value
        elif ind == "heat.purchased":
            carriers = scope2[(code, period)]
            carriers["heat"] = carriers.get("heat", Decimal(0)) + value * FACTORS[ind].value
        elif ind in _EXPORTS:
            carrier = _EXPORTS[ind]
            factor = (FACTORS["heat.purchased"] if carrier == "heat" else grid_factor(int(period[:4]))).value
            exports[(code, period, carrier)][kind] += value * factor
        elif ind in ("finance.total_debt", "finance.total_equity"):
            balance[code].add(ind)
        elif ind == "electricity.purchased":
            if kind == GRID:
                carriers = scope2[(code, period)]
                carriers["electricity"] = (
                    carriers.get("electricity", Decimal(0)) + value * grid_factor(int(period[:4])).value
                )
                grid_el[(code, period)] = value
            elif kind == SELF:
                self_el[(code, period)] = value
        elif ind == "emissions.verified":
            verified[(code, int(period[:4]))] = value
        elif ind.startswith("production."):
            output[(code, ind)] += value
    netted, floored = _net_exports(enterprises, scope2, exports)
    for (code, period), carriers in scope2.items():
        emissions[code][period][2] = sum((max(x, Decimal(0)) for x in carriers.values()), Decimal(0))
    yearly: defaultdict[tuple[str, int], Decimal] = defaultdict(Decimal)
    for code, periods in emissions.items():
        for period, row in periods.items():
            row[3] = row[0] + row[1] + row[2]
            yearly[(code, int(period[:4]))] += row[3]

    elec_flags = sorted(
        [code, period]
        for (code, period), declared in self_el.items()
        if (grid := grid_el.get((code, period))) and abs(declared - grid) > TOLERANCE * grid
    )
    verified_flags = sorted(
        [code, str(year)]
        for (code, year), value in verified.items()
        if (computed := yearly.get((code, year))) and abs(value - computed) > TOLERANCE * computed
    )

    per_period: dict[str, list[Decimal]] = defaultdict(lambda: [Decimal(0)] * 4)
    for periods in emissions.values():
        for period, row in periods.items():
            per_period[period] = [a + b for a, b in zip(per_period[period], row, strict=True)]
    grand = [sum((r[i] for r in per_period.values()), Decimal(0)) for i in range(4)]
    rejected = Counter(m["reason"] for m in malformed)
    return {
        "definitions": DEFINITIONS,
        "counts": {
            "enterprises": len(enterprises),
            "enterprises_by_city": dict(sorted(Counter(e.city.code for e in enterprises).items())),
            "enterprises_by_industry": dict(sorted(Counter(e.industry.code for e in enterprises).items())),
            "enterprises_by_size": dict(sorted(Counter(e.size_class for e in enterprises).items())),
            "enterprises_by_stage": dict(sorted(Counter(e.transition_stage for e in enterprises).items())),
            "ets_participants": sum(e.ets_participant for e in enterprises),
            "departments": len({d for d, _ in batches}),
            "batches": len(batches),
            "records": records,
            "rejected": sum(rejected.values()),
            "rejected_by_reason": {r: rejected.get(r, 0) for r, _ in REASONS},
            "duplicates": duplicates,
            "corrections": corrections,
            "expected_accepted": records - sum(rejected.values()) - duplicates,
            "facts": len(final),
            "facts_by_department_kind": dict(sorted(by_kind.items())),
            "electricity_flags": len(elec_flags),
            "verified_flags": len(verified_flags),
            "netted_enterprise_months": netted,
            "floored_enterprise_months": floored,
            "balance_sheets": sum(len(kinds) == 2 for kinds in balance.values()),
        },
        "malformed": sorted(malformed, key=lambda m: (m["department"], m["record_id"])),
        "cross_validation": {"electricity": elec_flags, "verified": verified_flags},
        "emissions": {
            "unit": "tCO2",
            "columns": list(_COLUMNS),
            "total": dict(zip(_COLUMNS, (_s(x) for x in grand), strict=True)),
            "by_period": {p: [_s(x) for x in row] for p, row in sorted(per_period.items())},
            "by_enterprise": {
                code: {p: [_s(x) for x in row] for p, row in sorted(periods.items())}
                for code, periods in sorted(emissions.items())
            },
        },
        "intensity_by_industry": _intensities(enterprises, emissions, output),
        "traits": {
            e.credit_code: {"decarbonises": e.decarbonises, "decarb_rate_per_year": f"{e.decarb_rate:.4f}"}
            for e in enterprises
        },
        "factors": as_table(),
    }


def _net_exports(
    enterprises: list[Enterprise],
    scope2: defaultdict[tuple[str, str], dict[str, Decimal]],
    exports: dict[tuple[str, str, str], defaultdict[str, Decimal]],
) -> tuple[int, int]:
    """Deduct exports from scope 2 in place (not for power generation); count netted/floored months."""
    power = {e.credit_code for e in enterprises if e.industry.code.startswith(POWER_METHOD_PREFIX)}
    netted: set[tuple[str, str]] = set()
    floored: set[tuple[str, str]] = set()
    for (code, period, carrier), by_kind in exports.items():
        if code in power:
            continue
        official = {k: v for k, v in by_kind.items() if k != SELF}
        sold = sum((official or by_kind).values(), Decimal(0))
        carriers = scope2[(code, period)]
        bought = carriers.get(carrier, Decimal(0))
        carriers[carrier] = bought - sold
        if sold > 0 and bought > 0:
            netted.add((code, period))
        if sold > bought:
            floored.add((code, period))
    return len(netted), len(floored)


def _intensities(
    enterprises: list[Enterprise],
    emissions: dict[str, dict[str, list[Decimal]]],
    output: dict[tuple[str, str], Decimal],
) -> dict[str, dict[str, str]]:
    """Per industry: total (and combustion) tCO2 per unit of its production indicator."""
    sums: dict[str, list[Decimal]] = defaultdict(lambda: [Decimal(0)] * 3)
    for ent in enterprises:
        prod = PROFILES[ent.industry.profile].output
        if prod is None:
            continue
        rows = emissions.get(ent.credit_code, {}).values()
        acc = sums[ent.industry.code]
        acc[0] += sum((r[3] for r in rows), Decimal(0))
        acc[1] += sum((r[0] for r in rows), Decimal(0))
        acc[2] += output.get((ent.credit_code, prod), Decimal(0))
    out = {}
    for code, (total, combustion, produced) in sorted(sums.items()):
        if produced:
            unit = PROFILES[next(e for e in enterprises if e.industry.code == code).industry.profile].output
            out[code] = {
                "per": f"{unit}",
                "total": f"{total / produced:.4f}",
                "combustion": f"{combustion / produced:.4f}",
            }
    return out
