"""Fault-injection points for crash tests against the real stack (off unless configured).

``CARBON_FAULTS="uow.before_commit=pause"`` makes a process announce on stderr that it reached
the point and then wait there, so a test can SIGKILL it at exactly that moment (e.g. after a
consumer applied a batch but before the transaction committed). Refused outside
development/test environments by the service settings check in ``runtime``.
"""

from __future__ import annotations

import asyncio
import contextvars
import os
import sys

_ANNOUNCE = "FAULT-POINT-REACHED"
#: what the current task is working on (the bus sets the topic being consumed), so a fault can
#: target e.g. ``uow.before_commit:ingest.facts.v1`` and not every transaction of the process
scope: contextvars.ContextVar[str] = contextvars.ContextVar("fault_scope", default="")


def configured() -> dict[str, str]:
    spec = os.environ.get("CARBON_FAULTS", "")
    out: dict[str, str] = {}
    for part in filter(None, (p.strip() for p in spec.split(","))):
        name, _, action = part.partition("=")
        out[name] = action or "pause"
    return out


_FAULTS = configured()


async def point(name: str) -> None:
    """A named fault point; a no-op unless ``CARBON_FAULTS`` names it."""
    if not _FAULTS:
        return
    scoped = f"{name}:{scope.get()}"
    action = _FAULTS.get(scoped) or _FAULTS.get(name)
    if action is None:
        return
    sys.stderr.write(f"{_ANNOUNCE} {scoped} pid={os.getpid()}\n")
    sys.stderr.flush()
    if action == "pause":
        await asyncio.sleep(3600)
