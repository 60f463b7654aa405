"""Where the local stack lives and which ports and versions it uses.

Everything is read from the environment once, so that ``make up``, the test script and the
Python API agree on the same ports without passing flags around. CLI options override these.

Environment variables (all optional):

``CARBON_CACHE``                  download cache (default ``~/.cache/carbon-bureau``)
``CARBON_ROOT``                   repository root holding ``var/`` (default: found from here or cwd)
``CARBON_KAFKA_VERSION``          Apache Kafka version from Maven Central (default :data:`KAFKA_VERSION`)
``CARBON_KAFKA_PORT``             broker (PLAINTEXT) port, default 9092
``CARBON_KAFKA_CONTROLLER_PORT``  KRaft controller port, default 9093
``CARBON_PG_PORT``                PostgreSQL port, default 55432 (not 5432: avoids a system server)
``DATABASE_URL``                  use this PostgreSQL server instead of starting one
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field, replace
from pathlib import Path

#: 4.1.1: the newest 4.1 patch release when this was written, a mature line that runs on Java 17
#: and that aiokafka 0.14 talks to (idempotent producer, groups, commits, transactions all checked).
#: 4.4.0 was checked as well and works; switch with CARBON_KAFKA_VERSION.
KAFKA_VERSION = "4.1.1"
KAFKA_PORT = 9092
KAFKA_CONTROLLER_PORT = 9093
PG_PORT = 55432
LOCALHOST = "127.0.0.1"


def _find_root() -> Path:
    """The uv workspace root: the nearest ``pyproject.toml`` declaring ``[tool.uv.workspace]``.

    Searched from this file first (editable install inside the repo), then from the current
    directory (installed elsewhere, run from the repo).
    """
    for start in (Path(__file__).resolve().parent, Path.cwd().resolve()):
        for candidate in (start, *start.parents):
            pyproject = candidate / "pyproject.toml"
            if pyproject.is_file() and "[tool.uv.workspace]" in pyproject.read_text(encoding="utf-8"):
                return candidate
    return Path.cwd().resolve()


def _env_int(name: str, default: int) -> int:
    raw = os.environ.get(name, "").strip()
    return int(raw) if raw else default


@dataclass(frozen=True)
class StackSettings:
    """Resolved locations, ports and versions of the local stack."""

    root: Path = field(default_factory=_find_root)
    cache_dir: Path = field(
        default_factory=lambda: Path(
            os.environ.get("CARBON_CACHE") or Path.home() / ".cache" / "carbon-bureau"
        ).expanduser()
    )
    kafka_version: str = KAFKA_VERSION
    kafka_port: int = KAFKA_PORT
    controller_port: int = KAFKA_CONTROLLER_PORT
    pg_port: int = PG_PORT
    database_url: str | None = None

    @classmethod
    def from_env(cls) -> StackSettings:
        root_env = os.environ.get("CARBON_ROOT")
        base = cls(root=Path(root_env).resolve()) if root_env else cls()
        return replace(
            base,
            kafka_version=os.environ.get("CARBON_KAFKA_VERSION") or KAFKA_VERSION,
            kafka_port=_env_int("CARBON_KAFKA_PORT", KAFKA_PORT),
            controller_port=_env_int("CARBON_KAFKA_CONTROLLER_PORT", KAFKA_CONTROLLER_PORT),
            pg_port=_env_int("CARBON_PG_PORT", PG_PORT),
            database_url=os.environ.get("DATABASE_URL") or None,
        )

    # -- derived paths ---------------------------------------------------------------------
    @property
    def stack_dir(self) -> Path:
        return self.root / "var" / "stack"

    @property
    def log_dir(self) -> Path:
        return self.root / "var" / "log"

    @property
    def state_file(self) -> Path:
        return self.stack_dir / "state.json"

    @property
    def kafka_dir(self) -> Path:
        return self.stack_dir / "kafka"

    @property
    def pg_data_dir(self) -> Path:
        return self.stack_dir / "pg"

    @property
    def kafka_libs(self) -> Path:
        return self.cache_dir / f"kafka-{self.kafka_version}" / "libs"

    @property
    def bootstrap(self) -> str:
        return f"{LOCALHOST}:{self.kafka_port}"
