"""(e) Poison records interleaved with good ones on ``dept.submissions.v1`` and
``ingest.facts.v1``: every poison record lands in ``<topic>.dlq`` with a ``dlq_reason`` and its
original bytes, every good one is processed; after a fix, ``bureau dlq redrive`` sends the
dead-lettered record back and it is processed (once, however often the tool runs)."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from decimal import Decimal

import asyncpg
import httpx
import orjson
import pytest
from aiokafka import AIOKafkaProducer

from carbon_bureau.dlq import inspect_records, redrive_records
from carbon_bureau.stack.pg_handle import PgHandle
from carbon_common.events import Envelope, FactRecorded, Topics, encode
from tests.e2e.skeleton import RAW_COAL_EF, enterprise, eventually, new_credit_code
from tests.fault import state as st
from tests.fault.harness import Deployment

pytestmark = pytest.mark.integration
DEPT = "stats-140400"
Headers = list[tuple[str, bytes]]


def dept_record(code: str, period: str, value: str, **extra: object) -> bytes:
    body = {
        "department": DEPT,
        "record_id": f"{code}-coal-{period}",
        "credit_code": code,
        "indicator": "energy.raw_coal",
        "period": period,
        "value": value,
        "unit": "t",
        **extra,
    }
    return orjson.dumps({k: v for k, v in body.items() if v is not None})


def fact(code: str, value: str) -> tuple[bytes, Headers]:
    """A well-formed FactRecorded envelope whose payload value is then replaced by ``value``."""
    event = FactRecorded(
        fact_id=str(uuid.uuid4()),
        fact_key=f"{DEPT}/{code}-poison",
        credit_code=code,
        department=DEPT,
        record_id=f"{code}-poison",
        indicator="energy.raw_coal",
        period="2024-01",
        value=Decimal(1),
        unit="t",
        evidence_hash="0" * 64,
        recorded_at=datetime.now(UTC),
    )
    _key, raw, headers = encode(Envelope(event, source="/fault-test"))
    return orjson.dumps({**orjson.loads(raw), "value": value}), headers


def with_header(headers: Headers, name: str, value: str) -> Headers:
    return [(k, v) for k, v in headers if k != name] + [(name, value.encode())]


async def accounts(dep: Deployment, codes: list[str]) -> dict[tuple[str, str], Decimal]:
    conn = await asyncpg.connect(dep.db_dsn("accounting"))
    try:
        rows = await conn.fetch(
            "SELECT credit_code, period, scope1_combustion_tco2 FROM accounts WHERE credit_code = ANY($1)",
            codes,
        )
    finally:
        await conn.close()
    return {(r[0], r[1]): Decimal(r[2]) for r in rows}


async def test_poison_records_are_dead_lettered_and_redriven_after_a_fix(
    shared_kafka: str, shared_pg: PgHandle, deployment_factory: list[Deployment]
) -> None:
    dep = Deployment("poison", shared_kafka, shared_pg)
    deployment_factory.append(dep)
    await dep.start()
    a, b, late = new_credit_code(), new_credit_code(), new_credit_code()
    async with httpx.AsyncClient(timeout=30) as client:
        for code in (a, b):
            r = await client.post(f"{dep.url('ingest')}/v1/enterprises", json=enterprise(code))
            assert r.status_code in (200, 201), r.text

    good_fact, fact_headers = fact(a, "1")
    dept_poison = {
        "undecodable bytes": b"\xff\xfe{not json at all",
        "not an object": b'["a", 1]',
        "no department": orjson.dumps({"record_id": "x", "credit_code": a}),
        "schema-invalid (no indicator)": dept_record(a, "2024-03", "5", indicator=None),
        "oversized value": dept_record(a, "2024-04", "9e400"),
        "unknown enterprise": dept_record(late, "2024-01", "300"),
    }
    facts_poison: dict[str, tuple[bytes, Headers]] = {
        "undecodable bytes": (b"\x00\x01\x02garbage", []),
        "wrong ce_specversion": (good_fact, with_header(fact_headers, "ce_specversion", "0.3")),
        "unknown ce_type": (good_fact, with_header(fact_headers, "ce_type", "cn.carbon.bogus.v9")),
        "schema-invalid payload": (orjson.dumps({"credit_code": a, "value": "1"}), fact_headers),
        "non-finite value": fact(a, "NaN"),
        "oversized value": fact(a, "9e400"),
    }
    ns = dep.namespace
    producer = AIOKafkaProducer(bootstrap_servers=shared_kafka, acks="all", enable_idempotence=True)
    await producer.start()
    try:
        subs, facts_topic = ns + Topics.DEPT_SUBMISSIONS, ns + Topics.FACTS
        await producer.send_and_wait(subs, dept_record(a, "2024-01", "1000"), key=a.encode())
        for value in dept_poison.values():
            await producer.send_and_wait(subs, value, key=a.encode())
        await producer.send_and_wait(subs, dept_record(b, "2024-01", "500"), key=b.encode())
        for value, headers in facts_poison.values():
            await producer.send_and_wait(facts_topic, value, key=a.encode(), headers=headers)
        await producer.send_and_wait(subs, dept_record(a, "2024-02", "800"), key=a.encode())
    finally:
        await producer.stop()

    want = {
        (a, "2024-01"): 1000 * RAW_COAL_EF,
        (a, "2024-02"): 800 * RAW_COAL_EF,
        (b, "2024-01"): 500 * RAW_COAL_EF,
    }

    async def good_ones_processed() -> bool:
        return all(k in got for k in want) if (got := await accounts(dep, [a, b])) else False

    await eventually(good_ones_processed, timeout=120, what="the good records' accounts")
    await st.wait_quiet(dep)
    problems: list[str] = []  # collected, so one run reports every broken guarantee
    dead_count: dict[str, int] = {}
    got = await accounts(dep, [a, b])
    if got != want:
        problems.append(f"accounts of the good records are not exactly theirs: got {got}, want {want}")

    for topic, produced in (
        (Topics.DEPT_SUBMISSIONS, dict(dept_poison)),
        (Topics.FACTS, {k: v for k, (v, _h) in facts_poison.items()}),
    ):
        dead = await inspect_records(shared_kafka, topic, ns)
        dead_count[topic] = len(dead)
        by_value = {r.value: r for r in dead}
        missing = [name for name, value in produced.items() if value not in by_value]
        if missing:
            problems.append(f"{topic}: poison records NOT dead-lettered (they were applied): {missing}")
        assert all(r.reason and r.header("dlq_source_topic") == topic for r in dead), dead
        unexpected = set(by_value) - set(produced.values())
        assert not unexpected, f"{topic}: good records were dead-lettered: {unexpected}"

    # the fix: the enterprise the record referred to is registered now; redrive just that record
    async with httpx.AsyncClient(timeout=30) as client:
        r = await client.post(f"{dep.url('ingest')}/v1/enterprises", json=enterprise(late))
        assert r.status_code in (200, 201), r.text
    only = {"reason_contains": "is not registered"}
    planned = await redrive_records(shared_kafka, Topics.DEPT_SUBMISSIONS, ns, dry_run=True, **only)
    assert [p.value for p in planned] == [dept_poison["unknown enterprise"]]
    redriven = await redrive_records(shared_kafka, Topics.DEPT_SUBMISSIONS, ns, **only)
    assert [p.value for p in redriven] == [dept_poison["unknown enterprise"]]
    assert await redrive_records(shared_kafka, Topics.DEPT_SUBMISSIONS, ns, **only) == []

    async def late_accounted() -> Decimal | None:
        return (await accounts(dep, [late])).get((late, "2024-01"))

    assert (
        await eventually(late_accounted, timeout=120, what="the redriven record's account")
        == 300 * RAW_COAL_EF
    )
    after = await inspect_records(shared_kafka, Topics.DEPT_SUBMISSIONS, ns)
    assert [r.redriven for r in after].count(True) == 1
    assert (
        len(after) == dead_count[Topics.DEPT_SUBMISSIONS]
    )  # the redriven record was applied, not dead-lettered again
    assert not problems, "\n".join(problems)
