"""The local stack as functions: what ``make up``/``make down``, the CLI and tests call.

Every function is idempotent and records what it started in ``var/stack/state.json`` (under a
file lock), so a later process - another CLI call, a pytest session - can find, reuse or stop
it. Nothing here is a fixed sleep: readiness is always a real client connection.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager

from rich.console import Console

from carbon_common.events.topics import Topics

from . import state
from .kafka import KafkaNode
from .kafka_dist import ensure_kafka_jars
from .kafka_ready import is_ready
from .pg_handle import SERVICE_DATABASES, PgHandle
from .postgres import postmaster_pid, start_postgres, stop_postgres
from .procs import file_lock, run_sync
from .settings import LOCALHOST, StackSettings

MAIN_PARTITIONS = 6
DLQ_PARTITIONS = 1


def topic_partitions() -> dict[str, int]:
    """Every service topic with 6 partitions (per-entity ordering, room for consumers) and its
    ``.dlq`` twin with 1 (a parking lot, read by humans, order irrelevant)."""
    return {t: (DLQ_PARTITIONS if t.endswith(".dlq") else MAIN_PARTITIONS) for t in Topics.all_with_dlq()}


def _settings(settings: StackSettings | None) -> StackSettings:
    return settings or StackSettings.from_env()


@contextmanager
def _locked(s: StackSettings) -> Iterator[None]:
    with file_lock(s.stack_dir / ".lock"):
        yield


def _console(console: Console | None) -> Console:
    return console or Console(stderr=True, soft_wrap=True)


# -- Kafka -------------------------------------------------------------------------------------
def kafka_up(settings: StackSettings | None = None, console: Console | None = None) -> str:
    """Start the broker unless ours already runs, create the topics; return the bootstrap."""
    s, out = _settings(settings), _console(console)
    with _locked(s):
        recorded = state.get(s.state_file, "kafka")
        node = KafkaNode.from_settings(s)
        pid = int(recorded.get("pid") or 0)
        if not node.is_ours(pid) and (orphan := node.find_running()):  # state.json lost: stop and restart it
            node.stop(orphan)
        same_config = (recorded.get("port"), recorded.get("controller_port"), recorded.get("version")) == (
            s.kafka_port,
            s.controller_port,
            s.kafka_version,
        )
        if node.is_ours(pid) and same_config and run_sync(is_ready(node.bootstrap)):
            out.print(f"[green]✓[/] Kafka already running on {node.bootstrap} (pid {pid})")
        else:
            if node.is_ours(pid):  # alive but unhealthy or reconfigured: restart it cleanly
                out.print(
                    f"[yellow]Kafka (pid {pid}) is not answering or its ports/version changed: restarting it"
                )
                node.stop(pid)
                state.put(s.state_file, "kafka", None)
            ensure_kafka_jars(s.kafka_version, s.kafka_libs, out)  # not part of the start-up time
            started = time.monotonic()
            pid = node.start(out)
            state.put(
                s.state_file,
                "kafka",
                {
                    "pid": pid,
                    "port": s.kafka_port,
                    "controller_port": s.controller_port,
                    "version": s.kafka_version,
                    "bootstrap": node.bootstrap,
                    "ready_seconds": round(time.monotonic() - started, 2),
                    "log": str(node.log_file),
                },
            )
        created = node.create_topics(topic_partitions())
        if created:
            out.print(f"[green]✓[/] created {len(created)} topics")
        return node.bootstrap


def kafka_down(settings: StackSettings | None = None, console: Console | None = None) -> bool:
    """Stop our broker if it runs; return False when there was nothing to stop."""
    s, out = _settings(settings), _console(console)
    with _locked(s):
        recorded = state.get(s.state_file, "kafka")
        node = KafkaNode.from_settings(s)
        pid = int(recorded.get("pid") or 0) or node.find_running() or 0
        stopped = False
        if node.is_ours(pid):
            killed = node.stop(pid)
            out.print(f"[green]✓[/] Kafka stopped (pid {pid}{', killed after timeout' if killed else ''})")
            stopped = True
        state.put(s.state_file, "kafka", None)
        return stopped


def restart_kafka(settings: StackSettings | None = None, console: Console | None = None) -> str:
    """Stop and start the broker on the same data (topics and committed offsets survive);
    for tests of reconnects and redelivery."""
    kafka_down(settings, console)
    return kafka_up(settings, console)


# -- PostgreSQL --------------------------------------------------------------------------------
def postgres_handle(settings: StackSettings | None = None) -> PgHandle:
    """The handle ``postgres_up`` would return, without starting anything."""
    s = _settings(settings)
    if s.database_url:
        return PgHandle.from_url(s.database_url)
    port = state.get(s.state_file, "postgres").get("port", s.pg_port)
    return PgHandle(
        f"postgresql+asyncpg://postgres@{LOCALHOST}:{port}",
        data_dir=s.pg_data_dir,
        log_file=s.log_dir / "postgres.log",
    )


def postgres_up(
    settings: StackSettings | None = None,
    console: Console | None = None,
    databases: tuple[str, ...] = SERVICE_DATABASES,
) -> PgHandle:
    """Start PostgreSQL (or use ``DATABASE_URL``) and create the service databases."""
    s, out = _settings(settings), _console(console)
    with _locked(s):
        if s.database_url:
            handle = PgHandle.from_url(s.database_url)
            run_sync(handle.await_ready(30))
            out.print(f"[green]✓[/] using external PostgreSQL from DATABASE_URL ({handle.base_url})")
        else:
            already = postmaster_pid(s.pg_data_dir)
            fresh = not (s.pg_data_dir / "PG_VERSION").exists()
            started = time.monotonic()
            with out.status(f"Starting PostgreSQL on 127.0.0.1:{s.pg_port}"):
                handle = start_postgres(s.pg_data_dir, s.pg_port, log_file=s.log_dir / "postgres.log")
            took = time.monotonic() - started
            pid = postmaster_pid(s.pg_data_dir)
            verb = "already running" if already else ("initialised and started" if fresh else "started")
            out.print(f"[green]✓[/] PostgreSQL {verb} on 127.0.0.1:{s.pg_port} (pid {pid}, {took:.1f}s)")
            state.put(
                s.state_file,
                "postgres",
                {
                    "pid": pid,
                    "port": s.pg_port,
                    "data_dir": str(s.pg_data_dir),
                    "base_url": handle.base_url,
                    "log": str(handle.log_file),
                    "ready_seconds": round(took, 2) if not already else None,
                },
            )
        created = [db for db in databases if handle.create_database(db)]
        if created:
            out.print(f"[green]✓[/] created databases: {', '.join(created)}")
        return handle


def postgres_down(settings: StackSettings | None = None, console: Console | None = None) -> bool:
    """Stop our server (never an external ``DATABASE_URL`` one); False if nothing ran."""
    s, out = _settings(settings), _console(console)
    with _locked(s):
        stopped = False
        if not s.database_url:
            pid = postmaster_pid(s.pg_data_dir)
            stopped = stop_postgres(s.pg_data_dir)
            if stopped:
                out.print(f"[green]✓[/] PostgreSQL stopped (pid {pid})")
        state.put(s.state_file, "postgres", None)
        return stopped


def environment(settings: StackSettings | None = None) -> dict[str, str]:
    """The variables clients need: ``KAFKA_BOOTSTRAP`` and ``PG_URL_BASE`` (append ``/<db>``)."""
    s = _settings(settings)
    kafka = state.get(s.state_file, "kafka")
    return {
        "KAFKA_BOOTSTRAP": kafka.get("bootstrap") or s.bootstrap,
        "PG_URL_BASE": postgres_handle(s).base_url,
    }
