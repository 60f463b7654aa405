"""The fast quote path: in-memory read model (invalidated by the consumer and by the poll),
group-committed writes with exact idempotency, and the verified-token cache."""

from __future__ import annotations

import asyncio
import hashlib
import json
import time
from dataclasses import asdict, replace
from datetime import UTC, datetime
from decimal import Decimal

import pytest
from sqlalchemy import LargeBinary, column, func, select, table, update

from carbon_common.auth import Principal, mint_dev_token
from carbon_common.problems import ProblemError
from carbon_common.token_cache import CachingVerifier
from carbon_lending.adapters.orm import current_ratings, quotes
from carbon_lending.domain.pricing import Collateral, QuoteRequest
from carbon_lending.domain.ratchet import KpiTarget
from carbon_lending.service_layer.quotes import RequestQuote, request_hash

A = {"X-Org": "bank-fast-a"}


def body(code: str, **extra: object) -> dict[str, object]:
    return {"credit_code": code, "product": "green_loan", "amount_cny": "5000000", "term_months": 36} | extra


#: the outbox's records, one row each (the view the migrations create)
outbox = table("outbox_records", column("key", LargeBinary))


async def count(container, table, *where) -> int:  # type: ignore[no-untyped-def]
    async with container.uow() as uow:
        return int(
            (await uow.session.execute(select(func.count()).select_from(table).where(*where))).scalar_one()
        )


async def test_consumer_invalidates_the_cached_rating(app_env, up) -> None:  # type: ignore[no-untyped-def]
    container, _, client = app_env
    code = await up.rated("dark_green")
    first = (await client.post("/v1/quotes", json=body(code), headers=A)).json()
    assert first["rating"]["label"] == "dark_green"
    assert code in container.read_model._entries  # the quote path now answers from memory
    newer = up.rating(code, "red", issued_at=datetime(2025, 2, 8, tzinfo=UTC))
    await up.publish(newer)
    second = (await client.post("/v1/quotes", json=body(code), headers=A)).json()
    assert second["rating"]["rating_id"] == newer.rating_id
    assert second["rating"]["label"] == "red"
    assert second["approval"]["track"] == "manual_review"


async def test_poll_sees_a_rating_written_by_another_process(app_env, up) -> None:  # type: ignore[no-untyped-def]
    container, _, client = app_env
    await container.read_model.stop()  # no background poll: this test polls by hand
    code = await up.rated("light_green")
    await container.read_model.refresh_once()
    assert (await client.post("/v1/quotes", json=body(code), headers=A)).json()["rating"][
        "label"
    ] == "light_green"
    # another process's consumer commits a new current rating: this process's consumer never sees it
    async with container.uow() as uow:
        await uow.session.execute(
            update(current_ratings)
            .where(current_ratings.c.credit_code == code)
            .values(label="yellow", rating_id="other-process", updated_at=func.now())
        )
        await uow.commit()
    stale = (await client.post("/v1/quotes", json=body(code), headers=A)).json()
    assert stale["rating"]["label"] == "light_green"  # still cached until the poll
    assert await container.read_model.refresh_once() == 1
    fresh = (await client.post("/v1/quotes", json=body(code), headers=A)).json()
    assert (fresh["rating"]["rating_id"], fresh["rating"]["label"]) == ("other-process", "yellow")
    assert await container.read_model.refresh_once() == 0  # a change is acted on once


async def test_concurrent_retries_with_one_key_make_one_quote_and_one_event(app_env, up) -> None:  # type: ignore[no-untyped-def]
    container, _, client = app_env
    code = await up.rated("yellow")
    headers = A | {"Idempotency-Key": f"burst-{code}"}
    answers = await asyncio.gather(
        *(client.post("/v1/quotes", json=body(code), headers=headers) for _ in range(6))
    )
    assert sorted(r.status_code for r in answers) == [200, 200, 200, 200, 200, 201]
    assert len({r.json()["quote_id"] for r in answers}) == 1
    assert await count(container, quotes, quotes.c.credit_code == code) == 1
    assert await count(container, outbox, outbox.c.key == code.encode()) == 1


async def test_group_commit_stores_every_concurrent_quote_with_its_event(app_env, up) -> None:  # type: ignore[no-untyped-def]
    container, _, client = app_env
    codes = [await up.rated("light_green") for _ in range(3)]
    answers = await asyncio.gather(
        *(
            client.post("/v1/quotes", json=body(codes[i % 3], term_months=12 + i), headers=A)
            for i in range(24)
        )
    )
    assert [r.status_code for r in answers] == [201] * 24
    ids = {r.json()["quote_id"] for r in answers}
    assert len(ids) == 24
    assert await count(container, quotes, quotes.c.quote_id.in_(ids)) == 24
    assert await count(container, outbox, outbox.c.key.in_([c.encode() for c in codes])) == 24
    for r in answers:  # each answer is exactly what was stored
        assert (await client.get(f"/v1/quotes/{r.json()['quote_id']}", headers=A)).json() == r.json()


