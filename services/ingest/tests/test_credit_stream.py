"""The credit-facts stream (``ingest.credit-facts.v1``): every accepted fact of the catalogue's
credit families (compliance., ets., transition., finance.) is published there too — the same
``FactRecorded`` bytes, ce_id and headers, the same key — written in the same transaction as its
``ingest.facts.v1`` row; a fact of an account family is not. Against the real PostgreSQL (in-process
bus), then through the real outbox relay and Kafka broker."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from typing import Any

import pytest
from aiokafka import AIOKafkaConsumer
from stdnum.cn import uscc

from carbon_common.bus.kafka import ensure_topics
from carbon_common.events import FactRecorded, Topics
from carbon_common.settings import KafkaSettings, PostgresSettings
from carbon_common.testing import kafka_bootstrap
from carbon_ingest.bootstrap import bootstrap
from carbon_ingest.domain.enterprise import Enterprise
from carbon_ingest.domain.records import RawRecord
from carbon_ingest.service_layer import submissions
from carbon_ingest.service_layer.commands import RecordSubmission
from carbon_ingest.service_layer.submissions import Clock, record_submission
from carbon_ingest.settings import Settings

NOW = datetime(2024, 6, 15, 8, 30, tzinfo=UTC)  # as conftest pins it (test files cannot import it)


def credit_code(n: int) -> str:
    body = f"91140400MA{n:07d}"
    return body + uscc.calc_check_digit(body)


def revenue(code: str, rid: str, value: str) -> dict[str, Any]:
    return {"record_id": rid, "credit_code": code, "indicator": "finance.revenue", "period": "2024-03",
            "value": value, "unit": "10k CNY"}  # fmt: skip


def coal(code: str, rid: str) -> dict[str, Any]:
    return {"record_id": rid, "credit_code": code, "indicator": "energy.raw_coal", "period": "2024-03",
            "value": "100", "unit": "t"}  # fmt: skip


def penalty(code: str, rid: str) -> dict[str, Any]:
    return {"record_id": rid, "credit_code": code, "indicator": "compliance.env_penalty", "period": "2024-03",
            "value": "1", "unit": "count", "attributes": {"severity": "major"}}  # fmt: skip


def same_event(a: Any, b: Any) -> None:
    assert (a.key, a.value, tuple(a.headers)) == (b.key, b.value, tuple(b.headers))


async def test_credit_families_go_on_both_topics_account_families_only_on_facts(
    client: Any, code: Any, register: Any, wait_records: Any, bus: Any
) -> None:
    c = code(61)
    await register(c)
    r = await client.post(
        "/v1/submissions", json={"department": "tax-140400", "records": [revenue(c, "rv", "500")]}
    )
    assert r.status_code == 200 and r.json()["accepted"] == 1, r.text
    r = await client.post("/v1/submissions", json={"department": "stats-140400", "records": [coal(c, "co")]})
    assert r.status_code == 200 and r.json()["accepted"] == 1, r.text
    r = await client.post("/v1/submissions", json={"department": "eeb-140400", "records": [penalty(c, "pe")]})
    assert r.status_code == 200 and r.json()["accepted"] == 1, r.text

    facts = await wait_records(Topics.FACTS, 3)
    credit = await wait_records(Topics.CREDIT_FACTS, 2)
    assert len(facts) == 3 and len(credit) == 2  # nothing published twice on either
    by_indicator = {FactRecorded.model_validate_json(x.value).indicator: x for x in facts}
    assert set(by_indicator) == {"finance.revenue", "energy.raw_coal", "compliance.env_penalty"}
    same_event(credit[0], by_indicator["finance.revenue"])  # in commit order
    same_event(credit[1], by_indicator["compliance.env_penalty"])
    assert credit[0].key == c.encode()


async def test_a_correction_goes_on_both_topics(
    client: Any, code: Any, register: Any, wait_records: Any
) -> None:
    c = code(62)
    await register(c)
    for value in ("500", "520"):
        r = await client.post(
            "/v1/submissions", json={"department": "tax-140400", "records": [revenue(c, "rv", value)]}
        )
        assert r.status_code == 200 and r.json()["accepted"] == 1, r.text
    facts = await wait_records(Topics.FACTS, 2)
    credit = await wait_records(Topics.CREDIT_FACTS, 2)
    for f, k in zip(facts, credit, strict=True):
        same_event(f, k)
    second = FactRecorded.model_validate_json(credit[1].value)
    assert (second.revision, second.value, second.fact_key) == (2, 520, "tax-140400/rv")


async def test_a_rolled_back_submission_leaves_neither(
    client: Any, code: Any, register: Any, sql: Any, bus: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The copy is written by the chain append's statement, in the submission's transaction: a
    failure after it (before COMMIT) leaves no row on either topic, and nothing is published."""
    c = code(63)
    await register(c)

    class Broken:
        def set(self, _: float) -> None:  # the step right after the chain append
            raise RuntimeError("killed before commit")

    monkeypatch.setattr(submissions, "EVIDENCE_CHAIN_LENGTH", Broken())
    try:
        await client.post(
            "/v1/submissions", json={"department": "tax-140400", "records": [revenue(c, "rv", "1")]}
        )
    except RuntimeError:
        pass  # the ASGI transport re-raises the server error
    assert await sql.fetchval("SELECT count(*) FROM facts") == 0
    topics = [t for r in await sql.fetch("SELECT topic, copy_topic FROM outbox_batches") for t in r]
    assert Topics.FACTS not in topics and Topics.CREDIT_FACTS not in topics
    await asyncio.sleep(0.3)
    assert bus.records(Topics.FACTS) == [] and bus.records(Topics.CREDIT_FACTS) == []


