"""The dept.submissions.v1 consumer on the in-process bus: same validation, DLQ, idempotence."""

from __future__ import annotations

import json
from decimal import Decimal
from typing import Any

from carbon_common.bus.port import Record
from carbon_common.events import FactRecorded, Topics
from carbon_ingest.adapters.consumers import GROUP

DLQ = Topics.dlq(Topics.DEPT_SUBMISSIONS)


def raw(code: str, rid: str, dept: str = "grid-140400", **kw: Any) -> bytes:
    body = {"department": dept, "record_id": rid, "credit_code": code, "indicator": "electricity.purchased",
            "period": "2024-03", "value": "8200", "unit": "MWh", **kw}  # fmt: skip
    return json.dumps(body).encode()


def rec(value: bytes, key: str = "k") -> Record:
    return Record(Topics.DEPT_SUBMISSIONS, key.encode(), value, (("source", b"test"),))


async def test_good_bad_and_unparsable_records(
    bus: Any, code: Any, register: Any, wait_records: Any, client: Any
) -> None:
    c = code(1)
    await register(c)
    await bus.publish(
        [
            rec(raw(c, "k-1", value="8.2", unit="GWh"), c),
            rec(b"{this is not json", c),
            rec(raw(c, "k-bad", unit="t"), c),
            rec(raw(c, "k-2", period="2024-04"), c),
        ]
    )
    await bus.drain()
    facts = [FactRecorded.model_validate_json(r.value) for r in await wait_records(Topics.FACTS, 2)]
    assert sorted((f.record_id, f.value) for f in facts) == [("k-1", Decimal(8200)), ("k-2", Decimal(8200))]
    assert all(f.authoritative for f in facts)  # grid is authoritative for electricity.purchased

    dead = await wait_records(DLQ, 2)
    reasons = {dict(d.headers)["dlq_reason"].decode(): d for d in dead}
    undecodable = next(d for r, d in reasons.items() if r.startswith("undecodable"))
    assert undecodable.value == b"{this is not json"  # original bytes
    invalid = next(d for r, d in reasons.items() if "k-bad" in r)
    reason = dict(invalid.headers)["dlq_reason"].decode()
    assert "unit" in reason and "not accepted" in reason
    assert json.loads(invalid.value)["record_id"] == "k-bad"
    assert dict(invalid.headers)["dlq_consumer_group"] == GROUP.encode()


async def test_batch_object_and_rejection_read_back(bus: Any, code: Any, register: Any, wait_records: Any, sql: Any,
                                                    client: Any) -> None:  # fmt: skip
    c = code(2)
    await register(c)
    batch = {
        "department": "stats-140400",
        "records": [
            {"record_id": "b-1", "credit_code": c, "indicator": "energy.coke", "period": "2024-01", "value": "5", "unit": "kt"},
            {"record_id": "b-2", "credit_code": c, "indicator": "energy.coke", "period": "2024-01", "value": "x", "unit": "t"},
        ],
    }  # fmt: skip
    await bus.publish([rec(json.dumps(batch).encode(), c)])
    await bus.drain()
    (fact,) = await wait_records(Topics.FACTS, 1)
    assert FactRecorded.model_validate_json(fact.value).value == Decimal(5000)
    (dead,) = await wait_records(DLQ, 1)
    assert (
        json.loads(dead.value)["record_id"] == "b-2"
        and json.loads(dead.value)["department"] == "stats-140400"
    )
    sub_id = await sql.fetchval("SELECT submission_id FROM submissions WHERE channel = 'kafka'")
    body = (await client.get(f"/v1/submissions/{sub_id}")).json()
    assert body["accepted"] == 1
    assert body["rejected"] == [
        {"record_id": "b-2", "field": "value", "reason": "'x' is not a decimal number"}
    ]


async def test_redelivery_changes_nothing(service: Any, bus: Any, code: Any, register: Any, wait_records: Any,
                                         sql: Any) -> None:  # fmt: skip
    c = code(3)
    await register(c)
    await bus.publish([rec(raw(c, "once"), c)])
    await bus.drain()
    await wait_records(Topics.FACTS, 1)
    # rewind the group's offsets: Kafka redelivers after a crash before the offset commit
    for key in list(bus.committed):
        if key[0] == GROUP:
            bus.committed[key] = 0
    await bus.drain()
    await bus.publish([rec(raw(c, "once"), c)])  # the producer sent it twice: a duplicate by content
    await bus.drain()
    assert len(await wait_records(Topics.FACTS, 1)) == 1
    assert await sql.fetchval("SELECT count(*) FROM facts") == 1
    assert await sql.fetchval("SELECT sum(duplicates) FROM submissions WHERE channel = 'kafka'") == 1
