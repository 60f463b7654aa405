"""``python -m carbon_bureau.stack up|down|status|env`` (wrapped by ``scripts/stack.sh``).

Human output goes to stderr via rich; only ``env`` writes to stdout, so that
``eval "$(scripts/stack.sh env)"`` sees nothing but ``export`` lines.
"""

from __future__ import annotations

import shlex
import shutil
from dataclasses import replace
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from . import api, state
from .kafka import KafkaNode
from .kafka_ready import is_ready
from .postgres import postmaster_pid
from .procs import StackError, run_sync
from .settings import StackSettings

app = typer.Typer(add_completion=False, no_args_is_help=True, help="Local real stack: Kafka + PostgreSQL.")
err = Console(stderr=True, soft_wrap=True)

KafkaPort = Annotated[
    int | None, typer.Option("--kafka-port", help="Broker port (env CARBON_KAFKA_PORT, default 9092)")
]
ControllerPort = Annotated[
    int | None,
    typer.Option(
        "--controller-port", help="KRaft controller port (env CARBON_KAFKA_CONTROLLER_PORT, default 9093)"
    ),
]
PgPort = Annotated[
    int | None, typer.Option("--pg-port", help="PostgreSQL port (env CARBON_PG_PORT, default 55432)")
]
KafkaVersion = Annotated[
    str | None,
    typer.Option("--kafka-version", help="Kafka version (env CARBON_KAFKA_VERSION, default 4.1.1)"),
]


def _settings(
    *,
    kafka_port: int | None = None,
    controller_port: int | None = None,
    pg_port: int | None = None,
    kafka_version: str | None = None,
) -> StackSettings:
    """Environment defaults, overridden by explicit CLI options."""
    s = StackSettings.from_env()
    return replace(
        s,
        kafka_port=kafka_port or s.kafka_port,
        controller_port=controller_port or s.controller_port,
        pg_port=pg_port or s.pg_port,
        kafka_version=kafka_version or s.kafka_version,
    )


@app.command()
def up(
    *,
    kafka: Annotated[bool, typer.Option("--kafka/--no-kafka", help="Start Kafka")] = True,
    postgres: Annotated[bool, typer.Option("--postgres/--no-postgres", help="Start PostgreSQL")] = True,
    kafka_port: KafkaPort = None,
    controller_port: ControllerPort = None,
    pg_port: PgPort = None,
    kafka_version: KafkaVersion = None,
) -> None:
    """Start Kafka and PostgreSQL (idempotent: what already runs is kept)."""
    s = _settings(
        kafka_port=kafka_port, controller_port=controller_port, pg_port=pg_port, kafka_version=kafka_version
    )
    try:
        if postgres:
            api.postgres_up(s, err)
        if kafka:
            api.kafka_up(s, err)
    except StackError as exc:
        err.print(f"✗ {exc}", style="red", markup=False, highlight=False)
        raise typer.Exit(1) from exc
    err.print(f'[dim]logs: {s.log_dir}   state: {s.state_file}   next: eval "$(scripts/stack.sh env)"')


@app.command()
def down(
    *,
    kafka: Annotated[bool, typer.Option("--kafka/--no-kafka", help="Stop Kafka")] = True,
    postgres: Annotated[bool, typer.Option("--postgres/--no-postgres", help="Stop PostgreSQL")] = True,
    wipe: Annotated[bool, typer.Option("--wipe", help="Also delete the data (topics, databases)")] = False,
) -> None:
    """Stop what runs (SIGTERM, wait, SIGKILL); exits 0 when nothing was running."""
    s = _settings()
    stopped = False
    if kafka:
        stopped |= api.kafka_down(s, err)
    if postgres:
        stopped |= api.postgres_down(s, err)
    if not stopped:
        err.print("[dim]nothing was running")
    if wipe:
        for folder in ((s.kafka_dir,) if kafka else ()) + ((s.pg_data_dir,) if postgres else ()):
            shutil.rmtree(folder, ignore_errors=True)
            err.print(f"[yellow]wiped {folder}")


@app.command()
def status() -> None:
    """Show pids, ports and whether each component answers a real client request."""
    s = _settings()
    table = Table("component", "pid", "endpoint", "state", "log")
    k = state.get(s.state_file, "kafka")
    node = KafkaNode.from_settings(replace(s, kafka_port=k.get("port", s.kafka_port)))
    kpid = k.get("pid") if node.is_ours(k.get("pid")) else node.find_running()
    ready = bool(kpid) and run_sync(is_ready(node.bootstrap))
    label = "[green]ready" if ready else ("[yellow]running, not answering" if kpid else "[dim]stopped")
    table.add_row("kafka", str(kpid or "-"), node.bootstrap, label, _rel(node.log_file, s))
    handle = api.postgres_handle(s)
    pid = postmaster_pid(s.pg_data_dir) if handle.managed else None
    try:
        run_sync(handle.await_ready(2.0))
        label = "[green]ready" + ("" if handle.managed else " (DATABASE_URL)")
    except StackError:
        label = "[yellow]running, not answering" if pid else "[dim]stopped"
    endpoint = handle.base_url.rsplit("@", 1)[-1]
    table.add_row(
        "postgres", str(pid or "-"), endpoint, label, _rel(handle.log_file, s) if handle.log_file else "-"
    )
    Console(soft_wrap=True).print(table)


def _rel(path: Path, s: StackSettings) -> str:
    return str(path.relative_to(s.root)) if path.is_relative_to(s.root) else str(path)


@app.command()
def env() -> None:
    """Print ``export`` lines for the Makefile / test script: eval "$(scripts/stack.sh env)"."""
    for key, value in api.environment(_settings()).items():
        print(f"export {key}={shlex.quote(value)}")


def main() -> None:
    app()
