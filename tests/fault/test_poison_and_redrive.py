"""(e) Poison records interleaved with good ones on ``dept.submissions.v1``, ``ingest.facts.v1``
and ``ingest.credit-facts.v1``: every poison record lands in ``<topic>.dlq`` with a ``dlq_reason``
and its original bytes, every good one is processed; after a fix, ``bureau dlq redrive`` sends the
dead-lettered record back and it is processed (once, however often the tool runs).

The credit stream has two readers, rating and lending, and each dead-letters what *it* cannot use
(both into ``ingest.credit-facts.v1.dlq``, told apart by ``dlq_consumer_group``): a record that
is not a CloudEvent goes there from rating, and from lending too when its bytes mention a finance
indicator lending keeps (lending skips every other fact unread); a finance fact whose payload is
not a ``FactRecorded`` only from lending (rating reads nothing but the indicator of the finance
facts it does not keep). A well-formed ``FactRecorded`` that a consumer still cannot apply is one
whose text does not fit its store (the contract does not bound ``fact_key`` or ``unit``; rating
keeps a fact key in ``varchar(300)``, lending a unit in ``varchar(20)``): the batch fails, is
bisected, and the record is dead-lettered after its attempts as a handler error. The fix there is
a migration widening the column, then a redrive.
"""

from __future__ import annotations

import uuid
from collections import Counter
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


def credit_fact(
    code: str, indicator: str, period: str, value: str, unit: str, record_id: str | None = None
) -> tuple[bytes, Headers]:
    """A well-formed FactRecorded of a credit family, as ingest writes it to the credit stream."""
    rid = record_id or f"{code}-{indicator}-{period}"
    event = FactRecorded(
        fact_id=str(uuid.uuid4()),
        fact_key=f"{DEPT}/{rid}",
        credit_code=code,
        department=DEPT,
        record_id=rid,
        indicator=indicator,
        period=period,
        value=Decimal(value),
        unit=unit,
        evidence_hash="0" * 64,
        recorded_at=datetime.now(UTC),
    )
    _key, raw, headers = encode(Envelope(event, source="/fault-test"))
    return raw, headers


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


async def conduct_facts(dep: Deployment, code: str) -> dict[str, tuple[str, str, Decimal]]:
    """Rating's stored facts of ``code``: fact key → (indicator, period, value)."""
    conn = await asyncpg.connect(dep.db_dsn("rating"))
    try:
        rows = await conn.fetch(
            "SELECT fact_key, indicator, period, value FROM conduct_facts WHERE credit_code = $1", code
        )
    finally:
        await conn.close()
    return {r[0]: (r[1], r[2], Decimal(r[3])) for r in rows}


async def finance(dep: Deployment, code: str) -> dict[tuple[str, str], tuple[Decimal, str]]:
    """Lending's stored finance facts of ``code``: (indicator, period) → (value, unit)."""
    conn = await asyncpg.connect(dep.db_dsn("lending"))
    try:
        rows = await conn.fetch(
            "SELECT indicator, period, value, unit FROM enterprise_finance WHERE credit_code = $1", code
        )
    finally:
        await conn.close()
    return {(r[0], r[1]): (Decimal(r[2]), r[3]) for r in rows}


async def migrate(dep: Deployment, service: str, ddl: str) -> None:
    conn = await asyncpg.connect(dep.db_dsn(service))
    try:
        await conn.execute(ddl)
    finally:
        await conn.close()


