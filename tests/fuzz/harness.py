"""Each service as a live in-process HTTP server for Schemathesis.

Every service runs in its own thread with its own event loop: a fresh PostgreSQL database on the
shared server (migrated to head), an in-process bus, the service's container and its real app
under uvicorn on an ephemeral 127.0.0.1 port, authentication ON (development key). Schemathesis
is synchronous; it calls the app over real HTTP (``requests``), so the asyncpg pool stays on the
loop that created it and the server's HTTP parser sees the fuzzed bytes too.

``seed`` puts a little data in each service (an enterprise, a submission, an account, a rating,
an objection, a quote, a loan) so that generated calls do not all end in 404; it returns the ids,
which the fuzz tests mix into generated path parameters (``conftest.KNOWN``).
"""

from __future__ import annotations

import asyncio
import socket
import threading
import time
from collections.abc import Coroutine
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal
from importlib import import_module
from pathlib import Path
from typing import Any, TypeVar

import httpx
import uvicorn

from carbon_common.auth import SELF_READ, mint_dev_token
from carbon_common.bus.memory import InMemoryBus
from carbon_common.bus.port import to_record
from carbon_common.events import AccountUpdated, Envelope, Event, RatingIssued
from carbon_common.events.contracts import EnterpriseRegistered, FactRecorded
from carbon_common.events.examples import EXAMPLES
from carbon_common.migrations import upgrade_head
from carbon_common.settings import AuthSettings, KafkaSettings, PostgresSettings
from carbon_common.testing import drop_database, fresh_database

T = TypeVar("T")
SERVICES = ("ingest", "accounting", "rating", "lending")

CODE = EXAMPLES[EnterpriseRegistered].credit_code  # type: ignore[attr-defined]
DEPARTMENT = "stats-140400"
BANK = "bank-fuzz"
STAFF = "bureau-staff"


def token(org: str, scopes: list[str] | tuple[str, ...], subject: str | None = None) -> str:
    return mint_dev_token(org, " ".join(sorted(set(scopes))), subject)


@dataclass
class LiveService:
    """One service app served by uvicorn in a background thread (its own event loop)."""

    name: str
    loop: asyncio.AbstractEventLoop = field(default_factory=asyncio.new_event_loop)
    base_url: str = ""
    app: Any = None
    container: Any = None
    bus: InMemoryBus | None = None
    db_url: str = ""
    _server: uvicorn.Server | None = None
    _serving: asyncio.Task[None] | None = None
    _thread: threading.Thread | None = None

    def run(self, coro: Coroutine[Any, Any, T], timeout: float = 180) -> T:
        """Run ``coro`` on the service's loop and wait for its result."""
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result(timeout)

    def start(self) -> None:
        self._thread = threading.Thread(target=self.loop.run_forever, name=f"fuzz-{self.name}", daemon=True)
        self._thread.start()
        self.run(self._start())

    def stop(self) -> None:
        try:
            self.run(self._stop(), timeout=60)
        finally:
            self.loop.call_soon_threadsafe(self.loop.stop)
            if self._thread is not None:
                self._thread.join(10)

    async def _start(self) -> None:
        pkg = import_module(f"carbon_{self.name}")
        self.db_url = await fresh_database(f"fuzz_{self.name}")
        await upgrade_head(Path(pkg.__file__ or "").parent / "migrations", self.db_url)
        settings = import_module(f"carbon_{self.name}.settings").Settings(
            postgres=PostgresSettings(url=self.db_url, pool_size=4),
            kafka=KafkaSettings(bootstrap_servers=""),
            auth=AuthSettings(enabled=True),
        )
        self.bus = InMemoryBus()
        self.container = import_module(f"carbon_{self.name}.bootstrap").bootstrap(settings, bus=self.bus)
        await self.bus.start()
        await self.container.start()
        self.app = import_module(f"carbon_{self.name}.entrypoints.app").create_app(settings, self.container)
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
        config = uvicorn.Config(self.app, log_level="warning", access_log=False, lifespan="on")
        self._server = uvicorn.Server(config)
        self._serving = asyncio.create_task(self._server.serve(sockets=[sock]))
        while not self._server.started:
            if self._serving.done():
                self._serving.result()  # raises the startup error
            await asyncio.sleep(0.02)
        self.base_url = f"http://127.0.0.1:{port}"

    async def _stop(self) -> None:
        if self._server is not None and self._serving is not None:
            self._server.should_exit = True
            await asyncio.wait_for(self._serving, 30)
        if self.container is not None:
            await self.container.stop()
        if self.bus is not None:
            await self.bus.stop()
        if self.db_url:
            await drop_database(self.db_url)

    def publish(self, *events: Event) -> None:
        """Deliver upstream events the way the producing service would, and apply them."""

        async def go() -> None:
            assert self.bus is not None
            await self.bus.publish([to_record(Envelope(data=e, source="/fuzz-seed")) for e in events])
            await self.bus.drain()
            relay = self.container.runtime.relay
            while await relay.relay_once():
                pass

        self.run(go())

    def request(self, method: str, path: str, org: str, *scopes: str, **kwargs: Any) -> httpx.Response:
        headers = {"Authorization": f"Bearer {token(org, scopes)}"} | kwargs.pop("headers", {})
        with httpx.Client(base_url=self.base_url, timeout=60) as client:
            return client.request(method, path, headers=headers, **kwargs)


