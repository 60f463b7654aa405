"""``bureau services start|stop|status``: the four services as background processes."""

from __future__ import annotations

import asyncio
import json
import os
import signal

import typer
from rich.console import Console
from rich.table import Table

from carbon_bureau.services import LOG_DIR, ROOT, SERVICES, ServiceProcess, migrate, service_env

app = typer.Typer(add_completion=False, no_args_is_help=True)
STATE = ROOT / "var" / "stack" / "services.json"
console = Console()


def _stack_env() -> tuple[str, str]:
    from carbon_bureau.stack.api import environment

    env = environment()
    return env["KAFKA_BOOTSTRAP"], env["PG_URL_BASE"]


@app.command()
def start() -> None:
    """Create/migrate each service's database, start the four services, wait for /readyz."""
    from carbon_bureau.stack.api import postgres_handle

    kafka, pg = _stack_env()
    handle = postgres_handle()
    procs: list[ServiceProcess] = []
    for spec in SERVICES:
        handle.create_database(spec.database)
        env = service_env(spec, kafka, pg)
        with console.status(f"migrating {spec.name}"):
            migrate(spec, env)
        p = ServiceProcess(spec, env, LOG_DIR / f"{spec.name}.log")
        p.start()
        procs.append(p)

    async def _wait() -> None:
        await asyncio.gather(*(p.wait_ready() for p in procs))

    with console.status("waiting for /readyz of the four services"):
        asyncio.run(_wait())
    STATE.parent.mkdir(parents=True, exist_ok=True)
    STATE.write_text(json.dumps({p.spec.name: p.proc.pid for p in procs if p.proc}))
    for p in procs:
        console.print(f"[green]✓[/] {p.spec.name:<10} {p.url}/docs   log: {p.log_path.relative_to(ROOT)}")


@app.command()
def stop() -> None:
    """SIGTERM the services started by ``start`` (graceful: finish batch, commit, flush)."""
    if not STATE.exists():
        console.print("no services running")
        return
    for name, pid in json.loads(STATE.read_text()).items():
        try:
            os.killpg(pid, signal.SIGTERM)
            console.print(f"stopped {name} (pid {pid})")
        except ProcessLookupError:
            console.print(f"{name} was not running")
    STATE.unlink()


@app.command()
def status() -> None:
    """Show which services answer /readyz."""
    import httpx

    table = Table("service", "url", "ready")
    for spec in SERVICES:
        url = f"http://127.0.0.1:{spec.port}"
        try:
            ok = httpx.get(f"{url}/readyz", timeout=2).status_code == 200
        except httpx.HTTPError:
            ok = False
        table.add_row(spec.name, url, "[green]yes[/]" if ok else "[red]no[/]")
    console.print(table)
