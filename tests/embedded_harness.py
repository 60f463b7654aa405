"""The embedded bureau on fresh databases of the real PostgreSQL, with an ASGI client (for tests)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import httpx

from carbon_bureau.embedded import SERVICE_NAMES, EmbeddedBureau
from carbon_common.testing import drop_database, fresh_database

API = {name: f"/{name}" for name in SERVICE_NAMES}


@asynccontextmanager
async def embedded_bureau(prefix: str) -> AsyncIterator[tuple[EmbeddedBureau, httpx.AsyncClient]]:
    """Migrate four fresh databases, start the bureau, yield it with a client; drop them after."""
    urls = {name: await fresh_database(f"{prefix}_{name}") for name in SERVICE_NAMES}
    bureau = EmbeddedBureau(urls)
    try:
        await bureau.migrate()
        app = bureau.build()
        await bureau.start()
        try:
            transport = httpx.ASGITransport(app=app)
            async with httpx.AsyncClient(transport=transport, base_url="http://embedded") as client:
                yield bureau, client
        finally:
            await bureau.stop()
    finally:
        for url in urls.values():
            await drop_database(url)
