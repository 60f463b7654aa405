"""Product/policy configuration changes are recorded with who and when (issue 7): append-only,
one row per new digest, listable by the bank it concerns and by no other bank."""

from __future__ import annotations

import asyncio
import shutil
import uuid
from pathlib import Path

import asyncpg
import httpx
import pytest
import yaml
from sqlalchemy import delete, update
from sqlalchemy.exc import DBAPIError

from carbon_common.bus.memory import InMemoryBus
from carbon_common.migrations import upgrade_head
from carbon_common.settings import KafkaSettings, PostgresSettings
from carbon_common.testing import drop_database, pg_url_base
from carbon_lending.adapters.orm import policy_audit
from carbon_lending.adapters.policy_store import PACKAGED
from carbon_lending.bootstrap import Container, bootstrap
from carbon_lending.entrypoints.app import create_app
from carbon_lending.settings import Settings

MIGRATIONS = Path(__file__).resolve().parents[1] / "src" / "carbon_lending" / "migrations"


class Running:
    def __init__(self, container: Container, bus: InMemoryBus, client: httpx.AsyncClient) -> None:
        self.container, self.bus, self.client = container, bus, client

    async def stop(self) -> None:
        await self.client.aclose()
        await self.container.stop()
        await self.bus.stop()


async def start_with(db_url: str, folder: Path) -> Running:
    settings = Settings(
        postgres=PostgresSettings(url=db_url, pool_size=2),
        kafka=KafkaSettings(bootstrap_servers=""),
        products_dir=folder,
        policy_changed_by="ops-pipeline",
    )
    bus = InMemoryBus()
    container = bootstrap(settings, bus=bus)
    await bus.start()
    await container.start()
    client = httpx.AsyncClient(
        transport=httpx.ASGITransport(app=create_app(settings, container)), base_url="http://l"
    )
    return Running(container, bus, client)


def write_bank_policy(folder: Path, bank: str, **changes: object) -> None:
    raw = yaml.safe_load((PACKAGED / "default.yaml").read_text(encoding="utf-8"))
    raw |= {"bank_id": bank} | changes
    (folder / f"{bank}.yaml").write_text(yaml.safe_dump(raw, allow_unicode=True), encoding="utf-8")


async def test_policy_versions_are_audited_per_bank(db_url: str, tmp_path: Path) -> None:
    bank_a, bank_b = f"bank-audit-{uuid.uuid4().hex[:6]}", f"bank-other-{uuid.uuid4().hex[:6]}"
    for name in ("default.yaml", "catalogue.yaml"):
        shutil.copy(PACKAGED / name, tmp_path / name)
    write_bank_policy(tmp_path, bank_a, version="2025.1", changed_by="alice@bank-a")
    run = await start_with(db_url, tmp_path)
    first = (await run.client.get("/v1/policy", headers={"X-Org": bank_a})).json()
    assert (first["policy_bank_id"], first["version"]) == (bank_a, "2025.1")
    await run.stop()

    # the bank's spread for green loans changes: a new version, recorded with who and from what
    products = yaml.safe_load((tmp_path / f"{bank_a}.yaml").read_text(encoding="utf-8"))["products"]
    products["green_loan"]["spread_bp"] = "45"
    write_bank_policy(tmp_path, bank_a, version="2025.2", changed_by="bob@bank-a", products=products)
    await (await start_with(db_url, tmp_path)).stop()
    run = await start_with(db_url, tmp_path)  # unchanged: nothing new
    client = run.client
    items = (await client.get("/v1/policy/audit", headers={"X-Org": bank_a})).json()["items"]
    assert [(i["bank_id"], i["version"], i["changed_by"]) for i in items] == [
        (bank_a, "2025.1", "alice@bank-a"),
        (bank_a, "2025.2", "bob@bank-a"),
    ]
    assert items[0]["previous_digest"] is None
    assert (items[1]["previous_version"], items[1]["previous_digest"]) == ("2025.1", items[0]["digest"])
    assert items[1]["digest"] == (await client.get("/v1/policy", headers={"X-Org": bank_a})).json()["digest"]
    assert items[1]["document"]["products"]["green_loan"]["spread_bp"] == "45"
    assert items[1]["changed_at"] >= items[0]["changed_at"]

    # another bank sees the default configuration's history (it prices its quotes), never bank A's
    other = (await client.get("/v1/policy/audit", headers={"X-Org": bank_b})).json()["items"]
    assert other and {i["bank_id"] for i in other} == {"default"}
    assert other[0]["changed_by"] in ("deployment", "ops-pipeline")

    # append-only, enforced by the database
    async with run.container.uow() as uow:
        for stmt in (update(policy_audit).values(changed_by="mallory"), delete(policy_audit)):
            with pytest.raises(DBAPIError, match="append-only"):
                await uow.session.execute(stmt)
            await uow.session.rollback()
    await run.stop()


async def test_policy_version_is_recorded_once_the_database_is_reachable(tmp_path: Path) -> None:
    """A lending process that starts before its database exists still starts, and records its
    policy version as soon as the database is there (no crash loop on a start-up race)."""
    base = pg_url_base()
    name = f"lendlate_{uuid.uuid4().hex[:10]}"
    url = f"{base}/{name}"
    run = await start_with(url, PACKAGED)
    try:
        assert run.container._audit_task is not None  # not recorded yet: retrying
        conn = await asyncpg.connect(base.replace("+asyncpg", "") + "/postgres")
        try:
            await conn.execute(f'CREATE DATABASE "{name}"')
        finally:
            await conn.close()
        await upgrade_head(MIGRATIONS, url)
        await asyncio.wait_for(run.container._audit_task, timeout=30)
        items = (await run.client.get("/v1/policy/audit", headers={"X-Org": "bank-late"})).json()["items"]
        assert [(i["bank_id"], i["previous_digest"]) for i in items] == [("default", None)]
    finally:
        await run.stop()
        await drop_database(url)
