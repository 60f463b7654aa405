"""Pure domain tests: identifiers, units, catalogue vs docs, record checks, facts, evidence, quality."""

from __future__ import annotations

import re
from dataclasses import replace
from datetime import UTC, date, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from stdnum.cn import uscc

from carbon_ingest.adapters.catalogue_files import load_catalogue
from carbon_ingest.domain import evidence, identifiers
from carbon_ingest.domain.catalogue import CatalogueError, parse_catalogue
from carbon_ingest.domain.enterprise import Change, DirectoryError, apply_registration, new_enterprise
from carbon_ingest.domain.facts import Head, plan_facts
from carbon_ingest.domain.quality import SourceValue, cross_check
from carbon_ingest.domain.records import CheckedRecord, RawRecord, Rejection, check_record
from carbon_ingest.domain.units import canonical_decimal, convert

CAT = load_catalogue()
TODAY = date(2024, 6, 15)
BODY = "91140400MA0000001"
CODE = BODY + uscc.calc_check_digit(BODY)
STATS = identifiers.department("stats-140400")
DOCS = Path(__file__).resolve().parents[3] / "docs" / "indicators.md"


def wrong_check(code: str) -> str:
    return code[:17] + ("0" if code[17] != "0" else "1")


# --- identifiers -------------------------------------------------------------------------------
def test_credit_code_check_character_is_validated() -> None:
    assert identifiers.credit_code(CODE.lower()) == CODE
    with pytest.raises(identifiers.InvalidIdentifierError, match="check character"):
        identifiers.credit_code(wrong_check(CODE))
    with pytest.raises(identifiers.InvalidIdentifierError, match="18 characters"):
        identifiers.credit_code(CODE[:10])


@pytest.mark.parametrize(
    ("value", "kind", "code"),
    [("stats-140400", "stats", "140400"), ("grid-140421", "grid", "140421"), (f"self-{CODE}", "self", CODE)],
)
def test_department_ids(value: str, kind: str, code: str) -> None:
    d = identifiers.department(value)
    assert (d.kind, d.code, d.id) == (kind, code, value)


@pytest.mark.parametrize("value", ["bank-140400", "stats", "stats-14", "stats-990000", "self-123"])
def test_bad_department_ids(value: str) -> None:
    with pytest.raises(identifiers.InvalidIdentifierError):
        identifiers.department(value)


def test_period_rules() -> None:
    assert identifiers.period("2024-06", TODAY) == "2024-06"
    for bad in ("2024-13", "2024-6", "24-06", "2024/06"):
        with pytest.raises(identifiers.InvalidIdentifierError, match="YYYY-MM"):
            identifiers.period(bad, TODAY)
    with pytest.raises(identifiers.InvalidIdentifierError, match="future"):
        identifiers.period("2024-07", TODAY)


# --- units and catalogue -----------------------------------------------------------------------
@pytest.mark.parametrize(
    ("value", "unit", "canonical", "expected"),
    [
        ("1.5", "kt", "t", "1500"),
        ("8200000", "kWh", "MWh", "8200"),
        ("2.5", "GWh", "MWh", "2500"),
        ("350", "kg", "t", "0.35"),
        ("123456", "Nm3", "1e4 Nm3", "12.3456"),
        ("50000", "m3", "1e4 Nm3", "5"),
        ("1250000", "CNY", "10k CNY", "125"),
        ("2000", "MJ", "GJ", "2"),
        ("1.2", "ktCO2", "tCO2", "1200"),
        ("900", "kgCO2", "tCO2", "0.9"),
    ],
)
def test_pint_conversions_are_exact(value: str, unit: str, canonical: str, expected: str) -> None:
    assert canonical_decimal(convert(Decimal(value), unit, canonical)) == expected


def test_conversion_round_trips() -> None:
    for unit, canonical in [("kWh", "MWh"), ("CNY", "10k CNY"), ("Nm3", "1e4 Nm3"), ("kg", "t")]:
        v = Decimal("123.456789")
        assert convert(convert(v, unit, canonical), canonical, unit) == v


def _docs_rows() -> dict[str, tuple[str, set[str], set[str]]]:
    rows = {}
    for line in DOCS.read_text(encoding="utf-8").splitlines():
        m = re.match(r"^\| `([a-z0-9_.]+)` \| ([^|]+) \| ([^|]+) \| ([^|]+) \|", line)
        if m:
            kinds = set(re.findall(r"\b(grid|eeb|tax|stats|ets|ndrc|self)\b", m.group(4)))
            units = {u.strip() for u in m.group(3).split(",")}
            rows[m.group(1)] = (m.group(2).strip(), units, kinds)
    return rows


