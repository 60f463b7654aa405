"""The four services built in-process with authentication ON: one app per service for the whole
session, each on its own fresh PostgreSQL database (migrated to head) and its own in-process bus;
token helpers (good, expired, forged, wrong issuer/audience, unsigned)."""

from __future__ import annotations

import time
import uuid
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from importlib import import_module
from pathlib import Path
from typing import Any

import httpx
import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from fastapi import FastAPI
from stdnum.cn import uscc

from carbon_common.auth import DEV_PRIVATE_KEY, mint_dev_token
from carbon_common.bus.memory import InMemoryBus
from carbon_common.bus.port import to_record
from carbon_common.events import Envelope, Event
from carbon_common.migrations import upgrade_head
from carbon_common.settings import AuthSettings, KafkaSettings, PostgresSettings
from carbon_common.testing import drop_database, fresh_database

SERVICES = ("ingest", "accounting", "rating", "lending")


def credit_code(i: int) -> str:
    """A valid USCC (GB 32100-2015 check character) for test enterprise ``i``."""
    body = f"91140400MA{i:07d}"[:17]
    return body + uscc.calc_check_digit(body)


@dataclass
class Service:
    name: str
    app: FastAPI
    client: httpx.AsyncClient
    container: Any
    bus: InMemoryBus

    async def publish(self, *events: Event) -> None:
        """Deliver upstream events the way the producing service would, and apply them."""
        await self.bus.publish([to_record(Envelope(data=e, source="/security-test")) for e in events])
        await self.bus.drain()
        relay = self.container.runtime.relay
        while await relay.relay_once():
            pass


async def _build(name: str, stack: list[Any]) -> Service:
    pkg = import_module(f"carbon_{name}")
    url = await fresh_database(f"sec_{name}")
    stack.append(url)
    await upgrade_head(Path(pkg.__file__ or "").parent / "migrations", url)
    settings = import_module(f"carbon_{name}.settings").Settings(
        postgres=PostgresSettings(url=url, pool_size=3),
        kafka=KafkaSettings(bootstrap_servers=""),
        auth=AuthSettings(enabled=True),
    )
    bus = InMemoryBus()
    container = import_module(f"carbon_{name}.bootstrap").bootstrap(settings, bus=bus)
    await bus.start()
    await container.start()
    app = import_module(f"carbon_{name}.entrypoints.app").create_app(settings, container)
    client = httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url=f"http://{name}")
    return Service(name, app, client, container, bus)


@pytest.fixture(scope="session")
async def services() -> AsyncIterator[dict[str, Service]]:
    urls: list[str] = []
    built: list[Service] = []
    try:
        for name in SERVICES:  # one after the other: Alembic's env is not safe to run concurrently
            built.append(await _build(name, urls))
        yield {s.name: s for s in built}
    finally:
        for s in built:
            await s.client.aclose()
            await s.container.stop()
            await s.bus.stop()
        for url in urls:
            await drop_database(url)


def token(org: str, *scopes: str, subject: str | None = None) -> dict[str, str]:
    """``Authorization`` header with a valid development token."""
    return {"Authorization": f"Bearer {mint_dev_token(org, ' '.join(scopes), subject)}"}


def _claims(org: str, scopes: tuple[str, ...], **overrides: Any) -> dict[str, Any]:
    now = int(time.time())
    base = {
        "sub": org,
        "org": org,
        "scope": " ".join(scopes),
        "iss": "carbon-bureau-dev",
        "aud": "carbon-bureau",
        "iat": now,
        "exp": now + 600,
    }
    return base | overrides


_FORGER = Ed25519PrivateKey.generate().private_bytes(
    serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
)


def bad_tokens(org: str, *scopes: str) -> dict[str, dict[str, str]]:
    """Headers that must all answer 401, even though they claim the right scopes."""
    dev = DEV_PRIVATE_KEY.read_text()
    claims = _claims(org, scopes)
    signed = jwt.encode(claims, dev, algorithm="EdDSA")
    head, body, sig = signed.split(".")
    encoded = {
        "expired": jwt.encode(_claims(org, scopes, exp=int(time.time()) - 5), dev, algorithm="EdDSA"),
        "forged": jwt.encode(claims, _FORGER, algorithm="EdDSA"),
        "tampered": f"{head}.{body}.{sig[::-1]}",
        "wrong-issuer": jwt.encode(_claims(org, scopes, iss="evil"), dev, algorithm="EdDSA"),
        "wrong-audience": jwt.encode(_claims(org, scopes, aud="other"), dev, algorithm="EdDSA"),
        "unsigned": jwt.encode(claims, None, algorithm="none"),
        "garbage": "not-a-jwt",
    }
    out = {kind: {"Authorization": f"Bearer {t}"} for kind, t in encoded.items()}
    out["missing"] = {}
    out["basic-auth"] = {"Authorization": "Basic YmFuay1hOnNlY3JldA=="}
    out["x-org-header"] = {"X-Org": org}
    return out


@pytest.fixture(scope="session")
def new_id() -> Callable[[], str]:
    return lambda: str(uuid.uuid4())
