"""End-to-end fixtures: the four services as real processes on real Kafka and PostgreSQL.

``make test`` starts the broker and the database server (``KAFKA_BOOTSTRAP``, ``PG_URL_BASE``);
these fixtures give each service a fresh database, start it with uvicorn on its fixed port and
wait for ``/readyz``. Missing infrastructure fails the tests, it never skips them.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator

import httpx
import pytest

from carbon_bureau.services import LOG_DIR, SERVICES, ServiceProcess, migrate, service_env
from carbon_common.testing import drop_database, fresh_database, kafka_bootstrap, pg_url_base


class RealStack:
    def __init__(self, procs: dict[str, ServiceProcess], namespace: str) -> None:
        self.procs = procs
        self.namespace = namespace

    def url(self, name: str) -> str:
        return self.procs[name].url

    async def restart(self, name: str, extra_env: dict[str, str] | None = None, kill: bool = False) -> None:
        p = self.procs[name]
        p.kill() if kill else p.stop()
        env = dict(p.env)
        env.pop("CARBON_FAULTS", None)
        env.update(extra_env or {})
        fresh = ServiceProcess(p.spec, env, p.log_path)
        fresh.start()
        self.procs[name] = fresh
        await fresh.wait_ready()


@pytest.fixture(scope="session")
async def real_stack() -> AsyncIterator[RealStack]:
    kafka = kafka_bootstrap()
    pg = pg_url_base()
    namespace = f"e2e{uuid.uuid4().hex[:8]}."  # own topics and groups: no history, no neighbours
    dbs: dict[str, str] = {}
    procs: dict[str, ServiceProcess] = {}
    try:
        for spec in SERVICES:
            url = await fresh_database(f"e2e_{spec.name}")
            dbs[spec.name] = url
            env = service_env(spec, kafka, pg, url.rsplit("/", 1)[1], namespace=namespace)
            await asyncio.to_thread(migrate, spec, env)
            p = ServiceProcess(spec, env, LOG_DIR / f"e2e-{spec.name}.log")
            p.start()
            procs[spec.name] = p
        await asyncio.gather(*(p.wait_ready(120) for p in procs.values()))
        yield RealStack(procs, namespace)
    finally:
        for p in procs.values():
            p.stop()
        for url in dbs.values():
            await drop_database(url)


@pytest.fixture
async def http() -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(timeout=30) as client:
        yield client
