"""The four services live (see ``harness``), seeded, and one Schemathesis schema per service.

The schema is each app's own ``app.openapi()``, loaded at collection (one test per operation;
Schemathesis' lazy ``from_fixture`` does not work with pytest 9: it sets ``node._nodeid``).
Generated path parameters are, half of the time, replaced by the seeded ids (an enterprise, a
submission, a factor set, an objection, a quote, a loan) so the fuzzing reaches the code behind
the 404s. Each service starts the first time one of its tests runs (``-k lending`` starts one).
"""

from __future__ import annotations

import json
import os
import time
from collections import Counter
from collections.abc import Iterator
from importlib import import_module
from pathlib import Path
from typing import Any

import pytest
import schemathesis
from hypothesis import strategies as st

from carbon_common.settings import AuthSettings

from .harness import LiveService, seed

#: examples per operation; ``make test`` runs the default, ``make fuzz`` sets a large budget
EXAMPLES = int(os.environ.get("CARBON_FUZZ_EXAMPLES", "10"))
#: what the last run did, per service: operations, calls, status codes (docs quote it)
SUMMARY_FILE = Path(os.environ.get("CARBON_FUZZ_SUMMARY", "var/log/fuzz-summary.json"))
#: per service, the seeded ids by path-parameter name (filled in when the service starts)
KNOWN: dict[str, dict[str, str]] = {}


class Stats:
    def __init__(self) -> None:
        self.calls: dict[str, Counter[str]] = {}
        self.statuses: dict[str, Counter[str]] = {}
        self.server_errors: list[str] = []
        self.started = time.monotonic()

    def record(self, service: str, operation: str, status: int, body: bytes = b"") -> None:
        self.calls.setdefault(service, Counter())[operation] += 1
        self.statuses.setdefault(service, Counter())[f"{status // 100}xx"] += 1
        if status >= 500:
            self.server_errors.append(f"{service} {operation} → {status} {body[:300]!r}")

    def dump(self) -> dict[str, Any]:
        return {
            "examples_per_operation_budget": EXAMPLES,
            "wall_seconds": round(time.monotonic() - self.started, 1),
            "server_errors": self.server_errors,
            "services": {
                svc: {
                    "operations": len(calls),
                    "calls": sum(calls.values()),
                    "min_calls_per_operation": min(calls.values()),
                    "statuses": dict(sorted(self.statuses[svc].items())),
                }
                for svc, calls in self.calls.items()
            },
        }


@pytest.fixture(scope="session")
def fuzz_stats() -> Iterator[Stats]:
    stats = Stats()
    yield stats
    if stats.calls:
        SUMMARY_FILE.parent.mkdir(parents=True, exist_ok=True)
        SUMMARY_FILE.write_text(json.dumps(stats.dump(), indent=2) + "\n")


class Live:
    """The services, each started (and seeded) the first time a test asks for it."""

    def __init__(self) -> None:
        self.started: dict[str, LiveService] = {}
        self.failed: dict[str, BaseException] = {}

    def __getitem__(self, name: str) -> LiveService:
        if name in self.failed:
            raise RuntimeError(f"{name} did not start") from self.failed[name]
        if name not in self.started:
            svc = LiveService(name)
            self.started[name] = svc
            try:
                svc.start()
                KNOWN[name] = seed(svc)
            except BaseException as exc:
                self.failed[name] = exc
                raise
        return self.started[name]

    def stop(self) -> None:
        errors: list[BaseException] = []
        for svc in self.started.values():
            try:
                svc.stop()
            except Exception as exc:  # stop the others, then report
                errors.append(exc)
        if errors:
            raise ExceptionGroup("stopping the fuzzed services", errors)


@pytest.fixture(scope="session")
def live() -> Iterator[Live]:
    services = Live()
    try:
        yield services
    finally:
        services.stop()


@pytest.fixture
def ingest(live: Live) -> LiveService:
    return live["ingest"]


@pytest.fixture
def accounting(live: Live) -> LiveService:
    return live["accounting"]


@pytest.fixture
def rating(live: Live) -> LiveService:
    return live["rating"]


@pytest.fixture
def lending(live: Live) -> LiveService:
    return live["lending"]


def openapi_schema(name: str) -> Any:
    """The service's own OpenAPI document (built without a database: ``create_app`` starts nothing)."""
    settings = import_module(f"carbon_{name}.settings").Settings(auth=AuthSettings(enabled=True))
    app = import_module(f"carbon_{name}.entrypoints.app").create_app(settings)
    schema = schemathesis.openapi.from_dict(app.openapi())

    @schema.hook
    def flatmap_path_parameters(context: Any, params: dict[str, Any] | None) -> Any:
        known = KNOWN.get(name, {})
        seeded = {k: known[k] for k in params or {} if k in known}
        return st.sampled_from([params, (params or {}) | seeded]) if seeded else st.just(params)

    return schema
