"""Protocol-level readiness and topic creation with aiokafka (the client the services use).

"Ready" means what a service needs, not that the port is open: a metadata request returns a
broker, and the group coordinator answers (which also creates ``__consumer_offsets``, so the
first consumer group of a test does not stall on ``GroupCoordinatorNotAvailable``).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.errors import KafkaError

from .procs import Deadline, StackError, port_open, tail

#: CreateTopics error code for "topic already exists": fine, creation is idempotent.
TOPIC_ALREADY_EXISTS = 36


@contextmanager
def _quiet_aiokafka() -> Iterator[None]:
    """aiokafka logs every refused connection at ERROR; while we are *expecting* refusals
    (broker still starting), that is noise, not news."""
    logger = logging.getLogger("aiokafka")
    previous = logger.level
    logger.setLevel(logging.CRITICAL)
    try:
        yield
    finally:
        logger.setLevel(previous)


async def _probe(bootstrap: str, group: str | None) -> bool:
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap, request_timeout_ms=5000)
    try:
        await admin.start()
        cluster = await admin.describe_cluster()
        if not cluster.get("brokers"):
            return False
        if group is not None:
            await admin.find_coordinator(group)
        return True
    except (TimeoutError, KafkaError, OSError):
        return False
    finally:
        await admin.close()


async def wait_until_ready(
    bootstrap: str, *, alive: Callable[[], bool], log_file: Path, within: float = 120.0
) -> None:
    """Poll until the broker serves metadata and a group coordinator, or fail with its log.

    ``alive`` reports whether the broker process still runs: if it died (bad config, port
    taken, wrong Java) we fail at once instead of waiting for the timeout.
    """
    deadline = Deadline(within)
    host, port = bootstrap.rsplit(":", 1)
    with _quiet_aiokafka():
        while True:
            if not alive():
                raise StackError(
                    f"Kafka exited during start-up (JVM output: {log_file.with_name('kafka-console.log')}). "
                    f"Last lines of {log_file}:\n{tail(log_file, 25)}"
                )
            if port_open(host, int(port)) and await _probe(bootstrap, group="carbon-stack-readiness"):
                return
            if deadline.expired:
                raise StackError(
                    f"Kafka did not become ready on {bootstrap} within {within:.0f}s. "
                    f"Last lines of {log_file}:\n{tail(log_file, 25)}"
                )
            await asyncio.sleep(0.25)


async def is_ready(bootstrap: str) -> bool:
    """One quick metadata round trip (used by ``status`` and idempotent ``up``)."""
    host, port = bootstrap.rsplit(":", 1)
    if not port_open(host, int(port)):
        return False
    with _quiet_aiokafka():
        return await _probe(bootstrap, group=None)


async def ensure_topics(bootstrap: str, partitions: dict[str, int]) -> list[str]:
    """Create the missing topics (replication factor 1); return the names that were created."""
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap, request_timeout_ms=30000)
    await admin.start()
    try:
        existing = set(await admin.list_topics())
        missing = [NewTopic(name, n, 1) for name, n in partitions.items() if name not in existing]
        if not missing:
            return []
        response = await admin.create_topics(missing)
        failed = [
            f"{name}: error {code} {message or ''}".strip()
            for name, code, message in response.topic_errors
            if code not in (0, TOPIC_ALREADY_EXISTS)
        ]
        if failed:
            raise StackError("Could not create Kafka topics: " + "; ".join(failed))
        return [t.name for t in missing]
    finally:
        await admin.close()
