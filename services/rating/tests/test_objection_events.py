"""Objections are published (``ObjectionChanged`` on ``rating.ratings.v1``, keyed by the
enterprise) through the outbox, in the transaction that files or decides them — real PostgreSQL,
in-process bus."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from sqlalchemy import func, select

from carbon_common.events import ObjectionChanged, RatingIssued, Topics
from carbon_rating.adapters.orm import objections, outbox
from carbon_rating.service_layer.commands import DecideObjection, FileObjection
from carbon_rating.service_layer.handlers import decide_objection, file_objection


async def rated(harness, ev, i: int) -> str:  # type: ignore[no-untyped-def]
    await harness.publish(ev.enterprise(i), ev.account(i, "2024-06", "80000"))
    await harness.settle()
    return str(ev.code(i))


def changes(harness, code: str) -> list[ObjectionChanged]:  # type: ignore[no-untyped-def]
    return [e for e in harness.published() if isinstance(e, ObjectionChanged) and e.credit_code == code]


async def test_filing_and_each_decision_publish_the_objection_state(harness, ev, client) -> None:  # type: ignore[no-untyped-def]
    code = await rated(harness, ev, 31)
    rating_id = harness.issued()[-1].rating_id
    resp = await client.post(
        f"/v1/ratings/{code}/objections", json={"reason": "Steam sold twice counted"}, headers={"X-Org": code}
    )
    assert resp.status_code == 201, resp.text
    oid = resp.json()["objection_id"]
    await harness.settle()
    (filed,) = changes(harness, code)
    assert (filed.objection_id, filed.rating_id, filed.state, filed.open, filed.sequence) == (
        oid,
        rating_id,
        "open",
        True,
        1,
    )
    assert filed.changed_at == datetime.fromisoformat(resp.json()["filed_at"])
    records = [r for r in harness.bus.records(Topics.RATINGS) if r.key == code.encode()]
    assert dict(records[-1].headers)["ce_type"] == ObjectionChanged.ce_type.encode()

    step = await client.post(
        f"/v1/objections/{oid}/decision", json={"outcome": "in_review", "reason": "taken"}
    )
    assert step.status_code == 200, step.text
    resp = await client.post(
        f"/v1/objections/{oid}/decision",
        json={"outcome": "revised", "reason": "meter data confirms", "revised_score": "70"},
    )
    assert resp.status_code == 200, resp.text
    await harness.settle()
    _, review, revised = changes(harness, code)
    assert (review.state, review.open, review.sequence) == ("in_review", True, 2)
    assert (revised.state, revised.open, revised.sequence) == ("revised", False, 3)
    assert revised.new_rating_id == resp.json()["new_rating_id"] == harness.issued()[-1].rating_id
    assert revised.changed_at == datetime.fromisoformat(resp.json()["decided_at"])
    # the revision's RatingIssued comes first, then the objection closes (same key, same order)
    mine = [e for e in harness.published() if e.credit_code == code]  # type: ignore[attr-defined]
    assert isinstance(mine[-2], RatingIssued) and mine[-2].rating_id == revised.new_rating_id
    assert mine[-1] == revised

    # a refused decision (409) publishes nothing
    again = await client.post(
        f"/v1/objections/{oid}/decision", json={"outcome": "rejected", "reason": "late"}
    )
    assert again.status_code == 409
    await harness.settle()
    assert len(changes(harness, code)) == 3


@pytest.mark.parametrize("outcome", ["upheld", "rejected", "withdrawn"])
async def test_every_closing_outcome_publishes_a_closed_objection(harness, ev, client, outcome: str) -> None:  # type: ignore[no-untyped-def]
    code = await rated(harness, ev, 32)
    oid = (
        await client.post(f"/v1/ratings/{code}/objections", json={"reason": "x y z"}, headers={"X-Org": code})
    ).json()["objection_id"]
    resp = await client.post(f"/v1/objections/{oid}/decision", json={"outcome": outcome, "reason": "decided"})
    assert resp.status_code == 200, resp.text
    await harness.settle()
    assert [(c.state, c.open, c.sequence) for c in changes(harness, code)] == [
        ("open", True, 1),
        (outcome, False, 3),
    ]


async def test_the_event_is_written_in_the_objection_transaction(harness, ev) -> None:  # type: ignore[no-untyped-def]
    code = await rated(harness, ev, 33)
    container = harness.container

    async def outbox_and_objections() -> tuple[int, int]:
        async with container.uow() as uow:
            s = uow.session
            n_out = (await s.execute(select(func.count()).select_from(outbox))).scalar_one()
            n_obj = (await s.execute(select(func.count()).select_from(objections))).scalar_one()
        return int(n_out), int(n_obj)

    before = await outbox_and_objections()
    now = datetime(2024, 7, 10, 9, tzinfo=UTC)
    async with container.uow() as uow:  # not committed: neither the objection nor its event stay
        await file_objection(FileObjection(code, code, "wrong", now), uow, 20)
    assert await outbox_and_objections() == before
    async with container.uow() as uow:
        o = await file_objection(FileObjection(code, code, "wrong", now), uow, 20)
        await uow.commit()
    assert await outbox_and_objections() == (before[0] + 1, before[1] + 1)
    async with container.uow() as uow:  # a decision rolled back publishes nothing either
        await decide_objection(
            DecideObjection(o.objection_id, "upheld", "ok", "rev", now), uow, container.methodology
        )
    assert await outbox_and_objections() == (before[0] + 1, before[1] + 1)
