"""Kafka submission authentication (issue 7): a signed token in the record headers whose org is the
record's department. Unit tests for every refusal, then the consumer on the in-process bus and on
the real Kafka broker: refused records land in the dead-letter topic with the reason and the
original bytes, and are not applied."""

from __future__ import annotations

import asyncio
import json
import time
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from typing import Any

import jwt
import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from stdnum.cn import uscc

from carbon_common import auth as auth_module
from carbon_common.auth import (
    RecordTokenVerifier,
    TokenVerifier,
    mint_dev_token,
    record_token_header,
)
from carbon_common.bus.kafka import ensure_topics
from carbon_common.bus.port import Record
from carbon_common.events import FactRecorded, Topics
from carbon_common.settings import AuthSettings, Environment, KafkaSettings, PostgresSettings
from carbon_common.testing import kafka_bootstrap
from carbon_ingest.adapters.consumers import SubmissionAuth
from carbon_ingest.bootstrap import bootstrap
from carbon_ingest.domain.enterprise import Enterprise
from carbon_ingest.service_layer.submissions import Clock
from carbon_ingest.settings import Settings

DEPT = "grid-140400"
DLQ = Topics.dlq(Topics.DEPT_SUBMISSIONS)
NOW = datetime(2024, 6, 15, 8, 30, tzinfo=UTC)  # as conftest pins it (test files cannot import it)


def credit_code(n: int) -> str:
    body = f"91140400MA{n:07d}"
    return body + uscc.calc_check_digit(body)


def make_settings(db_url: str, **overrides: Any) -> Settings:
    return Settings(postgres=PostgresSettings(url=db_url), **overrides)


def verifier() -> RecordTokenVerifier:
    return RecordTokenVerifier(TokenVerifier(AuthSettings(), Environment.DEVELOPMENT))


def signed(token: str, value: bytes = b"{}") -> Record:
    return Record(Topics.DEPT_SUBMISSIONS, None, value, (("source", b"t"), record_token_header(token)))


def forged(org: str) -> str:
    """Right claims, signed with a key that is not the configured one."""
    other = Ed25519PrivateKey.generate().private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    now = int(time.time())
    claims = {"sub": org, "org": org, "scope": "submissions:write", "iss": "carbon-bureau-dev",
              "aud": "carbon-bureau", "iat": now, "exp": now + 600}  # fmt: skip
    return jwt.encode(claims, other, algorithm="EdDSA")


# --- the rule, one refusal at a time --------------------------------------------------------------
def test_valid_token_for_own_department_is_accepted() -> None:
    a = SubmissionAuth(verifier(), required=True)
    assert a.refusal(signed(mint_dev_token(DEPT, "submissions:write")), DEPT) is None
    code = credit_code(7)  # an enterprise declares for itself as self-<credit code>
    assert a.refusal(signed(mint_dev_token(code, "submissions:write")), f"self-{code}") is None


@pytest.mark.parametrize(
    ("record", "reason"),
    [
        (Record(Topics.DEPT_SUBMISSIONS, None, b"{}", (("source", b"t"),)), "unauthenticated: no bearer token"),
        (signed(forged(DEPT)), "unauthenticated: invalid token: Signature verification failed"),
        (signed(mint_dev_token(DEPT, "submissions:write", ttl_seconds=-60)), "unauthenticated: invalid token: Signature has expired"),
        (signed(mint_dev_token("grid-140200", "submissions:write")), "forbidden: the token's org 'grid-140200' may not submit for department 'grid-140400'"),
        (signed(mint_dev_token(DEPT, "ratings:read")), "forbidden: the token lacks the `submissions:write` scope"),
        (Record(Topics.DEPT_SUBMISSIONS, None, b"{}", (("authorization", b"Basic Zm9vOmJhcg=="),)), "unauthenticated: the `authorization` header must be `Bearer <token>`"),
        (signed("not-a-jwt"), "unauthenticated: invalid token:"),
    ],
    ids=["missing", "bad-signature", "expired", "wrong-org", "missing-scope", "not-bearer", "garbage"],
)  # fmt: skip
def test_refusals_name_the_reason(record: Record, reason: str) -> None:
    refusal = SubmissionAuth(verifier(), required=True).refusal(record, DEPT)
    assert refusal is not None and refusal.startswith(reason), refusal


def test_optional_mode_accepts_unsigned_but_still_checks_tokens() -> None:
    a = SubmissionAuth(verifier(), required=False)
    assert a.refusal(Record(Topics.DEPT_SUBMISSIONS, None, b"{}", ()), DEPT) is None
    refusal = a.refusal(signed(mint_dev_token("grid-140200", "submissions:write")), DEPT)
    assert refusal is not None and refusal.startswith("forbidden")


def test_a_cached_token_is_refused_after_its_expiry(monkeypatch: pytest.MonkeyPatch) -> None:
    tokens = verifier()
    a = SubmissionAuth(tokens, required=True)
    record = signed(mint_dev_token(DEPT, "submissions:write", ttl_seconds=300))
    assert a.refusal(record, DEPT) is None  # verified, then cached
    assert a.refusal(record, DEPT) is None  # from the cache
    later = time.time() + 301
    monkeypatch.setattr(auth_module.time, "time", lambda: later)
    refusal = a.refusal(record, DEPT)
    assert refusal is not None and "expired" in refusal


def test_settings_require_tokens_outside_development(db_url: str) -> None:
    assert not make_settings(db_url).kafka_token_required  # development default: optional
    assert make_settings(db_url, kafka_submission_token="required").kafka_token_required
    production = {
        "environment": "production",
        "postgres": PostgresSettings(url="postgresql+asyncpg://ingest:s3cret-Xy@db:5432/ingest"),
        "auth": AuthSettings(enabled=True, dev_key=False),
    }
    assert Settings(**production).kafka_token_required  # production default: required
    with pytest.raises(ValueError, match="kafka_submission_token=optional"):
        Settings(**production, kafka_submission_token="optional")


