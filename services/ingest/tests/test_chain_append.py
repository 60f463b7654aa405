"""The chain's canonical bytes and content hashes: the fast paths must give exactly the reference
bytes (every stored entry must still verify), and a failed submission leaves nothing. (The
pre-encoded events with their hash joined in under the lock: tests/test_fact_events.py.)"""

from __future__ import annotations

import hashlib
import json
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from carbon_ingest.adapters.catalogue_files import load_catalogue
from carbon_ingest.domain.evidence import canonical_fact
from carbon_ingest.domain.records import CheckedRecord
from carbon_ingest.domain.units import canonical_decimal

any_json = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(-(2**70), 2**70)
    | st.floats(allow_nan=False)
    | st.text(max_size=40),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=12), inner, max_size=3),
    max_leaves=10,
)


@settings(max_examples=600)
@given(
    attributes=st.dictionaries(st.text(max_size=12), any_json, max_size=4),
    record_id=st.text(min_size=1, max_size=60),
    value=st.decimals(allow_nan=False, allow_infinity=False, places=4, min_value=-(10**14), max_value=10**14),
)
def test_canonical_bytes_are_the_reference_json_bytes(
    attributes: dict[str, Any], record_id: str, value: Decimal
) -> None:
    """The fast path (orjson) must give exactly the bytes existing evidence hashes were made of."""
    fields: dict[str, Any] = {
        "fact_id": "f-1", "department": "stats-140400", "record_id": record_id, "revision": 3,
        "credit_code": "91140400MA0000001X", "indicator": "energy.raw_coal", "period": "2024-03", "value": value,
        "unit": "t", "original_value": str(value), "original_unit": "kt", "attributes": attributes,
        "authoritative": False, "recorded_at": datetime(2024, 4, 1, 8, 30, 15, 123456, tzinfo=UTC),
    }  # fmt: skip
    try:
        fast = canonical_fact(**fields)
    except UnicodeEncodeError:
        fast = None  # a lone surrogate: the reference path fails too (asserted below)
    body = {**fields, "value": canonical_decimal(value), "recorded_at": fields["recorded_at"].isoformat()}
    try:
        reference = json.dumps(body, sort_keys=True, ensure_ascii=False, separators=(",", ":")).encode()
    except UnicodeEncodeError:
        reference = None
    assert fast == reference


@given(
    code=st.sampled_from(sorted(load_catalogue().indicators)),
    credit=st.from_regex(r"[0-9A-HJ-NPQRTUWXY]{18}", fullmatch=True),
    period=st.from_regex(r"20[0-9]{2}-(0[1-9]|1[0-2])", fullmatch=True),
    value=st.decimals(allow_nan=False, allow_infinity=False, places=6, min_value=-(10**14), max_value=10**14),
)
def test_content_hash_fast_path_is_the_reference_hash(
    code: str, credit: str, period: str, value: Decimal
) -> None:
    """Stored heads keep their content hashes: the spelled-out form equals the json.dumps form."""
    ind = load_catalogue().indicators[code]
    rec = CheckedRecord("r", credit, ind, period, value, str(value), ind.unit, {})
    body = {"credit_code": credit, "indicator": code, "period": period, "value": canonical_decimal(value),
            "attributes": {}}  # fmt: skip
    reference = hashlib.sha256(json.dumps(body, sort_keys=True, ensure_ascii=False).encode()).hexdigest()
    assert rec.content_hash == reference


async def test_a_failure_before_commit_leaves_nothing(
    client: Any, code: Any, register: Any, sql: Any, monkeypatch: Any
) -> None:
    """Every statement of a submission (those sent to asyncpg directly included) is in the one
    transaction: a failure at the last step (the chain append) rolls back heads, flags, submission."""
    from carbon_ingest.adapters.repository import SqlRepository

    c = code(41)
    await register(c)

    async def broken(*_: Any, **__: Any) -> None:
        raise RuntimeError("killed before commit")

    monkeypatch.setattr(SqlRepository, "add_facts", broken)
    records = [{"record_id": f"x{m}", "credit_code": c, "indicator": "electricity.purchased", "period": f"2023-0{m}",
                "value": "100", "unit": "MWh"} for m in range(1, 6)]  # fmt: skip
    try:
        await client.post("/v1/submissions", json={"department": "grid-140400", "records": records})
    except RuntimeError:
        pass  # the ASGI transport re-raises the server error
    for table in ("fact_heads", "facts", "evidence", "submissions", "quality_flags", "outbox_batches"):
        assert await sql.fetchval(f"SELECT count(*) FROM {table} WHERE {_not_registration(table)}") == 0, (
            table
        )


def _not_registration(table: str) -> str:
    """The outbox holds the registration's EnterpriseRegistered: count only fact events."""
    return "topic = 'ingest.facts.v1'" if table == "outbox_batches" else "true"


async def test_record_ids_holding_control_characters_are_stored_exactly(
    client: Any, code: Any, register: Any, sql: Any
) -> None:
    """The statements' columns travel packed on a separator character (carbon_common.packed): a
    record id that holds the candidates is stored, chained and published as sent."""
    from carbon_common.packed import SEPARATORS

    c = code(42)
    await register(c)
    ids = [f"r{SEPARATORS[0]}1", f"r{SEPARATORS[1]}{SEPARATORS[0]}2", "r,{3}", 'r"4\\']
    records = [{"record_id": rid, "credit_code": c, "indicator": "electricity.purchased", "period": f"2023-0{m}",
                "value": "100", "unit": "MWh", "attributes": {"note": SEPARATORS[2]}}
               for m, rid in enumerate(ids, start=1)]  # fmt: skip
    out = (
        await client.post("/v1/submissions", json={"department": "grid-140400", "records": records})
    ).json()
    assert out["accepted"] == 4, out
    assert sorted(r["record_id"] for r in await sql.fetch("SELECT record_id FROM facts")) == sorted(ids)
    assert sorted(r["record_id"] for r in await sql.fetch("SELECT record_id FROM fact_heads")) == sorted(ids)
    events = await sql.fetch(
        "SELECT value FROM outbox_records WHERE topic = 'ingest.facts.v1' ORDER BY position"
    )
    assert [json.loads(e["value"])["record_id"] for e in events] == ids
    assert [json.loads(e["value"])["attributes"] for e in events] == [{"note": SEPARATORS[2]}] * 4
    assert (await client.get("/v1/evidence/verify")).json()["ok"] is True
    # the same records again: duplicates, found through the packed heads
    again = (
        await client.post("/v1/submissions", json={"department": "grid-140400", "records": records})
    ).json()
    assert again["duplicates"] == 4 and again["accepted"] == 0