async def test_the_copy_is_in_the_same_statement_as_its_fact(service: Any, code: Any, sql: Any) -> None:
    """The credit stream's copy is written with its fact's event, in fact order: the event's own row
    names the second topic (nothing is stored twice)."""
    container, _ = service
    c = code(64)
    async with container.uow() as uow:
        await uow.repo.save_enterprise(
            Enterprise(c, "长治市测试有限公司", "140400", "3120", "large", "mid", False, 1)
        )
        await uow.commit()
    records = [
        RawRecord(x["record_id"], x["credit_code"], x["indicator"], x["period"], x["value"], x["unit"], None)
        for x in (revenue(c, "a", "1"), revenue(c, "b", "2"))
    ]
    await record_submission(RecordSubmission("tax-140400", records), container.uow(), container.catalogue,
                            Clock(now=lambda: NOW))  # fmt: skip
    rows = await sql.fetch(
        'SELECT topic, records, copy_topic, copies, "values" FROM outbox_batches WHERE topic = $1',
        Topics.FACTS,
    )
    # one row for the transaction; the credit stream gets the flagged events from it
    assert [(r["topic"], r["records"], r["copy_topic"], r["copies"]) for r in rows] == [
        (Topics.FACTS, 2, Topics.CREDIT_FACTS, [True, True])
    ]
    assert [FactRecorded.model_validate_json(v).record_id for v in rows[0]["values"]] == ["a", "b"]


# --- through the real relay and Kafka ------------------------------------------------------------
@pytest.fixture
async def kafka_service(db_url: str) -> AsyncIterator[tuple[Any, str]]:
    ns = f"t{uuid.uuid4().hex[:8]}."
    settings = Settings(
        postgres=PostgresSettings(url=db_url),
        kafka=KafkaSettings(bootstrap_servers=kafka_bootstrap(), namespace=ns, poll_timeout_ms=100, topic_partitions=1),
    )  # fmt: skip
    await ensure_topics(settings.kafka, [ns + Topics.FACTS, ns + Topics.CREDIT_FACTS], partitions=1)
    container = bootstrap(settings, clock=Clock(now=lambda: NOW))
    await container.start()
    yield container, ns
    await container.stop()


async def consume(topic: str, n: int, timeout: float = 60) -> list[Any]:
    consumer = AIOKafkaConsumer(
        topic, bootstrap_servers=kafka_bootstrap(), auto_offset_reset="earliest", enable_auto_commit=False
    )
    await consumer.start()
    got: list[Any] = []
    try:
        deadline = asyncio.get_running_loop().time() + timeout
        while len(got) < n and asyncio.get_running_loop().time() < deadline:
            for batch in (await consumer.getmany(timeout_ms=500)).values():
                got.extend(batch)
        for batch in (await consumer.getmany(timeout_ms=1000)).values():  # nothing more may come
            got.extend(batch)
    finally:
        await consumer.stop()
    return got


@pytest.mark.integration
async def test_real_relay_publishes_the_credit_copy_to_kafka(kafka_service: Any) -> None:
    container, ns = kafka_service
    c = credit_code(65)
    async with container.uow() as uow:
        await uow.repo.save_enterprise(
            Enterprise(c, "长治市测试有限公司", "140400", "3120", "large", "mid", False, 1)
        )
        await uow.commit()
    for dept, rec in (("tax-140400", revenue(c, "rv", "500")), ("stats-140400", coal(c, "co")),
                      ("tax-140400", revenue(c, "rv", "510"))):  # fmt: skip
        raw = RawRecord(rec["record_id"], rec["credit_code"], rec["indicator"], rec["period"], rec["value"],
                        rec["unit"], None)  # fmt: skip
        await container.submissions.submit(RecordSubmission(dept, [raw]))
    facts = await consume(ns + Topics.FACTS, 3)
    credit = await consume(ns + Topics.CREDIT_FACTS, 2)
    assert len(facts) == 3 and len(credit) == 2
    revenue_events = [
        f for f in facts if FactRecorded.model_validate_json(f.value).indicator == "finance.revenue"
    ]
    for f, k in zip(revenue_events, credit, strict=True):
        assert (k.key, k.value, list(k.headers)) == (f.key, f.value, list(f.headers))
        assert k.key == c.encode()
    assert [FactRecorded.model_validate_json(k.value).revision for k in credit] == [1, 2]
