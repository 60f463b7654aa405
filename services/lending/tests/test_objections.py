"""Objections to ratings (rating's ``ObjectionChanged`` on ``rating.ratings.v1``) reach the quote's
approval track: manual review with the reason while one is open, the usual track once it is
decided — idempotent, order-safe, seen by other processes through the read-model poll, and a
newer event type on the topic is skipped rather than dead-lettered. Real PostgreSQL, in-process bus.
"""

from __future__ import annotations

import uuid
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from decimal import Decimal

from sqlalchemy import insert, select

from carbon_common.bus.port import Record, to_record
from carbon_common.events import Envelope, ObjectionChanged, Topics
from carbon_lending.adapters.orm import rating_objections
from carbon_lending.adapters.policy_store import load_policies
from carbon_lending.domain.approval import decide_track
from carbon_lending.domain.model import Rating

A = {"X-Org": "bank-objections"}
FILED = datetime(2025, 2, 3, 9, 0, tzinfo=UTC)
STATES = {1: ("open", True), 2: ("in_review", True), 3: ("upheld", False)}


def body(code: str) -> dict[str, object]:
    return {"credit_code": code, "product": "green_loan", "amount_cny": "5000000", "term_months": 36}


def change(
    code: str, oid: str, sequence: int, *, state: str | None = None, at: datetime | None = None
) -> ObjectionChanged:
    default_state, is_open = STATES[sequence]
    return ObjectionChanged(
        objection_id=oid,
        credit_code=code,
        rating_id="r-under-objection",
        state=state or default_state,
        open=is_open,
        sequence=sequence,
        changed_at=at or FILED + timedelta(days=sequence - 1),
    )


async def approval(client, code: str) -> dict:  # type: ignore[no-untyped-def]
    r = await client.post("/v1/quotes", json=body(code), headers=A)
    assert r.status_code == 201, r.text
    return dict(r.json()["approval"]) | {"open_objections": r.json()["rating"]["open_objections"]}


async def held(container, code: str) -> list[tuple[str, str, bool, int]]:  # type: ignore[no-untyped-def]
    t = rating_objections.c
    async with container.uow() as uow:
        rows = await uow.session.execute(
            select(t.objection_id, t.state, t.open, t.sequence)
            .where(t.credit_code == code)
            .order_by(t.objection_id)
        )
        return [tuple(r) for r in rows.all()]


def test_an_open_objection_sends_even_the_best_rating_to_manual_review() -> None:
    policy = load_policies().for_bank("any-bank")
    best = Rating(
        rating_id="r1",
        credit_code="91140400MA0GRPWX3R",
        score=Decimal("92"),
        label="dark_green",
        confidence=Decimal("0.95"),
        methodology_version="1.0.0",
        issued_at=FILED,
        as_of_period="2024-12",
        transition_stage="mid",
    )
    assert decide_track(best, policy).track == "fast_track"
    contested = decide_track(replace(best, open_objections=("o-1",)), policy)
    assert contested.track == "manual_review"
    assert contested.reasons == ("an objection to the rating is open (异议复核: o-1)",)
    two = decide_track(replace(best, open_objections=("o-1", "o-2")), policy)
    assert two.reasons == ("2 objections to the rating are open (异议复核: o-1, o-2)",)


async def test_open_objection_routes_to_manual_review_until_decided(app_env, up) -> None:  # type: ignore[no-untyped-def]
    container, _, client = app_env
    code = await up.rated("dark_green")
    assert (await approval(client, code))["track"] == "fast_track"  # now cached in memory
    oid = str(uuid.uuid4())

    await up.publish(change(code, oid, 1))
    opened = await approval(client, code)
    assert opened["track"] == "manual_review"
    assert f"异议复核: {oid}" in " ".join(opened["reasons"])
    assert opened["open_objections"] == [oid]

    await up.publish(change(code, oid, 2))  # in review: still awaiting a decision
    assert (await approval(client, code))["track"] == "manual_review"

    await up.publish(change(code, oid, 3, state="rejected"))
    decided = await approval(client, code)
    assert decided["track"] == "fast_track" and decided["open_objections"] == []
    assert await held(container, code) == [(oid, "rejected", False, 3)]


