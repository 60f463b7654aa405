"""The four services as processes on fresh databases and free ports, and their resource use.

Ports: the defaults (8001-8004) when all four are free, otherwise ``port_base`` .. +3, or
ports the kernel hands out. CPU seconds and peak RSS come from psutil, sampled in the
background (peak) and read at phase boundaries (CPU).
"""

from __future__ import annotations

import asyncio
import socket
from collections.abc import Awaitable, Callable
from contextlib import closing
from dataclasses import dataclass, field

import psutil

from carbon_bureau.services import LOG_DIR, SERVICES, ServiceProcess, ServiceSpec, migrate, service_env
from carbon_common.testing import drop_database, fresh_database


def port_free(port: int) -> bool:
    with closing(socket.socket(socket.AF_INET, socket.SOCK_STREAM)) as s:
        try:
            s.bind(("127.0.0.1", port))
        except OSError:
            return False
        return True


def _kernel_port() -> int:
    with closing(socket.socket(socket.AF_INET, socket.SOCK_STREAM)) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def choose_ports(port_base: int | None) -> dict[str, int]:
    """``port_base`` .. +3 if given, else the defaults if all free, else kernel-chosen ports."""
    if port_base is not None:
        wanted = {spec.name: port_base + i for i, spec in enumerate(SERVICES)}
    else:
        wanted = {spec.name: spec.port for spec in SERVICES}
        if not all(port_free(p) for p in wanted.values()):
            wanted = {spec.name: _kernel_port() for spec in SERVICES}
    busy = [f"{n}:{p}" for n, p in wanted.items() if not port_free(p)]
    if busy:
        raise RuntimeError(f"ports in use: {', '.join(busy)} (pass another --port-base)")
    return wanted


@dataclass
class Services:
    """Started services with their database URLs (dropped again by ``stop``)."""

    procs: dict[str, ServiceProcess] = field(default_factory=dict)
    urls: dict[str, str] = field(default_factory=dict)

    def api(self) -> dict[str, str]:
        return {name: p.url for name, p in self.procs.items()}

    def pids(self) -> dict[str, int]:
        return {name: p.proc.pid for name, p in self.procs.items() if p.proc is not None}

    async def start(self, kafka: str, pg_base: str, ports: dict[str, int]) -> None:
        for base in SERVICES:
            spec = ServiceSpec(base.name, ports[base.name])
            url = await fresh_database(f"bench_{spec.name}")
            self.urls[spec.name] = url
            env = service_env(spec, kafka, pg_base, url.rsplit("/", 1)[1])
            await asyncio.to_thread(migrate, spec, env)
            proc = ServiceProcess(spec, env, LOG_DIR / f"bench-{spec.name}.log")
            proc.start()
            self.procs[spec.name] = proc
        await asyncio.gather(*(p.wait_ready(180) for p in self.procs.values()))

    async def stop(self, keep_databases: bool = False) -> None:
        await asyncio.gather(*(asyncio.to_thread(p.stop) for p in self.procs.values()))
        if not keep_databases:
            for url in self.urls.values():
                await drop_database(url)


def listener_pid(port: int) -> int | None:
    """The process listening on 127.0.0.1:``port`` (the broker, the PostgreSQL postmaster), if visible."""
    try:
        conns = psutil.net_connections(kind="tcp")
    except psutil.Error:
        return None
    for c in conns:
        if c.status == psutil.CONN_LISTEN and c.laddr and c.laddr.port == port and c.pid:
            return int(c.pid)
    return None


def _tree_cpu(p: psutil.Process) -> float:
    """CPU seconds of a process and all its descendants, living and reaped (PostgreSQL's backends)."""
    t = p.cpu_times()
    total = float(t.user + t.system + t.children_user + t.children_system)
    for child in p.children(recursive=True):
        try:
            ct = child.cpu_times()
        except psutil.Error:
            continue
        total += ct.user + ct.system
    return total


BackendPids = Callable[[], Awaitable[dict[str, list[int]]]]


