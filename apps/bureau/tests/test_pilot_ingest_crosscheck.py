"""The generated records against ingest's real validator (its catalogue and its checks).

The generator keeps its own small copy of the catalogue (it may not import a service's domain
at runtime); this test, on the app side where every service is installed, catches any drift:
every record passes ``check_record`` except the deliberately malformed ones, and each of those
is rejected on the field the generator promised.
"""

from __future__ import annotations

import time
from datetime import date

from carbon_bureau.pilot import generate
from carbon_ingest.adapters.catalogue_files import load_catalogue
from carbon_ingest.domain import identifiers
from carbon_ingest.domain.records import RawRecord, Rejection, check_record


def test_generated_records_pass_ingest_validation_except_the_malformed() -> None:
    dataset = generate()  # the full pilot: ~425k records, checked in a few seconds
    catalogue = load_catalogue()
    directory = {e["credit_code"] for e in dataset.enterprises}
    promised = {(m["department"], m["record_id"]): m["field"] for m in dataset.expectations["malformed"]}
    rejected: dict[tuple[str, str], str] = {}
    t0 = time.perf_counter()
    for batch in dataset.submissions:
        dept = identifiers.department(batch["department"])
        for rec in batch["records"]:
            result = check_record(RawRecord(**rec), dept, catalogue, directory, date(2025, 1, 1))
            if isinstance(result, Rejection):
                rejected[(batch["department"], rec["record_id"])] = result.field
    print(f"checked {dataset.record_count:,} records in {time.perf_counter() - t0:.1f} s")
    assert rejected == promised