async def test_poison_on_the_credit_stream_is_dead_lettered_by_each_reader_and_redriven_after_a_fix(
    shared_kafka: str, shared_pg: PgHandle, deployment_factory: list[Deployment]
) -> None:
    dep = Deployment("poison-credit", shared_kafka, shared_pg)
    deployment_factory.append(dep)
    await dep.start()
    a = new_credit_code()
    async with httpx.AsyncClient(timeout=30) as client:
        r = await client.post(f"{dep.url('ingest')}/v1/enterprises", json=enterprise(a))
        assert r.status_code in (200, 201), r.text

    # good credit facts, before and after the poison (one key: one partition, in this order)
    before = [
        credit_fact(a, "compliance.env_penalty", "2024-01", "2", "count"),
        credit_fact(a, "finance.total_debt", "2024-01", "1000", "10k CNY"),
    ]
    after = [
        credit_fact(a, "compliance.permit_violation", "2024-02", "1", "count"),
        credit_fact(a, "finance.total_equity", "2024-02", "4000", "10k CNY"),
    ]
    long_key = "r" * 300  # fact_key = "<department>/<record_id>": beyond rating's varchar(300)
    long_unit = "10k CNY (consolidated group)"  # beyond lending's varchar(20)
    schema_invalid = orjson.dumps({"credit_code": a, "indicator": "finance.total_debt", "value": "1"})
    poison: dict[str, tuple[bytes, Headers, tuple[str, ...]]] = {  # name: (value, headers, dead-lettered by)
        "undecodable bytes": (b"\x00\x01\x02garbage", [], ("rating",)),
        "undecodable bytes naming a finance indicator": (
            b'\xff{"indicator": "finance.total_debt", garbage',
            [],
            ("rating", "lending"),
        ),
        "schema-invalid finance fact": (  # the headers of a well-formed fact
            schema_invalid,
            credit_fact(a, "finance.total_debt", "2024-04", "1", "10k CNY")[1],
            ("lending",),
        ),
        "fact key longer than rating stores": (
            *credit_fact(a, "compliance.env_penalty", "2024-03", "5", "count", record_id=long_key),
            ("rating",),
        ),
        "unit longer than lending stores": (
            *credit_fact(a, "finance.total_debt", "2024-03", "1500", long_unit),
            ("lending",),
        ),
    }
    ns = dep.namespace
    topic = Topics.CREDIT_FACTS
    producer = AIOKafkaProducer(bootstrap_servers=shared_kafka, acks="all", enable_idempotence=True)
    await producer.start()
    try:
        for value, headers in [*before, *[(v, h) for v, h, _ in poison.values()], *after]:
            await producer.send_and_wait(ns + topic, value, key=a.encode(), headers=headers)
    finally:
        await producer.stop()

    good_conduct = {
        f"{DEPT}/{a}-compliance.env_penalty-2024-01": ("compliance.env_penalty", "2024-01", Decimal(2)),
        f"{DEPT}/{a}-compliance.permit_violation-2024-02": (
            "compliance.permit_violation",
            "2024-02",
            Decimal(1),
        ),
    }
    good_finance = {
        ("finance.total_debt", "2024-01"): (Decimal(1000), "10k CNY"),
        ("finance.total_equity", "2024-02"): (Decimal(4000), "10k CNY"),
    }

    async def good_ones_applied() -> bool:
        got_c, got_f = await conduct_facts(dep, a), await finance(dep, a)
        return all(k in got_c for k in good_conduct) and all(k in got_f for k in good_finance)

    await eventually(good_ones_applied, timeout=120, what="the good credit facts in rating and lending")
    await st.wait_quiet(dep)
    problems: list[str] = []  # collected, so one run reports every broken guarantee
    if (got_c := await conduct_facts(dep, a)) != good_conduct:
        problems.append(f"rating's facts are not exactly the good ones: got {got_c}, want {good_conduct}")
    if (got_f := await finance(dep, a)) != good_finance:
        problems.append(
            f"lending's finance facts are not exactly the good ones: got {got_f}, want {good_finance}"
        )

    dead = await inspect_records(shared_kafka, topic, ns)
    assert all(r.reason and r.header("dlq_source_topic") == topic for r in dead), dead
    got_dead = Counter((r.group, r.value) for r in dead)
    want_dead = Counter((g, v) for v, _h, groups in poison.values() for g in groups)
    if got_dead != want_dead:
        names = {v: n for n, (v, _h, _g) in poison.items()}
        missing = [(g, names[v]) for (g, v), n in (want_dead - got_dead).items() for _ in range(n)]
        extra = [
            (g, names.get(v or b"", v)) for (g, v), n in (got_dead - want_dead).items() for _ in range(n)
        ]
        problems.append(f"{topic}: dead letters differ: missing {missing}, unexpected {extra}")
    by_value = {r.value: r for r in dead}
    for value, headers, _groups in poison.values():  # the original bytes and headers, plus the reason
        if value in by_value:
            assert by_value[value].original_headers == headers, by_value[value]
    too_long = [r for r in dead if "value too long" in r.reason]
    assert sorted(r.group for r in too_long) == ["lending", "rating"], (
        problems,
        [(r.group, r.reason) for r in dead],
    )

    # the fix: the migrations that widen both columns; then redrive just those two records
    await migrate(dep, "rating", "ALTER TABLE conduct_facts ALTER COLUMN fact_key TYPE varchar(400)")
    await migrate(dep, "lending", "ALTER TABLE enterprise_finance ALTER COLUMN unit TYPE varchar(40)")
    only = {"reason_contains": "value too long"}
    fixed = {poison["fact key longer than rating stores"][0], poison["unit longer than lending stores"][0]}
    planned = await redrive_records(shared_kafka, topic, ns, dry_run=True, **only)
    assert {p.value for p in planned} == fixed and len(planned) == 2, planned
    redriven = await redrive_records(shared_kafka, topic, ns, **only)
    assert {p.value for p in redriven} == fixed and len(redriven) == 2, redriven
    assert await redrive_records(shared_kafka, topic, ns, **only) == []

    want_conduct = {**good_conduct, f"{DEPT}/{long_key}": ("compliance.env_penalty", "2024-03", Decimal(5))}
    want_finance = {**good_finance, ("finance.total_debt", "2024-03"): (Decimal(1500), long_unit)}

    async def fixed_ones_applied() -> bool:
        got_c, got_f = await conduct_facts(dep, a), await finance(dep, a)
        return got_c == want_conduct and got_f == want_finance

    await eventually(fixed_ones_applied, timeout=120, what="the redriven credit facts in rating and lending")
    await st.wait_quiet(dep)
    assert await conduct_facts(dep, a) == want_conduct
    assert await finance(dep, a) == want_finance
    again = await inspect_records(shared_kafka, topic, ns)
    assert [r.redriven for r in again].count(True) == 2
    # the redriven records were applied, not dead-lettered again (by either reader)
    assert len(again) == len(dead), [(r.group, r.reason) for r in again[len(dead) :]]
    assert not problems, "\n".join(problems)
