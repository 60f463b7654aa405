"""The pilot generator: determinism, proportions, valid identities, catalogue-conformant records,
exactly the listed malformed records, physical consistency, and the pilot's size."""

from __future__ import annotations

import hashlib
import re
import time
from collections import Counter
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any

import httpx
import orjson
import pytest
from stdnum.cn import uscc
from typer.testing import CliRunner

from carbon_bureau.pilot import PilotDataset, generate
from carbon_bureau.pilot.catalogue import CATALOGUE, department_kind
from carbon_bureau.pilot.cli import app
from carbon_bureau.pilot.departments import all_departments
from carbon_bureau.pilot.factors import FACTORS
from carbon_bureau.pilot.regions import CITIES
from carbon_bureau.pilot.replay import replay_http

DOCS = Path(__file__).resolve().parents[3] / "docs" / "indicators.md"
PERIOD = re.compile(r"^\d{4}-(0[1-9]|1[0-2])$")


@pytest.fixture(scope="module")
def small() -> PilotDataset:
    return generate(seed=7, enterprises=40, months=6)


@pytest.fixture(scope="module")
def full() -> tuple[PilotDataset, float]:
    t0 = time.perf_counter()
    dataset = generate()
    return dataset, time.perf_counter() - t0


def digest(dataset: PilotDataset) -> str:
    h = hashlib.sha256()
    for rel, data in dataset.files():
        h.update(rel.encode() + b"\0" + data)
    return h.hexdigest()


def problems(dept: str, rec: dict[str, Any], known: set[str], periods: set[str]) -> list[str]:
    """An independent validator: the rejection reasons a record deserves (empty if valid)."""
    out = []
    code = rec["credit_code"]
    if not uscc.is_valid(code):
        out.append("invalid_credit_code")
    elif code not in known:
        out.append("unknown_enterprise")
    row = CATALOGUE.get(rec["indicator"])
    if row is None:
        out.append("unknown_indicator")
    else:
        if department_kind(dept) not in row.kinds:
            out.append("department_not_allowed")
        if rec["unit"] not in row.units:
            out.append("unit_not_accepted")
        out += ["missing_attribute" for a in row.required_attributes if a not in rec.get("attributes", {})]
    if not PERIOD.match(rec["period"]) or rec["period"] not in periods:
        out.append("invalid_period")
    try:
        if Decimal(rec["value"]) < 0 and (row is None or not row.signed):
            out.append("negative_value")
    except InvalidOperation:
        out.append("bad_value")
    return out


def _docs_table() -> dict[str, dict[str, Any]]:
    rows = {}
    for line in DOCS.read_text(encoding="utf-8").splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if len(cells) == 5 and cells[0].startswith("`") and "." in cells[0]:
            kinds = {re.sub(r"\s*\(.*\)", "", k).strip() for k in cells[3].split(",")}
            rows[cells[0].strip("`")] = {
                "canonical": cells[1],
                "units": {u.strip() for u in cells[2].split(",")},
                "kinds": kinds,
            }
    return rows


def test_catalogue_copy_matches_docs() -> None:
    docs = _docs_table()
    assert set(docs) == set(CATALOGUE)
    for code, row in docs.items():
        mine = CATALOGUE[code]
        assert mine.canonical == row["canonical"], code
        assert set(mine.units) == row["units"], code
        assert set(mine.kinds) == row["kinds"], code


def test_same_seed_same_bytes_different_seed_different(small: PilotDataset) -> None:
    again = generate(seed=7, enterprises=40, months=6)
    assert digest(again) == digest(small)
    assert digest(generate(seed=8, enterprises=40, months=6)) != digest(small)


def test_small_dataset_keeps_proportions(small: PilotDataset) -> None:
    counts = small.expectations["counts"]
    assert counts["enterprises_by_city"] == {"140200": 16, "140300": 6, "140400": 18}
    assert counts["rejected"] >= 8 and all(counts["rejected_by_reason"].values())