async def test_out_of_order_and_redelivered_changes_never_reopen(app_env, up) -> None:  # type: ignore[no-untyped-def]
    container, bus, client = app_env
    code = await up.rated("light_green")
    first, second = sorted(str(uuid.uuid4()) for _ in range(2))
    # the decision arrives before the filing (another batch), then the filing late
    await up.publish(change(code, first, 3))
    late_open = Envelope(data=change(code, first, 1), source="test")
    await bus.publish([to_record(late_open)])
    await bus.drain()
    assert await held(container, code) == [(first, "upheld", False, 3)]
    assert (await approval(client, code))["track"] == "standard"

    # in one batch: open, decided and a stale in-review of the second objection, in any order
    await up.publish(change(code, second, 3), change(code, second, 1), change(code, second, 2))
    assert await held(container, code) == [(first, "upheld", False, 3), (second, "upheld", False, 3)]
    # the very same envelope delivered again changes nothing (inbox)
    await bus.publish([to_record(late_open)])
    await bus.drain()
    assert (await approval(client, code))["track"] == "standard"

    # same sequence, later change wins; an earlier one does not
    third = str(uuid.uuid4())
    await up.publish(change(code, third, 1, at=FILED + timedelta(hours=2)))
    await up.publish(change(code, third, 1, state="superseded", at=FILED + timedelta(hours=1)))
    assert (third, "open", True, 1) in await held(container, code)
    assert (await approval(client, code))["open_objections"] == [third]


async def test_poll_sees_an_objection_committed_by_another_process(app_env, up) -> None:  # type: ignore[no-untyped-def]
    container, _, client = app_env
    await container.read_model.stop()  # no background poll: this test polls by hand
    code = await up.rated("yellow")
    await container.read_model.refresh_once()
    assert (await approval(client, code))["track"] == "standard"
    async with container.uow() as uow:  # another process's consumer: this process is not told
        row = {"objection_id": str(uuid.uuid4()), "credit_code": code, "rating_id": "r", "state": "open"}
        await uow.session.execute(
            insert(rating_objections).values(row | {"open": True, "sequence": 1, "changed_at": FILED})
        )
        await uow.commit()
    assert (await approval(client, code))["track"] == "standard"  # still the cached answer
    assert await container.read_model.refresh_once() >= 1
    assert (await approval(client, code))["track"] == "manual_review"


async def test_a_newer_bureau_event_type_is_skipped_a_foreign_one_dead_lettered(app_env, up) -> None:  # type: ignore[no-untyped-def]
    container, bus, client = app_env
    code = await up.rated("dark_green")
    template = to_record(Envelope(data=change(code, str(uuid.uuid4()), 1), source="test"))

    def retyped(ce_type: str) -> Record:
        headers = tuple((k, v) for k, v in template.headers if k not in ("ce_type", "ce_id"))
        headers += (("ce_type", ce_type.encode()), ("ce_id", str(uuid.uuid4()).encode()))
        return Record(Topics.RATINGS, template.key, template.value, headers)

    newer = retyped("cn.carbonbureau.rating.objection.escalated.v1")
    foreign = retyped("org.example.bogus.v9")
    later = up.rating(code, "red", issued_at=datetime(2025, 2, 9, tzinfo=UTC))
    await bus.publish([newer, foreign, to_record(Envelope(data=later, source="test"))])
    await bus.drain()
    dead = [r for r in bus.records(Topics.dlq(Topics.RATINGS)) if r.key == code.encode()]
    assert [(dict(r.headers)["ce_type"], r.value) for r in dead] == [(b"org.example.bogus.v9", foreign.value)]
    # the partition moved on: the rating after both was applied, the unknown objection was not
    assert (await approval(client, code))["track"] == "manual_review"  # red label
    assert await held(container, code) == []


async def test_a_change_without_time_zone_is_dead_lettered(app_env, up) -> None:  # type: ignore[no-untyped-def]
    container, bus, _ = app_env
    code = await up.rated("yellow")
    rec = to_record(Envelope(data=change(code, "naive", 1), source="test"))
    naive = rec.value.replace(b"+00:00", b"").replace(b"Z", b"")  # type: ignore[union-attr]
    await bus.publish([Record(rec.topic, rec.key, naive, rec.headers)])
    await bus.drain()
    dead = bus.records(Topics.dlq(Topics.RATINGS))
    assert any(r.value == naive and b"no time zone" in dict(r.headers)["dlq_reason"] for r in dead)
    assert await held(container, code) == []