def _ok(r: httpx.Response) -> dict[str, Any]:
    assert r.status_code in (200, 201), f"seeding failed: {r.request.method} {r.request.url} → {r.text}"
    body: dict[str, Any] = r.json()
    return body


def seed(svc: LiveService) -> dict[str, str]:
    """A little data in one service; returns the ids to reuse as path parameters."""
    return {"credit_code": CODE, "period": "2024-01"} | SEEDERS[svc.name](svc)


def _seed_ingest(ingest: LiveService) -> dict[str, str]:
    enterprise = EXAMPLES[EnterpriseRegistered]
    reg = enterprise.model_dump(mode="json", include=set(EnterpriseRegistered.model_fields) - {"revision"})
    _ok(ingest.request("POST", "/v1/enterprises", "directory-feed", "enterprises:write", json=reg))
    record = {"record_id": "fuzz-1", "credit_code": CODE, "indicator": "energy.raw_coal",
              "period": "2024-01", "value": "1000", "unit": "t"}  # fmt: skip
    sub = _ok(ingest.request("POST", "/v1/submissions", DEPARTMENT, "submissions:write",
                             json={"department": DEPARTMENT, "records": [record]}))  # fmt: skip
    assert sub["accepted"] == 1, sub
    return {"submission_id": sub["submission_id"]}


def _seed_accounting(accounting: LiveService) -> dict[str, str]:
    accounting.publish(EXAMPLES[EnterpriseRegistered], EXAMPLES[FactRecorded])
    _ok(accounting.request("GET", f"/v1/accounts/{CODE}", BANK, "accounts:read"))
    sets = accounting.request("GET", "/v1/factor-sets", BANK).json()
    return {"set_id": sets[0]["id"]}


def _seed_rating(rating: LiveService) -> dict[str, str]:
    account = AccountUpdated(
        credit_code=CODE,
        period="2024-01",
        industry_code="4411",
        scope1_combustion_tco2=Decimal(80000),
        total_tco2=Decimal(80000),
        output_quantity=Decimal(100000),
        output_unit="MWh",
        data_quality_score=Decimal(2),
        factor_set="cn-default@1",
        calculation_version=1,
    )
    rating.publish(EXAMPLES[EnterpriseRegistered], account)
    _ok(rating.request("GET", f"/v1/ratings/{CODE}", BANK, "ratings:read"))
    objection = _ok(rating.request("POST", f"/v1/ratings/{CODE}/objections", CODE, SELF_READ,
                                   "objections:write", json={"reason": "the coal figure is wrong"}))  # fmt: skip
    return {"objection_id": objection["objection_id"]}


def _seed_lending(lending: LiveService) -> dict[str, str]:
    issued = RatingIssued(
        rating_id="r-fuzz-1",
        credit_code=CODE,
        as_of_period="2024-12",
        score=Decimal(85),
        label="light_green",
        transition_stage="mid",
        confidence=Decimal("0.9"),
        methodology_version="m-fuzz@1",
        issued_at=datetime(2025, 1, 2, tzinfo=UTC),
    )
    lending.publish(EXAMPLES[EnterpriseRegistered], issued)
    ask = {"credit_code": CODE, "product": "carbon_linked_loan", "amount_cny": "2000000", "term_months": 24}
    for _ in range(100):  # the rating may reach the quote path's local read model a moment later
        r = lending.request("POST", "/v1/quotes", BANK, "quotes:write", json=ask)
        if r.status_code != 409:
            break
        time.sleep(0.1)
    quote = _ok(r)
    loan = _ok(lending.request("POST", "/v1/loans", BANK, "loans:write", json={
        "quote_id": quote["quote_id"], "bank_loan_ref": "FUZZ-1", "drawn_amount_cny": "2000000",
        "drawn_on": "2025-01-15"}))  # fmt: skip
    return {"quote_id": quote["quote_id"], "loan_id": loan["loan_id"]}


SEEDERS = {
    "ingest": _seed_ingest,
    "accounting": _seed_accounting,
    "rating": _seed_rating,
    "lending": _seed_lending,
}