def test_full_size_pilot(full: tuple[PilotDataset, float]) -> None:
    dataset, seconds = full
    counts = dataset.expectations["counts"]
    print(
        f"full pilot generated in {seconds:.1f} s: {counts['records']:,} records, {counts['facts']:,} facts"
    )
    assert seconds < 30
    assert counts["enterprises"] == 1122
    assert counts["enterprises_by_city"] == {"140400": 503, "140200": 446, "140300": 173}
    assert len(counts["enterprises_by_industry"]) == 19
    assert set(counts["enterprises_by_stage"]) == {"early", "mid", "mature"}
    assert set(counts["enterprises_by_size"]) == {"sme", "large"}
    assert 90 <= counts["departments"] <= 110
    assert 400_000 <= counts["records"] <= 440_000
    assert 400_000 <= counts["facts"] <= 440_000
    assert 0.002 <= counts["rejected"] / counts["records"] <= 0.004
    assert counts["duplicates"] > 0 and counts["corrections"] > 0
    assert counts["electricity_flags"] > 0 and counts["verified_flags"] > 0
    assert set(dataset.departments) <= set(all_departments())
    assert max(len(b["records"]) for b in dataset.submissions) <= 10_000


def test_every_uscc_valid_and_in_its_county(full: tuple[PilotDataset, float]) -> None:
    dataset, _ = full
    counties = {code: city.code for city in CITIES for code, _ in city.counties}
    codes = [e["credit_code"] for e in dataset.enterprises]
    assert len(set(codes)) == len(codes) and len({e["name"] for e in dataset.enterprises}) == len(codes)
    for ent in dataset.enterprises:
        assert uscc.is_valid(ent["credit_code"]), ent
        assert ent["credit_code"][2:8] == ent["region_code"] and ent["region_code"] in counties
        assert ent["name"].endswith("公司")
    # the big emitters are the ETS participants
    ets = Counter(e["industry_code"] for e in dataset.enterprises if e["ets_participant"])
    assert set(ets) <= {"4411", "3120", "3011", "3216"} and ets["4411"] > 0


@pytest.mark.parametrize("which", ["small", "full"])
def test_records_follow_catalogue_except_exactly_the_malformed(
    which: str, small: PilotDataset, full: tuple[PilotDataset, float]
) -> None:
    dataset = small if which == "small" else full[0]
    known = {e["credit_code"] for e in dataset.enterprises}
    first, last = dataset.params["periods"]
    periods = {p for p in _months(first, last)}
    expected = {(m["department"], m["record_id"]): m["reason"] for m in dataset.expectations["malformed"]}
    found = {}
    for batch in dataset.submissions:
        for rec in batch["records"]:
            reasons = problems(batch["department"], rec, known, periods)
            if reasons:
                found[(batch["department"], rec["record_id"])] = reasons
            elif rec.get("attributes", {}).get("severity") is not None:
                assert rec["attributes"]["severity"] in ("minor", "major", "serious")
    assert {k: [v] for k, v in expected.items()} == found


def _months(first: str, last: str) -> list[str]:
    y, m = map(int, first.split("-"))
    out = []
    while f"{y:04d}-{m:02d}" <= last:
        out.append(f"{y:04d}-{m:02d}")
        y, m = (y + 1, 1) if m == 12 else (y, m + 1)
    return out


def test_corrections_and_duplicates_come_after_their_original(full: tuple[PilotDataset, float]) -> None:
    dataset, _ = full
    first_slot: dict[tuple[str, str], int] = {}
    calendar = _months(dataset.params["start"], "2030-12")  # slot s normally carries period s - 1
    later = late = 0
    for slot, batch in zip(dataset.slots, dataset.submissions, strict=True):
        for rec in batch["records"]:
            key = (batch["department"], rec["record_id"])
            if key in first_slot:
                assert slot > first_slot[key]
                later += 1
            else:
                first_slot[key] = slot
                if slot >= 1 and rec["period"] < calendar[slot - 1]:
                    late += 1
    counts = dataset.expectations["counts"]
    assert later == counts["duplicates"] + counts["corrections"]
    assert late > 0