async def test_retry_is_replayed_even_when_the_request_can_no_longer_be_priced(app_env, up) -> None:  # type: ignore[no-untyped-def]
    _, _, client = app_env
    code = await up.rated("yellow", stage="mid")
    req = body(code, product="transition_loan", amount_cny="2000000", term_months=48)
    headers = A | {"Idempotency-Key": f"t-{code}"}
    first = await client.post("/v1/quotes", json=req, headers=headers)
    assert first.status_code == 201, first.text
    # the enterprise is re-rated as mature: a new transition-loan quote is refused …
    await up.publish(up.rating(code, "yellow", stage="mature", issued_at=datetime(2025, 2, 9, tzinfo=UTC)))
    assert (await client.post("/v1/quotes", json=req, headers=A)).status_code == 422
    # … but the bank's retry of the quote it already has answers that quote
    retry = await client.post("/v1/quotes", json=req, headers=headers)
    assert retry.status_code == 200 and retry.json() == first.json()


class FakeVerifier:
    def __init__(self) -> None:
        self.calls = 0

    def verify(self, token: str) -> Principal:
        self.calls += 1
        if token.endswith("forged"):
            raise ProblemError(401, "Invalid token", "bad signature", slug="invalid-token")
        return Principal("sub", "bank-a", frozenset({"quotes:write"}))


def test_verified_tokens_are_remembered_until_they_expire() -> None:
    inner = FakeVerifier()
    now = [time.time()]
    cache = CachingVerifier(inner, clock=lambda: now[0])
    token = mint_dev_token("bank-a", "quotes:write", ttl_seconds=60)
    assert cache.verify(token).org == "bank-a"
    assert cache.verify(token).org == "bank-a"
    assert inner.calls == 1
    now[0] += 61  # past exp: verified again (and the real verifier would refuse it)
    cache.verify(token)
    assert inner.calls == 2
    for _ in range(2):  # a refused token is never remembered
        with pytest.raises(ProblemError):
            cache.verify(token + "forged")
    assert inner.calls == 4


@pytest.mark.parametrize(
    "cmd",
    [
        RequestQuote(QuoteRequest("b", "c", "green_loan", Decimal("5000000"), 36), idempotency_key="k"),
        RequestQuote(
            QuoteRequest(
                "b",
                "c",
                "allowance_pledge_loan",
                Decimal("1.50"),
                12,
                Decimal("3.10"),
                Collateral(Decimal(1000), Decimal("88.5"), Decimal("0.1")),
            ),
            idempotency_key="k",
            purpose="光伏电站",
            activity_code="1.2.3",
            expected_annual_reduction_t=Decimal("12.5"),
            kpi_targets=(
                KpiTarget("total_tco2", Decimal(1000)),
                KpiTarget("intensity_per_output", Decimal("0.5")),
            ),
        ),
    ],
)
def test_request_hash_is_the_one_stored_quotes_were_hashed_with(cmd: RequestQuote) -> None:
    """Stored hashes must keep matching retries: the JSON is still ``asdict``'s."""
    body = asdict(cmd)
    body.pop("idempotency_key")
    if not body["kpi_targets"]:
        del body["kpi_targets"]
    before = hashlib.sha256(json.dumps(body, default=str, sort_keys=True).encode()).hexdigest()
    assert request_hash(cmd) == before
    assert request_hash(replace(cmd, idempotency_key="other")) == before
    assert request_hash(replace(cmd, request=replace(cmd.request, term_months=24))) != before


async def test_warm_up_that_raced_a_consumer_commit_is_not_installed(app_env, up, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    """The start-up load of the directory may read before the consumer's commit and finish after
    its invalidation: what it read must not be cached (it was seen stale, once, in the suite)."""
    from carbon_lending.adapters.repository import SqlLendingRepository

    container, _, _ = app_env
    cache = container.read_model
    await cache.stop()
    code = await up.rated("light_green")
    original = SqlLendingRepository.directory

    async def directory_then_commit(self, limit):  # type: ignore[no-untyped-def]
        read = await original(self, limit)
        cache.invalidate([code])  # the consumer committed a change to ``code`` meanwhile
        return read

    monkeypatch.setattr(SqlLendingRepository, "directory", directory_then_commit)
    cache._since = None  # a fresh start: the next poll is the warm-up
    await cache.refresh_once()
    assert code not in cache._entries  # loaded on demand instead, after the commit
    monkeypatch.setattr(SqlLendingRepository, "directory", original)
    cache._since = None
    await cache.refresh_once()
    assert code in cache._entries  # an undisturbed warm-up is installed
