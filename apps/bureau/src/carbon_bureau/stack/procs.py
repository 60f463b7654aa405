"""Small process and file helpers shared by the Kafka and PostgreSQL runners.

Stopping is always "ask, wait, then force": SIGTERM lets Kafka do a controlled shutdown
(and flush its logs), SIGKILL is only the last resort so ``make down`` never hangs.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import fcntl
import os
import signal
import socket
import time
from collections import deque
from collections.abc import Coroutine, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, TypeVar

import psutil

T = TypeVar("T")


class StackError(RuntimeError):
    """A stack component could not be started or reached; the message says why and what to do."""


def pid_matches(pid: int | None, *markers: str) -> bool:
    """True when ``pid`` is alive and its command line contains every marker.

    Checking the command line guards against killing an unrelated process that happens to
    have reused a pid recorded in a stale ``state.json``.
    """
    if not pid:
        return False
    try:
        proc = psutil.Process(pid)
        if proc.status() == psutil.STATUS_ZOMBIE:
            return False
        cmdline = " ".join(proc.cmdline())
    except (psutil.NoSuchProcess, psutil.AccessDenied):
        return False
    return all(marker in cmdline for marker in markers)


def find_pid(*markers: str) -> int | None:
    """The pid of a live process whose command line contains every marker, if any (used when
    ``state.json`` was lost but our process still runs)."""
    for proc in psutil.process_iter(["cmdline"]):
        cmdline = " ".join(proc.info.get("cmdline") or ())
        if cmdline and all(marker in cmdline for marker in markers) and pid_matches(proc.pid, *markers):
            return int(proc.pid)
    return None


def stop_pid(pid: int, *, grace: float = 30.0, sig: int = signal.SIGTERM) -> bool:
    """Send ``sig`` (default SIGTERM), wait up to ``grace`` seconds, then SIGKILL.

    Returns True if the process had to be killed.
    """
    try:
        proc = psutil.Process(pid)
        proc.send_signal(sig)
        proc.wait(timeout=grace)
        return False
    except psutil.NoSuchProcess:
        return False
    except psutil.TimeoutExpired:
        proc.kill()
        proc.wait(timeout=10)
        return True


def port_open(host: str, port: int, timeout: float = 0.5) -> bool:
    """A TCP connect probe: cheap and silent, used before the protocol-level checks."""
    try:
        with socket.create_connection((host, port), timeout=timeout):
            return True
    except OSError:
        return False


def tail(path: Path, lines: int = 40) -> str:
    """The last lines of a log file, for error messages ("why did it not start?")."""
    if not path.exists():
        return f"(no log file at {path})"
    with path.open(encoding="utf-8", errors="replace") as fh:
        return "".join(deque(fh, maxlen=lines))


@contextmanager
def file_lock(path: Path) -> Iterator[None]:
    """An exclusive advisory lock, so two ``up`` calls (or parallel test sessions) never race
    on the same download or data directory."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("a") as fh:
        fcntl.flock(fh.fileno(), fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(fh.fileno(), fcntl.LOCK_UN)


class Deadline:
    """A monotonic deadline for readiness loops (retry until it passes, never a fixed sleep)."""

    def __init__(self, seconds: float) -> None:
        self.seconds = seconds
        self._end = time.monotonic() + seconds

    @property
    def expired(self) -> bool:
        return time.monotonic() >= self._end

    def remaining(self) -> float:
        return max(0.0, self._end - time.monotonic())


def is_root() -> bool:
    return hasattr(os, "geteuid") and os.geteuid() == 0


def run_sync(coro: Coroutine[Any, Any, T]) -> T:
    """Run a coroutine to completion from synchronous code.

    The sync API (``kafka_up()``, ``PgHandle.create_database()``) is also called from inside
    running event loops (async pytest fixtures, the embedded demo); ``asyncio.run`` refuses
    that, so the coroutine then runs on its own loop in a worker thread.
    """
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return asyncio.run(coro)
    with concurrent.futures.ThreadPoolExecutor(max_workers=1) as pool:
        return pool.submit(asyncio.run, coro).result()