# --- the consumer on the in-process bus -----------------------------------------------------------
def body(code: str, rid: str, dept: str = DEPT) -> bytes:
    return json.dumps({"department": dept, "record_id": rid, "credit_code": code, "indicator": "electricity.purchased",
                       "period": "2024-03", "value": "8200", "unit": "MWh"}).encode()  # fmt: skip


def kafka_record(value: bytes, token: str | None, key: str) -> Record:
    headers = (("source", b"t"),) + ((record_token_header(token),) if token else ())
    return Record(Topics.DEPT_SUBMISSIONS, key.encode(), value, headers)


@pytest.fixture
def settings_overrides() -> dict[str, Any]:
    return {"kafka_submission_token": "required"}


async def test_consumer_applies_signed_records_and_dead_letters_the_rest(
    bus: Any, register: Any, wait_records: Any, sql: Any
) -> None:
    c = credit_code(11)
    await register(c)
    good = mint_dev_token(DEPT, "submissions:write")
    values = {
        "ok": body(c, "ok"),
        "unsigned": body(c, "unsigned"),
        "wrong-org": body(c, "wrong-org"),
        "no-scope": body(c, "no-scope"),
    }
    tokens = {
        "ok": good,
        "unsigned": None,
        "wrong-org": mint_dev_token("grid-140200", "submissions:write"),
        "no-scope": mint_dev_token(DEPT, "audit:read"),
    }
    await bus.publish([kafka_record(values[k], tokens[k], c) for k in values])
    await bus.drain()
    (fact,) = await wait_records(Topics.FACTS, 1)
    assert FactRecorded.model_validate_json(fact.value).record_id == "ok"
    dead = await wait_records(DLQ, 3)
    assert len(dead) == 3
    by_value = {d.value: dict(d.headers) for d in dead}
    assert set(by_value) == {values["unsigned"], values["wrong-org"], values["no-scope"]}  # original bytes
    assert by_value[values["unsigned"]]["dlq_reason"].startswith(b"unauthenticated: no bearer token")
    assert by_value[values["wrong-org"]]["dlq_reason"].startswith(b"forbidden: the token's org 'grid-140200'")
    assert by_value[values["no-scope"]]["dlq_reason"].startswith(b"forbidden: the token lacks")
    assert all("authorization" not in h for h in by_value.values())  # no credentials at rest
    assert await sql.fetchval("SELECT count(*) FROM facts") == 1


# --- the consumer on the real Kafka broker --------------------------------------------------------
@pytest.fixture
async def kafka_service(db_url: str) -> AsyncIterator[tuple[Any, str]]:
    ns = f"t{uuid.uuid4().hex[:8]}."
    settings = make_settings(
        db_url,
        kafka=KafkaSettings(bootstrap_servers=kafka_bootstrap(), namespace=ns, poll_timeout_ms=100, topic_partitions=1),
        kafka_submission_token="required",
    )  # fmt: skip
    # the topic ingest publishes to (the stack creates it; auto-creation is off): its facts and
    # the dead letters of one batch leave in one relay round, which needs every topic present
    await ensure_topics(settings.kafka, [ns + Topics.FACTS], partitions=1)
    container = bootstrap(settings, clock=Clock(now=lambda: NOW))
    await container.start()
    yield container, ns
    await container.stop()


async def dead_letters(ns: str, n: int, timeout: float = 60) -> list[Any]:
    consumer = AIOKafkaConsumer(
        ns + DLQ, bootstrap_servers=kafka_bootstrap(), auto_offset_reset="earliest", enable_auto_commit=False
    )
    await consumer.start()
    got: list[Any] = []
    try:
        deadline = asyncio.get_running_loop().time() + timeout
        while len(got) < n and asyncio.get_running_loop().time() < deadline:
            for batch in (await consumer.getmany(timeout_ms=500)).values():
                got.extend(batch)
    finally:
        await consumer.stop()
    return got


@pytest.mark.integration
async def test_real_broker_dead_letters_a_mismatched_department(kafka_service: Any, sql: Any) -> None:
    container, ns = kafka_service
    c = credit_code(12)
    async with container.uow() as uow:  # register directly: this test is about the topic
        await uow.repo.save_enterprise(
            Enterprise(c, "长治市测试有限公司", "140400", "3120", "large", "mid", False, 1)
        )
        await uow.commit()
    producer = AIOKafkaProducer(bootstrap_servers=kafka_bootstrap(), acks="all", enable_idempotence=True)
    await producer.start()
    mismatched = body(c, "theirs")
    try:
        topic = ns + Topics.DEPT_SUBMISSIONS
        token = mint_dev_token("grid-140200", "submissions:write")  # another city's grid company
        await producer.send_and_wait(topic, mismatched, key=c.encode(), headers=[record_token_header(token)])
        good = mint_dev_token(DEPT, "submissions:write")
        await producer.send_and_wait(
            topic, body(c, "mine"), key=c.encode(), headers=[record_token_header(good)]
        )
    finally:
        await producer.stop()
    (dead,) = await dead_letters(ns, 1)
    headers = dict(dead.headers)
    assert dead.value == mismatched
    assert (
        headers["dlq_reason"].decode().startswith("forbidden: the token's org 'grid-140200' may not submit")
    )
    assert "authorization" not in headers
    for _ in range(300):  # the good record, behind the refused one on the same partition
        if await sql.fetchval("SELECT count(*) FROM facts"):
            break
        await asyncio.sleep(0.2)
    assert [r["record_id"] for r in await sql.fetch("SELECT record_id FROM facts")] == ["mine"]
