"""Methodology changes are recorded with who and when (issue 7), against a real PostgreSQL.

Start-up records the deployment's version; an admin activation over the API records the token's
subject and organisation, from → to version and both files' sha256; the trail is listable, newest
first, and the database refuses to update or delete it; restarts and other replicas follow the
version in force; the stage rules of v2 then show up in the ratings (stage from evidence)."""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime

import httpx
import pytest
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import create_async_engine

from carbon_common.auth import mint_dev_token
from carbon_common.bus.memory import InMemoryBus
from carbon_common.settings import AuthSettings
from carbon_rating.bootstrap import bootstrap
from carbon_rating.entrypoints.app import create_app
from carbon_rating.methodology import load
from carbon_rating.service_layer import methodology_admin as madmin

V1, V2 = load("v1"), load("v2")
STAFF = {"X-Org": "rating-staff"}


async def changes(client: httpx.AsyncClient, **headers: str) -> list[dict]:
    resp = await client.get("/v1/admin/methodology/changes", headers=headers or STAFF)
    assert resp.status_code == 200, resp.text
    return resp.json()["changes"]


async def test_start_up_records_the_deployments_version_once(harness, client, db_url) -> None:
    (first,) = await changes(client)
    assert first["source"] == "configuration" and first["actor"].startswith("deployment")
    assert (first["from_version"], first["to_version"], first["to_digest"]) == (None, "v1", V1.digest)
    assert len(V1.digest) == 64 and V1.digest != V2.digest
    # a restart under the same setting and file records nothing
    again = bootstrap(harness.container.settings, bus=InMemoryBus())
    await again.start()
    await again.stop()
    assert len(await changes(client)) == 1


async def test_admin_activation_is_recorded_with_who_and_when_and_rates_under_it(harness, ev, client) -> None:
    # an enterprise declared early whose plan is 80% delivered: v2's stage rules rate it as mid
    await harness.publish(
        ev.enterprise(70, stage="early"),
        ev.account(70, "2024-06", "80000"),
        ev.fact(70, "transition.milestones_planned", "2024-02", "5", unit="count"),
        ev.fact(70, "transition.milestones_met", "2024-05", "4", unit="count"),
    )
    await harness.settle()
    code = ev.code(70)
    before = (await client.get(f"/v1/ratings/{code}")).json()
    assert (before["methodology_version"], before["stage"], before["stage_source"]) == (
        "v1",
        "early",
        "directory",
    )

    t0 = datetime.now(UTC)
    resp = await client.put(
        "/v1/admin/methodology",
        json={"version": "v2", "reason": "stage from evidence", "rerate": True},
        headers=STAFF,
    )
    assert resp.status_code == 200, resp.text
    body = resp.json()
    change = body["change"]
    assert change["source"] == "admin_api" and change["actor_org"] == "rating-staff"
    assert (change["from_version"], change["from_digest"]) == ("v1", V1.digest)
    assert (change["to_version"], change["to_digest"]) == ("v2", V2.digest)
    assert change["reason"] == "stage from evidence"
    assert t0 <= datetime.fromisoformat(change["changed_at"]) <= datetime.now(UTC)
    assert body["rerate"]["methodology_version"] == "v2" and body["rerate"]["ratings_issued"] == 1
    assert harness.container.methodology.version == "v2"

    trail = await changes(client)
    assert [(c["source"], c["to_version"]) for c in trail] == [("admin_api", "v2"), ("configuration", "v1")]
    assert trail[0]["id"] > trail[1]["id"]

    after = (await client.get(f"/v1/ratings/{code}")).json()
    assert (after["methodology_version"], after["stage"], after["stage_source"]) == ("v2", "mid", "evidence")
    assert after["declared_stage"] == "early" and after["stage_evidence"] == {"milestones_met_share": "0.8"}
    assert after["reason"] == "methodology_change"

    # new inputs are rated under the version in force
    await harness.publish(ev.account(70, "2024-07", "79000"))
    await harness.settle()
    assert harness.issued()[-1].methodology_version == "v2"


