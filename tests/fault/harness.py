"""A throwaway deployment of the four services for the fault scenarios.

Each :class:`Deployment` gets fresh databases (on whichever PostgreSQL server it is given), its
own Kafka namespace (topics and consumer groups no other run sees) and free ports, so a fault
run never clashes with the e2e tests (8001-8004), the developer stack or a neighbour's run.
"""

from __future__ import annotations

import asyncio
import socket
import uuid
from dataclasses import dataclass, field
from pathlib import Path

import httpx

from carbon_bureau.services import LOG_DIR, ServiceProcess, ServiceSpec, migrate, service_env
from carbon_bureau.stack.pg_handle import PgHandle

NAMES = ("ingest", "accounting", "rating", "lending")


def free_ports(n: int) -> list[int]:
    """``n`` ports the kernel considers free right now (bound once, then released)."""
    socks = [socket.socket() for _ in range(n)]
    try:
        for s in socks:
            s.bind(("127.0.0.1", 0))
        return [s.getsockname()[1] for s in socks]
    finally:
        for s in socks:
            s.close()


@dataclass
class Deployment:
    """Four service processes on one Kafka namespace and one PostgreSQL server."""

    label: str
    kafka: str
    pg: PgHandle
    namespace: str = field(default_factory=lambda: f"fault{uuid.uuid4().hex[:8]}.")
    procs: dict[str, ServiceProcess] = field(default_factory=dict)
    databases: dict[str, str] = field(default_factory=dict)

    def url(self, name: str) -> str:
        return self.procs[name].url

    def db_dsn(self, name: str) -> str:
        return self.pg.dsn(self.databases[name])

    @property
    def log_dir(self) -> Path:
        return LOG_DIR / "fault"

    async def start(self, extra_env: dict[str, str] | None = None) -> None:
        ports = free_ports(len(NAMES))
        for name, port in zip(NAMES, ports, strict=True):
            db = f"fault_{name}_{uuid.uuid4().hex[:8]}"
            await self.pg.acreate_database(db)
            self.databases[name] = db
            spec = ServiceSpec(name, port)
            env = service_env(spec, self.kafka, self.pg.base_url, db, namespace=self.namespace)
            env.update(extra_env or {})
            self.procs[name] = ServiceProcess(spec, env, self.log_dir / f"{self.label}-{name}.log")
        await asyncio.gather(*(asyncio.to_thread(migrate, p.spec, p.env) for p in self.procs.values()))
        for p in self.procs.values():
            p.start()
        await asyncio.gather(*(p.wait_ready(180) for p in self.procs.values()))

    async def restart(self, name: str, *, kill: bool) -> None:
        """SIGKILL (``kill``) or stop the service, start it again on the same port, await ready."""
        old = self.procs[name]
        old.kill() if kill else old.stop()
        fresh = ServiceProcess(old.spec, old.env, old.log_path)
        fresh.start()
        self.procs[name] = fresh
        await fresh.wait_ready(180)

    async def readyz(self, client: httpx.AsyncClient) -> dict[str, int]:
        """The ``/readyz`` status of every service (0 when it does not answer at all)."""
        out: dict[str, int] = {}
        for name in NAMES:
            try:
                out[name] = (await client.get(f"{self.url(name)}/readyz", timeout=5)).status_code
            except httpx.HTTPError:
                out[name] = 0
        return out

    async def close(self) -> None:
        for p in self.procs.values():
            await asyncio.to_thread(p.stop)
        for db in self.databases.values():
            try:
                await self.pg.adrop_database(db)
            except OSError:  # the server is already gone (a private one torn down first)
                pass
