"""Factor-set changes are recorded with who and when (issue 7), against a real PostgreSQL.

Start-up seeding records the deployment; publishing and activating over the API record the token's
subject and organisation, the time, the set an activation replaced and the sha256 of the set's
content, in the same transaction as the change (a refused or failed change records nothing); the
trail is listable newest first in bounded pages, for `factors:admin` and `audit:read` only, and
the database refuses to update, delete or truncate it.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest
from alembic import command
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import create_async_engine

import carbon_accounting
from carbon_accounting.adapters.factor_files import load_packaged
from carbon_accounting.bootstrap import Container, bootstrap
from carbon_accounting.entrypoints.app import create_app
from carbon_accounting.service_layer import factor_audit, handlers
from carbon_accounting.settings import Settings
from carbon_common.auth import mint_dev_token
from carbon_common.bus.memory import InMemoryBus
from carbon_common.migrations import alembic_config, upgrade_head
from carbon_common.settings import AuthSettings, PostgresSettings
from carbon_common.testing import drop_database, fresh_database

MIGRATIONS = Path(carbon_accounting.__file__).resolve().parent / "migrations"
SEED = load_packaged("cn-default@1")
CHANGES = "/v1/factor-sets/changes"


def bearer(org: str, scopes: str, subject: str | None = None) -> dict[str, str]:
    return {"Authorization": f"Bearer {mint_dev_token(org, scopes, subject=subject)}"}


STAFF = bearer("bureau-staff", "factors:admin", subject="analyst-wang")
AUDITOR = bearer("regulator", "audit:read", subject="inspector-zhao")
BANK = bearer("bank-a", "ratings:read quotes:write loans:write portfolio:read")


def settings(url: str, *, auth: bool = True) -> Settings:
    return Settings(
        postgres=PostgresSettings(url=url, pool_size=4, max_overflow=4),  # type: ignore[arg-type]
        auth=AuthSettings(enabled=auth),
    )


def canonical_sha256(content: Any) -> str:
    """Recomputed here from the stored JSON, independently of FactorSet.digest."""
    raw = json.dumps(content, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(raw.encode("utf-8")).hexdigest()


@pytest.fixture
async def audited(isolated_db_url: str) -> AsyncIterator[tuple[Container, httpx.AsyncClient]]:
    """A started service with bearer-token auth on, and a client for its app."""
    container = bootstrap(settings(isolated_db_url), bus=InMemoryBus())
    await container.start()
    app = create_app(container.settings, container=container)
    try:
        async with httpx.AsyncClient(
            transport=httpx.ASGITransport(app=app), base_url="http://accounting"
        ) as client:
            yield container, client
    finally:
        await container.stop()


async def trail(
    client: httpx.AsyncClient, headers: dict[str, str] = AUDITOR, **params: Any
) -> dict[str, Any]:
    resp = await client.get(CHANGES, headers=headers, params=params)
    assert resp.status_code == 200, resp.text
    body: dict[str, Any] = resp.json()
    return body


async def stored_content(url: str, set_id: str, version: str) -> Any:
    engine = create_async_engine(url)
    try:
        async with engine.connect() as conn:
            return (
                await conn.execute(
                    text("SELECT content FROM factor_sets WHERE id = :i AND version = :v"),
                    {"i": set_id, "v": version},
                )
            ).scalar_one()
    finally:
        await engine.dispose()


async def count_rows(url: str) -> int:
    engine = create_async_engine(url)
    try:
        async with engine.connect() as conn:
            return int((await conn.execute(text("SELECT count(*) FROM factor_set_changes"))).scalar_one())
    finally:
        await engine.dispose()


def version2(factors: list[dict[str, Any]], version: str = "2") -> dict[str, Any]:
    """cn-default@<version>: the packaged set with raw coal at 2.0000 tCO2/t."""
    return {
        "id": "cn-default",
        "version": version,
        "title": "coal update",
        "reason": "2025 coal review",
        "factors": [{**f, "value": "2.0000"} if f["code"] == "fuel.raw_coal" else f for f in factors],
    }


async def test_first_start_records_seeding_and_activation_by_the_deployment_once(
    audited: tuple[Container, httpx.AsyncClient], isolated_db_url: str
) -> None:
    container, client = audited
    body = await trail(client)
    assert body["active"] == "cn-default@1" and body["next_before"] is None
    activated, seeded = body["changes"]  # newest first
    assert (seeded["action"], activated["action"]) == ("seeded", "activated")
    for entry in (seeded, activated):
        assert entry["actor"] == factor_audit.DEPLOYMENT and entry["actor_org"] is None
        assert entry["factor_set"] == "cn-default@1"
        assert entry["digest"] == SEED.digest
    assert activated["previous_factor_set"] is None and activated["reason"]
    assert activated["id"] > seeded["id"]
    # the digest is the sha256 of what is stored, recomputable from the row itself
    assert SEED.digest == canonical_sha256(await stored_content(isolated_db_url, "cn-default", "1"))
    # a restart that changes nothing records nothing
    again = bootstrap(container.settings, bus=InMemoryBus())
    await again.start()
    await again.stop()
    assert await count_rows(isolated_db_url) == 2


async def test_publish_and_activate_record_who_when_previous_and_digest(
    audited: tuple[Container, httpx.AsyncClient], isolated_db_url: str
) -> None:
    _, client = audited
    factors = (await client.get("/v1/factors", headers=STAFF)).json()["factors"]
    t0 = datetime.now(UTC)
    published = await client.post("/v1/factor-sets", json=version2(factors), headers=STAFF)
    assert published.status_code == 201, published.text
    activated = await client.post(
        "/v1/factor-sets/cn-default/activate", json={"version": "2", "reason": "annual update"}, headers=STAFF
    )
    assert activated.status_code == 200, activated.text
    t1 = datetime.now(UTC)

    body = await trail(client)
    assert body["active"] == "cn-default@2"
    act, pub = body["changes"][:2]
    assert [c["action"] for c in body["changes"]] == ["activated", "published", "activated", "seeded"]
    for entry in (act, pub):
        assert (entry["actor"], entry["actor_org"]) == ("analyst-wang", "bureau-staff")
        assert entry["factor_set"] == "cn-default@2"
        assert t0 <= datetime.fromisoformat(entry["changed_at"]) <= t1
    assert pub["reason"] == "2025 coal review" and pub["previous_factor_set"] is None
    assert act["reason"] == "annual update" and act["previous_factor_set"] == "cn-default@1"
    assert act["id"] > pub["id"]
    # the digest is that of the stored content (the reason is not part of the set)
    content = await stored_content(isolated_db_url, "cn-default", "2")
    assert "reason" not in content
    assert pub["digest"] == act["digest"] == canonical_sha256(content) != SEED.digest

    # switching back records the set it replaced; the latest activation names the active set
    back = await client.post("/v1/factor-sets/cn-default/activate", json={"version": "1"}, headers=STAFF)
    assert back.status_code == 200
    latest = (await trail(client, STAFF))["changes"][0]
    assert (latest["action"], latest["factor_set"], latest["previous_factor_set"]) == (
        "activated",
        "cn-default@1",
        "cn-default@2",
    )
    assert latest["digest"] == SEED.digest and latest["reason"] is None


async def test_refused_and_failed_changes_record_nothing(
    audited: tuple[Container, httpx.AsyncClient], isolated_db_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    _, client = audited
    factors = (await client.get("/v1/factors", headers=STAFF)).json()["factors"]
    assert (await client.post("/v1/factor-sets", json=version2(factors), headers=STAFF)).status_code == 201
    before = await count_rows(isolated_db_url)

    refused = [
        await client.post("/v1/factor-sets", json=version2(factors), headers=STAFF),  # exists: 409
        await client.post("/v1/factor-sets", json={**version2(factors, "3"), "factors": []}, headers=STAFF),
        await client.post("/v1/factor-sets", json=version2(factors, "4"), headers=BANK),  # no scope
        await client.post("/v1/factor-sets", json=version2(factors, "5")),  # no token
        await client.post("/v1/factor-sets/cn-default/activate", json={"version": "9"}, headers=STAFF),
        await client.post("/v1/factor-sets/nope/activate", json={"version": "1"}, headers=STAFF),
        await client.post("/v1/factor-sets/cn-default/activate", json={"version": "2"}, headers=BANK),
        await client.post("/v1/factor-sets/cn-default/activate", json={"version": "2"}),
    ]
    assert [r.status_code for r in refused] == [409, 422, 403, 401, 404, 404, 403, 401]
    assert await count_rows(isolated_db_url) == before

    # an activation that fails after its entry was written (during the restatement) rolls back
    # with it: no entry, the previous set still active
    async def broken_recompute(*args: Any, **kwargs: Any) -> handlers.Outcome:
        raise RuntimeError("restatement failed")

    monkeypatch.setattr(handlers, "recompute", broken_recompute)
    await _account_month(audited[0])
    app = create_app(audited[0].settings, container=audited[0])
    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport, base_url="http://accounting") as failing:
        r = await failing.post("/v1/factor-sets/cn-default/activate", json={"version": "2"}, headers=STAFF)
    assert r.status_code == 500 and "restatement failed" not in r.text
    assert await count_rows(isolated_db_url) == before
    assert (await trail(client))["active"] == "cn-default@1"


async def _account_month(container: Container) -> None:
    """One stored enterprise-month, so an activation has something to restate."""
    async with container.uow() as uow:
        await uow.repo.session.execute(
            text(
                "INSERT INTO facts (fact_key, fact_id, revision, credit_code, department, record_id,"
                " indicator, period, value, unit, evidence_hash, authoritative)"
                " VALUES ('d/r1', 'f1', 1, '91140400MA0000001X', 'd', 'r1', 'energy.raw_coal',"
                " '2024-01', 100, 't', 'sha256:x', true)"
            )
        )
        await uow.commit()


async def test_the_list_needs_factors_admin_or_audit_read_and_is_paged(
    audited: tuple[Container, httpx.AsyncClient],
) -> None:
    _, client = audited
    assert (await client.get(CHANGES)).status_code == 401
    assert (await client.get(CHANGES, headers=BANK)).status_code == 403
    assert (await client.get(CHANGES, headers=bearer("140400-stats", "submissions:write"))).status_code == 403
    assert (await client.get(CHANGES, headers=bearer("91140400MA0000001X", "self:read"))).status_code == 403
    assert (await client.get(CHANGES, headers=bearer("staff", "methodology:admin"))).status_code == 403
    full = await trail(client, STAFF)
    assert full == await trail(client, AUDITOR)
    for _ in range(2):  # re-activating the active set is recorded too: 2 more entries
        r = await client.post("/v1/factor-sets/cn-default/activate", json={"version": "1"}, headers=STAFF)
        assert r.status_code == 200
    everything = (await trail(client, limit=200))["changes"]
    ids = [c["id"] for c in everything]
    assert len(ids) == 4 and ids == sorted(ids, reverse=True)
    first = await trail(client, limit=3)
    assert [c["id"] for c in first["changes"]] == ids[:3] and first["next_before"] == ids[2]
    second = await trail(client, limit=3, before=first["next_before"])
    assert [c["id"] for c in second["changes"]] == ids[3:] and second["next_before"] is None
    for bad in ({"limit": 0}, {"limit": 201}, {"before": 0}, {"before": 2**63}, {"limit": "x"}):
        resp = await client.get(CHANGES, headers=AUDITOR, params=bad)
        assert resp.status_code == 422, bad
        assert resp.headers["content-type"].startswith("application/problem+json")


@pytest.mark.parametrize(
    "sql",
    [
        "UPDATE factor_set_changes SET actor = 'someone else'",
        "DELETE FROM factor_set_changes",
        "TRUNCATE factor_set_changes",
    ],
)
async def test_the_trail_is_append_only_in_the_database(
    audited: tuple[Container, httpx.AsyncClient], isolated_db_url: str, sql: str
) -> None:
    engine = create_async_engine(isolated_db_url)
    try:
        with pytest.raises(DBAPIError, match="append-only"):
            async with engine.begin() as conn:
                await conn.execute(text(sql))
    finally:
        await engine.dispose()
    assert await count_rows(isolated_db_url) == 2
    assert (await trail(audited[1]))["changes"][0]["actor"] == factor_audit.DEPLOYMENT


@pytest.mark.parametrize("stored_inactive", [False, True], ids=["empty-library", "seed-stored-none-active"])
async def test_two_replicas_starting_together_record_each_start_up_change_once(
    isolated_db_url: str, stored_inactive: bool
) -> None:
    # the isolated database is migrated but never started: both replicas find nothing active
    if stored_inactive:  # the seed already stored (e.g. by an earlier run), nothing active
        engine = create_async_engine(isolated_db_url)
        try:
            async with engine.begin() as conn:
                await conn.execute(
                    text(
                        "INSERT INTO factor_sets (id, version, title, content) VALUES (:i, :v, '', CAST(:c AS jsonb))"
                    ),
                    {"i": SEED.id, "v": SEED.version, "c": json.dumps(SEED.to_dict())},
                )
        finally:
            await engine.dispose()
    replicas = [bootstrap(settings(isolated_db_url, auth=False), bus=InMemoryBus()) for _ in range(3)]
    try:
        await asyncio.gather(*(r.start() for r in replicas))
        async with replicas[0].uow() as uow:
            rows = await uow.repo.factor_set_changes(10)
        expected = ["activated"] if stored_inactive else ["activated", "seeded"]
        assert sorted(r.action for r in rows) == expected
        assert await uow_active(replicas[1]) == ("cn-default", "1")
    finally:
        for r in replicas:
            await r.stop()


async def uow_active(container: Container) -> tuple[str, str] | None:
    async with container.uow() as uow:
        ref: tuple[str, str] | None = await uow.repo.active_factor_set_ref()
    return ref


async def test_development_caller_without_auth_is_recorded_by_its_org(isolated_db_url: str) -> None:
    container = bootstrap(settings(isolated_db_url, auth=False), bus=InMemoryBus())
    await container.start()
    try:
        app = create_app(container.settings, container=container)
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://a") as client:
            r = await client.post(
                "/v1/factor-sets/cn-default/activate", json={"version": "1"}, headers={"X-Org": "ops-desk"}
            )
            assert r.status_code == 200
            latest = (await client.get(CHANGES)).json()["changes"][0]
    finally:
        await container.stop()
    # re-activating the active set is recorded too (it restates nothing)
    assert (latest["actor"], latest["actor_org"], latest["previous_factor_set"]) == (
        "ops-desk",
        "ops-desk",
        "cn-default@1",
    )


async def test_migration_records_sets_stored_before_the_trail() -> None:
    url = await fresh_database("acct_mig")
    try:
        await asyncio.to_thread(command.upgrade, alembic_config(MIGRATIONS, url), "0002")  # type: ignore[arg-type]
        engine = create_async_engine(url)
        try:
            async with engine.begin() as conn:
                await conn.execute(
                    text(
                        "INSERT INTO factor_sets (id, version, title, content, active, created_at, activated_at)"
                        " VALUES ('cn-default', '1', 't', CAST(:c AS jsonb), true,"
                        " '2025-01-01T00:00:00Z', '2025-01-02T00:00:00Z')"
                    ),
                    {"c": json.dumps(SEED.to_dict())},
                )
            await upgrade_head(MIGRATIONS, url)
            async with engine.connect() as conn:
                rows = (
                    await conn.execute(
                        text("SELECT action, actor, digest, changed_at FROM factor_set_changes ORDER BY id")
                    )
                ).all()
        finally:
            await engine.dispose()
        assert [r.action for r in rows] == ["published", "activated"]
        assert all("who is not known" in r.actor and r.digest == SEED.digest for r in rows)
        assert [r.changed_at.day for r in rows] == [1, 2]
        # a start on the upgraded database changes nothing, so records nothing
        container = bootstrap(settings(url, auth=False), bus=InMemoryBus())
        await container.start()
        await container.stop()
        assert await count_rows(url) == 2
    finally:
        await drop_database(url)