def test_catalogue_follows_docs_indicators_md() -> None:
    rows = _docs_rows()
    assert len(rows) >= 40
    assert set(rows) == set(CAT.indicators)
    for code, (unit, units, kinds) in rows.items():
        ind = CAT.indicators[code]
        assert ind.unit == unit, code
        assert set(ind.accepted_units) == units, code
        assert ind.kinds == kinds, code
    assert CAT.indicators["electricity.purchased"].authoritative == {"grid"}
    assert CAT.indicators["electricity.purchased"].cross_check_tolerance == Decimal("0.05")
    assert not CAT.indicators["compliance.env_penalty"].may_correct("self")


def test_broken_catalogue_fails_on_load() -> None:
    with pytest.raises(CatalogueError, match="cannot be converted"):
        parse_catalogue(
            {"version": 1, "indicators": {"x": {"unit": "t", "accepted": ["MWh"], "kinds": ["stats"]}}}
        )
    with pytest.raises(CatalogueError, match="unknown department kinds"):
        parse_catalogue({"version": 1, "indicators": {"x": {"unit": "t", "kinds": ["bank"]}}})


# --- directory ---------------------------------------------------------------------------------
def test_registration_revisions() -> None:
    e = new_enterprise(
        credit_code=CODE, name="测试", region_code="140400", industry_code="4411",
        size_class="large", transition_stage="early",
    )  # fmt: skip
    change, first = apply_registration(None, e)
    assert (change, first.revision) == (Change.REGISTERED, 1)
    assert apply_registration(first, e)[0] is Change.UNCHANGED
    change, second = apply_registration(first, replace(e, transition_stage="mid"))
    assert (change, second.revision) == (Change.UPDATED, 2)
    with pytest.raises(DirectoryError) as exc:
        new_enterprise(
            credit_code=CODE, name="x", region_code="14040", industry_code="4411",
            size_class="large", transition_stage="early",
        )  # fmt: skip
    assert exc.value.field == "region_code"


# --- record checks -----------------------------------------------------------------------------
def rec(**kw: Any) -> RawRecord:
    base: dict[str, Any] = {
        "record_id": "r1", "credit_code": CODE, "indicator": "energy.raw_coal",
        "period": "2024-03", "value": "1000", "unit": "t",
    }  # fmt: skip
    return RawRecord(**{**base, **kw})


def check(raw: RawRecord, dept: identifiers.Department = STATS) -> CheckedRecord | Rejection:
    return check_record(raw, dept, CAT, {CODE}, TODAY)


def test_a_good_record_is_converted_to_the_canonical_unit() -> None:
    ok = check(rec(value="1.5", unit="kt"))
    assert isinstance(ok, CheckedRecord)
    assert (ok.value, ok.unit, ok.original_value, ok.original_unit) == (Decimal("1500"), "t", "1.5", "kt")
    same = check(rec(value="1500", unit="t"))
    assert isinstance(same, CheckedRecord) and same.content_hash == ok.content_hash


OTHER = "91140400MA0000002"
OTHER_CODE = OTHER + uscc.calc_check_digit(OTHER)


@pytest.mark.parametrize(
    ("raw", "dept", "field", "reason"),
    [
        (rec(credit_code=wrong_check(CODE)), "stats-140400", "credit_code", "check character"),
        (rec(credit_code=OTHER_CODE), "stats-140400", "credit_code", "not registered"),
        (rec(credit_code=None), "stats-140400", "credit_code", "missing"),
        (rec(indicator="energy.unobtainium"), "stats-140400", "indicator", "unknown indicator"),
        (rec(indicator="electricity.purchased", unit="MWh"), "stats-140400", "indicator", "may not report"),
        (rec(period="2024-13"), "stats-140400", "period", "YYYY-MM"),
        (rec(period="2025-01"), "stats-140400", "period", "future"),
        (rec(value="-5"), "stats-140400", "value", "cannot be below 0"),
        (rec(value="abc"), "stats-140400", "value", "not a decimal"),
        (rec(value="NaN"), "stats-140400", "value", "finite"),
        (rec(value=True), "stats-140400", "value", "decimal number"),
        (rec(unit="MWh"), "stats-140400", "unit", "not accepted"),
        (rec(attributes=[1]), "stats-140400", "attributes", "object"),
        (rec(indicator="compliance.env_penalty", value="1", unit="count"), "eeb-140400",
         "attributes.severity", "required"),
        (rec(indicator="compliance.env_penalty", value="1", unit="count", attributes={"severity": "huge"}),
         "eeb-140400", "attributes.severity", "one of"),
        (rec(indicator="compliance.env_penalty", value="1.5", unit="count", attributes={"severity": "minor"}),
         "eeb-140400", "value", "whole number"),
        (rec(credit_code=OTHER_CODE), f"self-{CODE}", "credit_code", "may only report"),
    ],
)  # fmt: skip
def test_bad_records_name_field_and_reason(raw: RawRecord, dept: str, field: str, reason: str) -> None:
    out = check_record(
        raw, identifiers.department(dept), CAT, {CODE, OTHER_CODE} if "only" in reason else {CODE}, TODAY
    )
    assert isinstance(out, Rejection), out
    assert (out.record_id, out.field) == ("r1", field)
    assert reason in out.reason


