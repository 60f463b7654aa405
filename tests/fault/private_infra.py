"""A Kafka broker and a PostgreSQL server of our own, for the scenarios that stop them.

The developer stack's broker (9092) and server (55432) are shared with other engineers and
other test runs, so the outage scenarios never touch them: they start a private single-node
broker (same jars, same generated config as ``bureau stack``) and a private PostgreSQL from the
embedded wheel, each on free ports with data under ``var/fault/<run>/``, and remove it afterwards.
"""

from __future__ import annotations

import asyncio
import shutil
import uuid
from dataclasses import dataclass
from pathlib import Path

from rich.console import Console

from carbon_bureau.stack.kafka import KafkaNode
from carbon_bureau.stack.pg_handle import PgHandle
from carbon_bureau.stack.postgres import postmaster_pid, start_postgres, stop_postgres
from carbon_bureau.stack.settings import StackSettings
from tests.fault.harness import free_ports

_quiet = Console(stderr=True, quiet=True)


def run_dir(kind: str) -> Path:
    root = StackSettings.from_env().root / "var" / "fault" / f"{kind}-{uuid.uuid4().hex[:8]}"
    root.mkdir(parents=True, exist_ok=True)
    return root


@dataclass
class PrivateKafka:
    node: KafkaNode
    pid: int = 0

    @classmethod
    def create(cls) -> PrivateKafka:
        s = StackSettings.from_env()
        home = run_dir("kafka")
        port, controller = free_ports(2)
        node = KafkaNode(s.kafka_version, s.kafka_libs, home, home / "kafka.log", port, controller)
        return cls(node)

    @property
    def bootstrap(self) -> str:
        return self.node.bootstrap

    async def start(self) -> None:
        """Start (or restart, on the same data: topics and committed offsets survive)."""
        self.pid = await asyncio.to_thread(self.node.start, _quiet, 180.0)

    async def stop(self) -> None:
        """Controlled shutdown (SIGTERM, SIGKILL after 45 s)."""
        if self.pid:
            await asyncio.to_thread(self.node.stop, self.pid)
            self.pid = 0

    async def remove(self) -> None:
        await self.stop()
        shutil.rmtree(self.node.home, ignore_errors=True)


@dataclass
class PrivatePostgres:
    data_dir: Path
    port: int
    handle: PgHandle | None = None

    @classmethod
    def create(cls) -> PrivatePostgres:
        return cls(run_dir("pg") / "data", free_ports(1)[0])

    async def start(self) -> PgHandle:
        self.handle = await asyncio.to_thread(start_postgres, self.data_dir, self.port, timeout=120.0)
        return self.handle

    async def stop(self) -> None:
        """Fast shutdown: every client connection is cut, as in a database failover."""
        await asyncio.to_thread(stop_postgres, self.data_dir)

    @property
    def running(self) -> bool:
        return postmaster_pid(self.data_dir) is not None

    async def remove(self) -> None:
        await self.stop()
        shutil.rmtree(self.data_dir.parent, ignore_errors=True)
