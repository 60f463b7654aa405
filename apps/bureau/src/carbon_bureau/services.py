"""The four services as separate processes (the real local stack and the end-to-end tests).

Each service runs ``uvicorn carbon_<svc>.entrypoints.app:create_app --factory`` on its fixed
port with its own database, after its migrations; logs go to ``var/log/<svc>.log``.
Readiness is awaited on ``/readyz`` (database and Kafka reachable), never by sleeping.
"""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parents[4]
LOG_DIR = ROOT / "var" / "log"


@dataclass(frozen=True)
class ServiceSpec:
    name: str
    port: int

    @property
    def package(self) -> str:
        return f"carbon_{self.name}"

    @property
    def env_prefix(self) -> str:
        return self.name.upper() + "_"

    @property
    def database(self) -> str:
        return f"carbon_{self.name}"


#: ingest 8001, accounting 8002, rating 8003, lending 8004; ``CARBON_PORT_BASE`` shifts them all
#: (e.g. 18000 → 18001…18004) so a second checkout can run its tests beside a running stack.
PORT_BASE = int(os.environ.get("CARBON_PORT_BASE", "8000"))
SERVICES: tuple[ServiceSpec, ...] = tuple(
    ServiceSpec(name, PORT_BASE + i)
    for i, name in enumerate(("ingest", "accounting", "rating", "lending"), start=1)
)


def service_env(
    spec: ServiceSpec, kafka: str, pg_base: str, database: str | None = None, namespace: str = ""
) -> dict[str, str]:
    """The environment of one service process; ``namespace`` isolates its topics and groups."""
    p = spec.env_prefix
    env = dict(os.environ)
    env.update(
        {
            f"{p}ENVIRONMENT": "development",
            f"{p}POSTGRES__URL": f"{pg_base.rstrip('/')}/{database or spec.database}",
            f"{p}KAFKA__BOOTSTRAP_SERVERS": kafka,
            f"{p}KAFKA__CLIENT_ID": f"carbon-{spec.name}",
            f"{p}KAFKA__NAMESPACE": namespace,
            "OTEL_SERVICE_NAME": f"carbon-{spec.name}",
            "PYTHONUNBUFFERED": "1",
        }
    )
    return env


def migrate(spec: ServiceSpec, env: dict[str, str]) -> None:
    subprocess.run(
        [sys.executable, "-m", f"{spec.package}.entrypoints.migrate"],
        env=env,
        check=True,
        cwd=ROOT,
        timeout=300,
    )


@dataclass
class ServiceProcess:
    spec: ServiceSpec
    env: dict[str, str]
    log_path: Path
    proc: subprocess.Popen[bytes] | None = field(default=None)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.spec.port}"

    def start(self) -> None:
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        log = self.log_path.open("ab")
        self.proc = subprocess.Popen(
            [
                sys.executable, "-m", "uvicorn", f"{self.spec.package}.entrypoints.app:create_app", "--factory",
                "--host", "127.0.0.1", "--port", str(self.spec.port), "--timeout-graceful-shutdown", "20",
                "--no-access-log",
            ],
            env=self.env, stdout=log, stderr=subprocess.STDOUT, cwd=ROOT, start_new_session=True,
        )  # fmt: skip

    async def wait_ready(self, timeout: float = 90.0) -> None:
        deadline = time.monotonic() + timeout
        last = ""
        async with httpx.AsyncClient(timeout=3) as client:
            while time.monotonic() < deadline:
                if self.proc is not None and self.proc.poll() is not None:
                    raise RuntimeError(
                        f"{self.spec.name} exited with {self.proc.returncode}; see {self.log_path}"
                    )
                try:
                    r = await client.get(f"{self.url}/readyz")
                    if r.status_code == 200:
                        return
                    last = r.text
                except httpx.HTTPError as exc:
                    last = repr(exc)
                await asyncio.sleep(0.2)
        raise TimeoutError(f"{self.spec.name} not ready after {timeout}s: {last}; see {self.log_path}")

    def kill(self) -> None:
        """SIGKILL: the crash the reliability model must survive."""
        if self.proc is not None and self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait(10)

    def stop(self, timeout: float = 25.0) -> None:
        if self.proc is None or self.proc.poll() is not None:
            return
        os.killpg(self.proc.pid, signal.SIGTERM)
        try:
            self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.kill()


def start_all(kafka: str, pg_base: str, databases: dict[str, str] | None = None) -> list[ServiceProcess]:
    """Migrate and start the four services; returns the handles (not yet awaited ready)."""
    procs = []
    for spec in SERVICES:
        env = service_env(spec, kafka, pg_base, (databases or {}).get(spec.name))
        migrate(spec, env)
        p = ServiceProcess(spec, env, LOG_DIR / f"{spec.name}.log")
        p.start()
        procs.append(p)
    return procs
