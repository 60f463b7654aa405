"""Evidence chain (tamper detection against the real database) and cross-validation flags."""

from __future__ import annotations

import asyncio
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
import yaml

from carbon_ingest.adapters.catalogue_files import PACKAGED
from carbon_ingest.entrypoints.verify_evidence import _run


def rec(code: str, rid: str, **kw: Any) -> dict[str, Any]:
    return {"record_id": rid, "credit_code": code, "indicator": "electricity.purchased", "period": "2024-03",
            "value": "1000", "unit": "MWh", **kw}  # fmt: skip


async def test_verifier_names_the_altered_fact(client: Any, code: Any, register: Any, sql: Any,
                                               monkeypatch: Any, db_url: str) -> None:  # fmt: skip
    c = code(1)
    await register(c)
    for batch in range(3):
        records = [rec(c, f"r{batch}-{i}", period=f"2024-0{batch + 1}") for i in range(4)]
        assert (
            await client.post("/v1/submissions", json={"department": "grid-140400", "records": records})
        ).json()["accepted"] == 4
    ok = (await client.get("/v1/evidence/verify")).json()
    assert ok == {"ok": True, "entries_checked": 12, "head_hash": ok["head_hash"], "first_broken": None}
    links = await sql.fetch("SELECT seq, prev_hash, entry_hash FROM evidence ORDER BY seq")
    assert [r["seq"] for r in links] == list(range(1, 13))
    assert all(links[i]["prev_hash"] == links[i - 1]["entry_hash"] for i in range(1, 12))

    victim = await sql.fetchrow(
        "SELECT e.seq, f.fact_id FROM evidence e JOIN facts f USING (fact_id) WHERE e.seq = 7"
    )
    await sql.execute("UPDATE facts SET value = 1 WHERE fact_id = $1", victim["fact_id"])
    bad = (await client.get("/v1/evidence/verify")).json()
    assert bad["ok"] is False and bad["entries_checked"] == 6
    assert bad["first_broken"]["seq"] == 7 and bad["first_broken"]["fact_id"] == victim["fact_id"]

    monkeypatch.setenv("INGEST_POSTGRES__URL", db_url)
    assert await _run() == 1  # the CLI exits non-zero on a broken chain


async def test_concurrent_submissions_keep_one_chain(client: Any, code: Any, register: Any, sql: Any) -> None:
    c = code(2)
    await register(c)

    async def send(n: int) -> Any:
        records = [rec(c, f"c{n}-{i}") for i in range(50)]
        return await client.post(
            "/v1/submissions", json={"department": f"grid-1404{n:02d}", "records": records}
        )

    results = await asyncio.gather(*(send(n) for n in range(1, 7)))
    assert all(r.json()["accepted"] == 50 for r in results)
    v = (await client.get("/v1/evidence/verify")).json()
    assert v["ok"] and v["entries_checked"] == 300


async def test_grid_vs_self_electricity_flagged_and_cleared(client: Any, code: Any, register: Any) -> None:
    c = code(3)
    await register(c)
    await client.post(
        "/v1/submissions", json={"department": "grid-140400", "records": [rec(c, "g1", value="1000")]}
    )
    selfd = f"self-{c}"
    r = await client.post(
        "/v1/submissions", json={"department": selfd, "records": [rec(c, "s1", value="1200000", unit="kWh")]}
    )
    assert r.json()["accepted"] == 1
    flags = (await client.get("/v1/quality/flags", params={"credit_code": c})).json()
    assert len(flags) == 1
    f = flags[0]
    assert (f["department"], f["value"], f["reference_departments"], f["reference_value"]) == (
        selfd,
        "1200",
        "grid-140400",
        "1000",
    )
    assert Decimal(f["relative_difference"]) == Decimal("0.2") and f["tolerance"] == "0.05"
    summary = (await client.get(f"/v1/quality/enterprises/{c}")).json()
    assert (summary["facts"], summary["flags"], summary["self_declared"], summary["authoritative"]) == (
        2,
        1,
        1,
        1,
    )

    # the enterprise corrects its declaration to within 5 %: the flag clears
    await client.post("/v1/submissions", json={"department": selfd, "records": [rec(c, "s1", value="1030")]})
    assert (await client.get("/v1/quality/flags", params={"credit_code": c})).json() == []


@pytest.fixture
def settings_overrides(tmp_path: Path) -> dict[str, Any]:
    """A catalogue version that forbids stats departments to correct raw coal (loaded from a file)."""
    import carbon_ingest.catalogue

    data = yaml.safe_load(
        (Path(carbon_ingest.catalogue.__file__).parent / PACKAGED).read_text(encoding="utf-8")
    )
    data["version"] = 2
    data["indicators"]["energy.raw_coal"]["not_correctable_by"] = ["stats"]
    path = tmp_path / "indicators-v2.yaml"
    path.write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")
    return {"catalogue_path": path}


async def test_correction_refused_by_catalogue(client: Any, code: Any, register: Any) -> None:
    c = code(4)
    await register(c)
    coal = {
        "record_id": "x1",
        "credit_code": c,
        "indicator": "energy.raw_coal",
        "period": "2024-03",
        "unit": "t",
    }
    first = (
        await client.post(
            "/v1/submissions", json={"department": "stats-140400", "records": [{**coal, "value": "10"}]}
        )
    ).json()
    assert first["accepted"] == 1
    second = (
        await client.post(
            "/v1/submissions", json={"department": "stats-140400", "records": [{**coal, "value": "11"}]}
        )
    ).json()
    assert second["accepted"] == 0
    assert (
        second["rejected"][0]["field"] == "record_id"
        and "may not be corrected" in second["rejected"][0]["reason"]
    )
    assert (await client.get("/v1/catalogue/indicators")).json()["version"] == 2
