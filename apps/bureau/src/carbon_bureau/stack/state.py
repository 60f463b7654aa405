"""``var/stack/state.json``: what ``up`` started (pids, ports), so ``down``/``status``/``env``
work from any later process, including the Makefile and the test script."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any


def load(path: Path) -> dict[str, dict[str, Any]]:
    """The recorded components (``{"kafka": {...}, "postgres": {...}}``); empty if none."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (FileNotFoundError, json.JSONDecodeError):
        return {}
    return data if isinstance(data, dict) else {}


def get(path: Path, component: str) -> dict[str, Any]:
    return load(path).get(component) or {}


def put(path: Path, component: str, entry: dict[str, Any] | None) -> None:
    """Record (or, with ``None``, forget) one component. Written atomically via rename so a
    crash never leaves a half-written file behind."""
    data = load(path)
    if entry is None:
        data.pop(component, None)
    else:
        data[component] = entry
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(f".{os.getpid()}.tmp")
    tmp.write_text(json.dumps(data, indent=2, sort_keys=True) + "\n", encoding="utf-8")
    tmp.replace(path)
