"""What the numbers were measured on: machine, versions, commit."""

from __future__ import annotations

import os
import platform
import subprocess
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from carbon_bureau.services import ROOT


def _cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def _memory_gb() -> float | None:
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                return round(int(line.split()[1]) / 2**20, 1)
    except OSError:
        pass
    return None


def git_commit() -> str:
    def git(*args: str) -> str:
        return subprocess.run(
            ["git", *args], cwd=ROOT, capture_output=True, text=True, check=False
        ).stdout.strip()

    commit = git("rev-parse", "--short", "HEAD") or "unknown"
    return commit + (" dirty" if git("status", "--porcelain") else "")


def _kafka_version() -> str:
    from carbon_bureau.stack import state
    from carbon_bureau.stack.settings import StackSettings

    s = StackSettings.from_env()
    return str(state.get(s.state_file, "kafka").get("version") or s.kafka_version)


def machine_info(pg_version: str) -> dict[str, Any]:
    import aiokafka

    return {
        "date": datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "commit": git_commit(),
        "nproc": os.cpu_count(),
        "memory_gb": _memory_gb(),
        "cpu_model": _cpu_model(),
        "python": platform.python_version(),
        "kafka": _kafka_version(),
        "aiokafka": aiokafka.__version__,
        "postgresql": pg_version,
        "load_average_at_start": [round(x, 2) for x in os.getloadavg()],
    }
