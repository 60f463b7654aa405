"""The embedded default: the four services in one process, one in-process bus, one PostgreSQL.

Each service keeps its own database and its own composition root (``bootstrap``); only the bus
is shared, and the host starts it after every service has subscribed. Mounted sub-apps do not
run their own lifespans, so the host starts and stops the containers itself.
"""

from __future__ import annotations

import importlib
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from fastapi import FastAPI
from fastapi.responses import HTMLResponse

from carbon_common.bus.memory import InMemoryBus
from carbon_common.migrations import upgrade_head

SERVICE_NAMES = ("ingest", "accounting", "rating", "lending")


@dataclass
class MountedService:
    name: str
    container: Any
    app: FastAPI


def migrations_dir(name: str) -> Path:
    pkg = importlib.import_module(f"carbon_{name}")
    return Path(pkg.__file__ or "").parent / "migrations"


def build_settings(name: str, db_url: str) -> Any:
    settings_mod = importlib.import_module(f"carbon_{name}.settings")
    return settings_mod.Settings(
        postgres={"url": db_url},
        kafka={"bootstrap_servers": ""},
        telemetry={"log_json": False, "log_level": "WARNING"},
    )


class EmbeddedBureau:
    """Builds, starts and stops the four services around one in-process bus."""

    def __init__(self, database_urls: dict[str, str], partitions: int = 4, linger_ms: int = 100) -> None:
        self.database_urls = database_urls
        # the same consumer linger as the Kafka default (KafkaSettings.consumer_linger_ms)
        self.bus = InMemoryBus(partitions=partitions, linger_ms=linger_ms)
        self.services: list[MountedService] = []

    async def migrate(self) -> None:
        for name in SERVICE_NAMES:
            await upgrade_head(migrations_dir(name), self.database_urls[name])

    def build(self) -> FastAPI:
        for name in SERVICE_NAMES:
            settings = build_settings(name, self.database_urls[name])
            container = importlib.import_module(f"carbon_{name}.bootstrap").bootstrap(settings, bus=self.bus)
            app = importlib.import_module(f"carbon_{name}.entrypoints.app").create_app(settings, container)
            self.services.append(MountedService(name, container, app))
        return self._host()

    async def start(self) -> None:
        for s in self.services:
            await s.container.start()
        await self.bus.start()

    async def stop(self) -> None:
        await self.bus.stop()
        for s in reversed(self.services):
            await s.container.stop()

    def _host(self) -> FastAPI:
        @asynccontextmanager
        async def lifespan(_: FastAPI) -> Any:
            yield

        host = FastAPI(
            title="Carbon Bureau — embedded",
            description="The four services in one process: "
            + ", ".join(f"[{n}](/{n}/docs)" for n in SERVICE_NAMES),
            lifespan=lifespan,
        )

        @host.get("/", response_class=HTMLResponse, include_in_schema=False)
        async def index() -> str:
            links = "".join(f'<li><a href="/{n}/docs">{n}</a> — OpenAPI docs</li>' for n in SERVICE_NAMES)
            return f"<h1>Carbon Bureau 碳征信 (embedded)</h1><ul>{links}</ul>"

        @host.get("/livez", include_in_schema=False)
        async def livez() -> dict[str, str]:
            return {"status": "ok"}

        for s in self.services:
            host.mount(f"/{s.name}", s.app)
        return host