def test_value_added_may_be_negative() -> None:
    out = check(rec(indicator="finance.value_added", value="-12.5", unit="10k CNY"))
    assert isinstance(out, CheckedRecord) and out.value == Decimal("-12.5")


# --- facts: duplicates and corrections ---------------------------------------------------------
def _ids() -> Any:
    n = iter(range(1000))
    return lambda: f"f{next(n)}"


NOW = datetime(2024, 6, 15, tzinfo=UTC)


def test_same_content_is_a_duplicate_and_different_content_a_correction() -> None:
    first = check(rec())
    assert isinstance(first, CheckedRecord)
    head = Head("r1", 1, first.content_hash, "energy.raw_coal")
    dup = plan_facts(STATS, [first], {"r1": head}, new_id=_ids(), now=NOW)
    assert (dup.duplicates, dup.facts) == (1, [])
    changed = check(rec(value="1100"))
    assert isinstance(changed, CheckedRecord)
    corr = plan_facts(STATS, [changed], {"r1": head}, new_id=_ids(), now=NOW)
    assert corr.corrections == 1
    assert (corr.facts[0].revision, corr.facts[0].value, corr.facts[0].fact_key) == (
        2,
        Decimal(1100),
        "stats-140400/r1",
    )


def test_repeated_record_in_one_batch_reads_in_order() -> None:
    a, b = check(rec(value="1")), check(rec(value="2"))
    assert isinstance(a, CheckedRecord) and isinstance(b, CheckedRecord)
    plan = plan_facts(STATS, [a, b, b], {}, new_id=_ids(), now=NOW)
    assert [f.revision for f in plan.facts] == [1, 2]
    assert (plan.corrections, plan.duplicates) == (1, 1)


def test_resending_an_older_version_after_its_correction_is_a_duplicate() -> None:
    original, corrected = check(rec(value="1000")), check(rec(value="1100"))
    assert isinstance(original, CheckedRecord) and isinstance(corrected, CheckedRecord)
    head = Head("r1", 2, corrected.content_hash, "energy.raw_coal", frozenset({original.content_hash}))
    plan = plan_facts(STATS, [original, corrected], {"r1": head}, new_id=_ids(), now=NOW)
    assert (plan.facts, plan.duplicates, plan.corrections) == ([], 2, 0)
    # content no revision had is still a correction, numbered after the latest
    again = check(rec(value="1200"))
    assert isinstance(again, CheckedRecord)
    plan = plan_facts(STATS, [again], {"r1": head}, new_id=_ids(), now=NOW)
    assert [(f.revision, f.value) for f in plan.facts] == [(3, Decimal(1200))]


def test_an_older_version_later_in_the_same_batch_is_a_duplicate() -> None:
    a, b = check(rec(value="1")), check(rec(value="2"))
    assert isinstance(a, CheckedRecord) and isinstance(b, CheckedRecord)
    plan = plan_facts(STATS, [a, b, a, b], {}, new_id=_ids(), now=NOW)
    assert [(f.revision, f.value) for f in plan.facts] == [(1, Decimal(1)), (2, Decimal(2))]
    assert (plan.corrections, plan.duplicates) == (1, 2)