async def test_activation_by_token_records_subject_and_org(harness, client) -> None:
    settings = harness.container.settings.model_copy(update={"auth": AuthSettings(enabled=True)})
    app = create_app(settings, container=harness.container)
    token = mint_dev_token("bureau-staff", "methodology:admin", subject="analyst-li")
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://rating") as c:
        auth = {"Authorization": f"Bearer {token}"}
        assert (
            await c.put("/v1/admin/methodology", json={"version": "v2", "reason": "r"})
        ).status_code == 401
        bank = {"Authorization": f"Bearer {mint_dev_token('bank-a', 'ratings:read')}"}
        assert (
            await c.put("/v1/admin/methodology", json={"version": "v2", "reason": "r"}, headers=bank)
        ).status_code == 403
        assert (await c.get("/v1/admin/methodology/changes", headers=bank)).status_code == 403
        resp = await c.put(
            "/v1/admin/methodology", json={"version": "v2", "reason": "annual review"}, headers=auth
        )
        assert resp.status_code == 200, resp.text
        assert (resp.json()["change"]["actor"], resp.json()["change"]["actor_org"]) == (
            "analyst-li",
            "bureau-staff",
        )
        auditor = {"Authorization": f"Bearer {mint_dev_token('regulator', 'audit:read')}"}
        listed = (await c.get("/v1/admin/methodology/changes", headers=auditor)).json()
    assert listed["in_force"] == "v2" and listed["changes"][0]["actor"] == "analyst-li"


@pytest.mark.parametrize(
    ("version", "status", "field"),
    [("v9", 422, "version"), ("../v1", 422, None), ("v1", 409, None)],
)
async def test_bad_activations_are_refused_and_not_recorded(client, version, status, field) -> None:
    resp = await client.put("/v1/admin/methodology", json={"version": version, "reason": "x"}, headers=STAFF)
    assert resp.status_code == status, resp.text
    assert resp.headers["content-type"].startswith("application/problem+json")
    if field is not None:
        assert resp.json()["errors"][0]["field"] == field
    assert len(await changes(client)) == 1  # only the start-up entry


@pytest.mark.parametrize(
    "sql",
    [
        "UPDATE methodology_changes SET actor = 'someone else'",
        "DELETE FROM methodology_changes",
        "TRUNCATE methodology_changes",
    ],
)
async def test_the_trail_is_append_only_in_the_database(harness, db_url, sql) -> None:
    engine = create_async_engine(db_url)
    try:
        with pytest.raises(DBAPIError, match="append-only"):
            async with engine.begin() as conn:
                await conn.execute(text(sql))
        async with engine.connect() as conn:
            assert (await conn.execute(text("SELECT count(*) FROM methodology_changes"))).scalar_one() == 1
    finally:
        await engine.dispose()


async def test_restarts_and_other_replicas_follow_the_version_in_force(harness, client) -> None:
    other = bootstrap(harness.container.settings, bus=InMemoryBus())  # a second replica
    await other.start()
    try:
        assert other.methodology.version == "v1"
        await harness.container.activate("v2", "analyst", "bureau-staff", "review")
        assert (await other.refresh_methodology()).version == "v2"
    finally:
        await other.stop()
    # a restart under the unchanged deployment setting keeps the activated version, recording nothing
    restarted = bootstrap(harness.container.settings, bus=InMemoryBus())
    await restarted.start()
    await restarted.stop()
    assert restarted.methodology.version == "v2"
    assert len(await changes(client)) == 2
    # the deployment changes its setting: it takes effect and is recorded
    settings = harness.container.settings.model_copy(update={"methodology_version": "v2"})
    moved = bootstrap(settings, bus=InMemoryBus())
    await moved.start()
    await moved.stop()
    trail = await changes(client)
    assert (trail[0]["source"], trail[0]["from_version"], trail[0]["to_version"]) == (
        "configuration",
        "v2",
        "v2",
    )


async def test_an_edited_file_under_the_same_version_is_recorded(harness, client) -> None:
    edited = dataclasses.replace(V1, digest="0" * 64)  # what a changed v1.yaml would load as
    async with harness.container.uow() as uow:
        _, change = await madmin.reconcile_at_start(uow, edited, load, datetime.now(UTC))
        await uow.commit()
    assert change is not None and change.reason and "changed" in change.reason
    assert (change.from_version, change.from_digest, change.to_version, change.to_digest) == (
        "v1",
        V1.digest,
        "v1",
        "0" * 64,
    )
    assert len(await changes(client)) == 2