class ResourceMonitor:
    """Peak RSS (sampled every ``interval`` s) and CPU seconds per phase, per service, and the CPU
    seconds of what shares the same 2 cores (``infra``, a whole process tree each: the broker,
    the PostgreSQL server with all its backends; plus the bench client's own process). With
    ``backends`` (the backend pids serving each service's database), PostgreSQL's CPU is also
    attributed to the service whose queries it ran. Infrastructure RSS is not sampled: the RSS
    target is per service."""

    def __init__(
        self,
        pids: dict[str, int],
        interval: float = 0.25,
        infra: dict[str, int] | None = None,
        backends: BackendPids | None = None,
    ) -> None:
        self.procs = {name: psutil.Process(pid) for name, pid in pids.items()}
        self.infra = {name: psutil.Process(pid) for name, pid in (infra or {}).items()}
        self.client = psutil.Process()
        self.interval = interval
        self.peak_rss: dict[str, int] = dict.fromkeys(pids, 0)
        self.phase_peak: dict[str, int] = dict.fromkeys(pids, 0)
        self._backends = backends
        #: backend pid -> (service, its last CPU seconds seen): a backend that exits keeps what it used
        self._backend_cpu: dict[int, tuple[str, float]] = {}
        self._task: asyncio.Task[None] | None = None

    def names(self) -> list[str]:
        """Rows of a phase: the services, then the infrastructure."""
        db = [f"postgresql: {svc} db" for svc in self.procs] if self._backends is not None else []
        return [*self.procs, *self.infra, *db, "bench client"]

    def _sample(self) -> None:
        for name, p in self.procs.items():
            try:
                rss = p.memory_info().rss
            except psutil.Error:
                continue
            self.peak_rss[name] = max(self.peak_rss[name], rss)
            self.phase_peak[name] = max(self.phase_peak[name], rss)
        for pid, (svc, _) in list(self._backend_cpu.items()):
            try:
                t = psutil.Process(pid).cpu_times()
            except psutil.Error:
                continue
            self._backend_cpu[pid] = (svc, t.user + t.system)

    async def refresh_backends(self) -> None:
        if self._backends is None:
            return
        try:
            found = await self._backends()
        except Exception:  # a probe hiccup must not end the measurement
            return
        for svc, pids in found.items():
            for pid in pids:
                self._backend_cpu.setdefault(pid, (svc, 0.0))
        self._sample()

    async def _loop(self) -> None:
        n = 0
        while True:
            if n % 8 == 0:
                await self.refresh_backends()
            self._sample()
            n += 1
            await asyncio.sleep(self.interval)

    def start(self) -> None:
        self._task = asyncio.create_task(self._loop())

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)

    def cpu(self) -> dict[str, float]:
        out = {}
        for name, p in self.procs.items():
            try:
                t = p.cpu_times()
                out[name] = t.user + t.system
            except psutil.Error:
                out[name] = 0.0
        for name, p in self.infra.items():
            try:
                out[name] = _tree_cpu(p)
            except psutil.Error:
                out[name] = 0.0
        if self._backends is not None:
            for svc in self.procs:
                out[f"postgresql: {svc} db"] = 0.0
            for svc, used in self._backend_cpu.values():
                key = f"postgresql: {svc} db"
                out[key] = out.get(key, 0.0) + used
        t = self.client.cpu_times()
        out["bench client"] = t.user + t.system  # its own process only: the services are its children
        return out

    async def phase(self) -> PhaseMark:
        await self.refresh_backends()
        self._sample()
        self.phase_peak = dict.fromkeys(self.procs, 0)
        return PhaseMark(self, self.cpu())


@dataclass
class PhaseMark:
    monitor: ResourceMonitor
    cpu0: dict[str, float]

    async def end(self, seconds: float) -> dict[str, dict[str, float | None]]:
        """Per service: CPU seconds in the phase, average cores used, peak RSS MB in the phase."""
        await self.monitor.refresh_backends()
        cpu1 = self.monitor.cpu()
        return {
            name: {
                "cpu_s": round(cpu1[name] - self.cpu0.get(name, 0.0), 2),
                "cores": round((cpu1[name] - self.cpu0.get(name, 0.0)) / seconds, 2) if seconds > 0 else 0.0,
                "peak_rss_mb": round(self.monitor.phase_peak[name] / 2**20, 1)
                if name in self.monitor.procs
                else None,
            }
            for name in self.monitor.names()
        }