def test_physical_consistency(full: tuple[PilotDataset, float]) -> None:
    dataset, _ = full
    intensity = dataset.expectations["intensity_by_industry"]
    assert 0.78 <= float(intensity["4411"]["combustion"]) <= 0.84  # ≈ 0.81 tCO2/MWh
    assert 1.75 <= float(intensity["3120"]["total"]) <= 1.95  # worldsteel 1.85–1.91
    assert 0.80 <= float(intensity["3011"]["total"]) <= 0.90  # 0.8534 per t clinker
    assert 8.5 <= float(intensity["3216"]["total"]) <= 9.6  # 9.1132 per t aluminium
    # recomputed here straight from the records of the coal power plants (first value per key)
    power = {e["credit_code"] for e in dataset.enterprises if e["industry_code"] == "4411"}
    coal = mwh = Decimal(0)
    seen: set[tuple[str, str]] = set()
    bad = {(m["department"], m["record_id"]) for m in dataset.expectations["malformed"]}
    for batch in dataset.submissions:
        for rec in batch["records"]:
            key = (batch["department"], rec["record_id"])
            if rec["credit_code"] not in power or key in seen or key in bad:
                continue
            seen.add(key)
            value = Decimal(rec["value"]) * CATALOGUE[rec["indicator"]].units[rec["unit"]]
            if rec["indicator"] == "energy.raw_coal":
                coal += value
            elif rec["indicator"] == "production.power_supplied":
                mwh += value
    assert 0.78 <= coal * FACTORS["energy.raw_coal"].value / mwh <= 0.84


def test_winter_peak_for_heat_and_power(full: tuple[PilotDataset, float]) -> None:
    by_period = full[0].expectations["emissions"]["by_period"]
    jan = Decimal(by_period["2022-01"][3])
    may = Decimal(by_period["2022-05"][3])
    assert jan > may * Decimal("1.1")


def test_write_and_load_round_trip(small: PilotDataset, tmp_path: Path) -> None:
    small.write(tmp_path)
    assert (tmp_path / "enterprises.jsonl").exists() and (tmp_path / "expectations.json").exists()
    assert len(list((tmp_path / "submissions").glob("*.jsonl"))) == len(small.departments)
    loaded = PilotDataset.load(tmp_path)
    assert loaded.submissions == small.submissions and loaded.slots == small.slots
    assert digest(loaded) == digest(small)


def test_cli_generate(tmp_path: Path) -> None:
    result = CliRunner().invoke(
        app, ["generate", "--out", str(tmp_path), "--enterprises", "30", "--months", "3"]
    )
    assert result.exit_code == 0, result.output
    meta = orjson.loads((tmp_path / "expectations.json").read_bytes())
    assert meta["counts"]["enterprises"] == 30 and meta["params"]["months"] == 3


async def test_replay_http_through_a_mock_transport(small: PilotDataset) -> None:
    seen: list[tuple[str, Any]] = []

    def handler(request: httpx.Request) -> httpx.Response:
        body = orjson.loads(request.content)
        seen.append((request.url.path, body))
        if request.url.path.endswith("/submissions"):
            return httpx.Response(200, json={"accepted": len(body["records"]), "rejected": 0})
        return httpx.Response(201, json=body)

    async with httpx.AsyncClient(transport=httpx.MockTransport(handler), base_url="http://bureau") as client:
        result = await replay_http(small, client, prefix="/ingest", concurrency=3, max_records=50)
    assert not result.errors
    paths = [p for p, _ in seen]
    n_ent = len(small.enterprises)
    assert paths[:n_ent] == ["/ingest/v1/enterprises"] * n_ent
    assert set(paths[n_ent:]) == {"/ingest/v1/submissions"}
    batches = [b for _, b in seen[n_ent:]]
    assert all(len(b["records"]) <= 50 for b in batches)
    assert sum(len(b["records"]) for b in batches) == small.record_count == result.records == result.accepted

    # per (department, record_id) the order of values is the stream's order
    def order(items: list[dict[str, Any]]) -> dict[tuple[str, str], list[str]]:
        out: dict[tuple[str, str], list[str]] = {}
        for b in items:
            for r in b["records"]:
                out.setdefault((b["department"], r["record_id"]), []).append(r["value"])
        return out

    assert order(batches) == order(small.submissions)
