"""The paced load's enterprise-months (``bench.latency.build_units``) against ingest's validator.

They re-send each enterprise's last month as new months with activity and output values varied
(so that a new month changes the rating like a real one); the variation must stay valid input."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

from carbon_bureau.bench.latency import VARIED_FAMILIES, build_units
from carbon_bureau.pilot import generate
from carbon_ingest.adapters.catalogue_files import load_catalogue
from carbon_ingest.domain import identifiers
from carbon_ingest.domain.records import RawRecord, Rejection, check_record


def test_units_vary_activity_and_output_within_15_percent_and_pass_validation() -> None:
    dataset = generate(seed=3, enterprises=30, months=4)
    units = build_units(dataset, months=3)
    assert units == build_units(dataset, months=3)  # deterministic (seeded)
    last = dataset.params["periods"][1]
    source = {
        (b["department"], r["record_id"]): r
        for b in dataset.submissions
        for r in b["records"]
        if r["period"] == last
    }
    catalogue = load_catalogue()
    directory = {e["credit_code"] for e in dataset.enterprises}
    varied = unchanged = 0
    for unit in units:
        for dept, rec in unit.records:
            original = source[(dept, rec["record_id"].split("~bench")[0])]
            assert rec["period"] == unit.period > last
            if rec["indicator"].startswith(VARIED_FAMILIES):
                ratio = (
                    Decimal(rec["value"]) / Decimal(original["value"]) if Decimal(original["value"]) else 1
                )
                assert Decimal("0.85") <= ratio <= Decimal("1.15") or Decimal(original["value"]) == 0
                varied += rec["value"] != original["value"]
            else:
                assert rec["value"] == original["value"]
                unchanged += 1
            result = check_record(
                RawRecord(**rec), identifiers.department(dept), catalogue, directory, date(2030, 1, 1)
            )
            assert not isinstance(result, Rejection), (rec, result)
    assert varied > 0 and unchanged > 0