def test_correction_refused_when_the_catalogue_forbids_it() -> None:
    cat = parse_catalogue(
        {
            "version": 9,
            "indicators": {
                "energy.raw_coal": {"unit": "t", "kinds": ["stats"], "not_correctable_by": ["stats"]}
            },
        }
    )
    changed = check_record(rec(value="7"), STATS, cat, {CODE}, TODAY)
    assert isinstance(changed, CheckedRecord)
    plan = plan_facts(
        STATS, [changed], {"r1": Head("r1", 3, "other", "energy.raw_coal")}, new_id=_ids(), now=NOW
    )
    assert plan.facts == []
    assert plan.rejections[0].field == "record_id" and "may not be corrected" in plan.rejections[0].reason


# --- evidence chain ----------------------------------------------------------------------------
def test_chain_verification_names_the_first_altered_entry() -> None:
    bodies = [f'{{"n":{i}}}'.encode() for i in range(5)]
    hashes = evidence.chain(evidence.GENESIS, bodies)
    prev = [evidence.GENESIS, *hashes[:-1]]
    entries = [evidence.StoredEntry(i + 1, f"f{i}", prev[i], hashes[i], bodies[i]) for i in range(5)]
    assert evidence.verify(entries) == (5, None, hashes[-1])
    tampered = list(entries)
    tampered[2] = replace(entries[2], fact_bytes=b'{"n":99}')
    checked, broken, _ = evidence.verify(tampered)
    assert checked == 2 and broken is not None and (broken.seq, broken.fact_id) == (3, "f2")
    relinked = list(entries)
    relinked[3] = replace(entries[3], prev_hash="f" * 64)
    assert evidence.verify(relinked)[1] == evidence.Broken(
        4, "f3", "previous-hash link does not match the entry before"
    )


def test_canonical_fact_is_independent_of_key_order_and_decimal_spelling() -> None:
    kw: dict[str, Any] = {
        "fact_id": "f", "department": "d", "record_id": "r", "revision": 1, "credit_code": CODE,
        "indicator": "i", "period": "2024-01", "unit": "t", "original_value": "1", "original_unit": "t",
        "authoritative": True, "recorded_at": NOW,
    }  # fmt: skip
    a = evidence.canonical_fact(value=Decimal("1.50"), attributes={"b": 1, "a": 2}, **kw)
    b = evidence.canonical_fact(value=Decimal("1.5"), attributes={"a": 2, "b": 1}, **kw)
    assert a == b


# --- cross-validation --------------------------------------------------------------------------
def sv(dept: str, value: str, auth: bool) -> SourceValue:
    return SourceValue(CODE, "2024-03", "electricity.purchased", dept, auth, Decimal(value))


def test_cross_check_flags_above_tolerance_with_both_values() -> None:
    tol = {"electricity.purchased": Decimal("0.05")}
    within = cross_check([sv("grid-140400", "1000", True), sv(f"self-{CODE}", "1040", False)], tol)
    assert within == []
    flags = cross_check(
        [sv("grid-140400", "600", True), sv("grid-140400", "400", True), sv("self-x", "1100", False)], tol
    )
    assert len(flags) == 1
    f = flags[0]
    assert (f.department, f.value, f.reference_value, f.relative_difference) == (
        "self-x",
        1100,
        1000,
        Decimal("0.1"),
    )
    assert cross_check([sv("self-x", "5", False)], tol) == []  # no authoritative source: nothing to compare
    zero = cross_check([sv("grid-140400", "0", True), sv("self-x", "5", False)], tol)
    assert zero[0].relative_difference is None


@pytest.mark.parametrize("raw", ["9e400", "1e15", "-1e16", "1" + "0" * 40])
def test_oversized_values_are_rejected_naming_the_value(raw: str) -> None:
    out = check(rec(value=raw))
    assert isinstance(out, Rejection) and out.field == "value" and "out of range" in out.reason


def test_a_value_out_of_range_only_once_converted_is_rejected_naming_it() -> None:
    """5e14 kt is below the bound as sent but 5e17 t in the canonical unit, which the
    ``FactRecorded`` contract refuses: a per-record rejection, not a failed submission."""
    out = check(rec(value="5e14", unit="kt"))
    assert isinstance(out, Rejection) and out.field == "value" and "out of range" in out.reason
    assert "kt" in out.reason and "t" in out.reason
    assert isinstance(check(rec(value="5e11", unit="kt")), CheckedRecord)  # 5e14 t: in range


def test_large_but_plausible_values_pass() -> None:
    assert isinstance(check(rec(value="123456789012.5")), CheckedRecord)
