"""``bureau bench run``: the end-to-end benchmark through the real stack (``make bench``).

Needs a running broker and PostgreSQL (``KAFKA_BOOTSTRAP``, ``PG_URL_BASE``: ``eval "$(bureau
stack env)"``); ``scripts/bench.sh`` starts them when they are not running. Exits 1 with FAIL
when the results are wrong or incomplete, whatever the speed.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
import uvloop
from rich.console import Console

from carbon_bureau.pilot.generator import PILOT_MONTHS
from carbon_bureau.pilot.regions import PILOT_TOTAL
from carbon_bureau.services import ROOT

app = typer.Typer(
    add_completion=False, no_args_is_help=True, help="End-to-end benchmark through the real stack."
)
console = Console(stderr=True, soft_wrap=True)


@app.callback()
def _group() -> None:
    """End-to-end benchmark through the real stack (a group, so ``run`` stays a sub-command)."""


@app.command("run")
def run_cmd(
    enterprises: Annotated[int, typer.Option(help="Enterprises (the pilot: 1,122)")] = PILOT_TOTAL,
    months: Annotated[int, typer.Option(help="Months from 2021-01 (the pilot: 45)")] = PILOT_MONTHS,
    seed: Annotated[int, typer.Option(help="Generator seed")] = 2021,
    label: Annotated[
        str | None, typer.Option(help="Run label in the report (default: full or quick)")
    ] = None,
    port_base: Annotated[
        int | None,
        typer.Option(help="Service ports base..base+3 (default: 8001-8004 if free, else any free)"),
    ] = None,
    concurrency: Annotated[int, typer.Option(help="Replay HTTP requests in flight")] = 16,
    latency_rate: Annotated[float, typer.Option(help="Paced load, facts/s")] = 1000.0,
    latency_seconds: Annotated[float, typer.Option(help="Paced load duration, s")] = 25.0,
    quote_concurrency: Annotated[int, typer.Option(help="Quote API requests in flight")] = 16,
    quote_seconds: Annotated[float, typer.Option(help="Quote API duration, s")] = 10.0,
    timeout: Annotated[float, typer.Option(help="Give up on the replay after this many seconds")] = 1800.0,
    docs: Annotated[Path, typer.Option(help="Where benchmarks.md/.json are written")] = ROOT / "docs",
    write: Annotated[bool, typer.Option("--write/--no-write", help="Update the docs")] = True,
    keep_databases: Annotated[bool, typer.Option(help="Keep the bench databases for inspection")] = False,
    phases: Annotated[
        str,
        typer.Option(
            help="Phases after the replay, comma-separated (latency,quotes,methodology,passthrough); "
            "a partial run never rewrites the docs"
        ),
    ] = "latency,quotes,methodology,passthrough",
) -> None:
    """Replay the pilot through Kafka + PostgreSQL + four service processes; measure and verify."""
    from .report import summary_table, write_report
    from .runner import BenchOptions, run_bench

    full = (enterprises, months) == (PILOT_TOTAL, PILOT_MONTHS)
    known = ("latency", "quotes", "methodology", "passthrough")
    chosen = tuple(p.strip() for p in phases.split(",") if p.strip())
    unknown = [p for p in chosen if p not in known]
    if unknown:
        raise typer.BadParameter(f"unknown phase(s) {', '.join(unknown)}; known: {', '.join(known)}")
    write = write and set(chosen) == set(known)
    opts = BenchOptions(
        enterprises=enterprises, months=months, seed=seed, label=label or ("full" if full else "quick"),
        port_base=port_base, concurrency=concurrency, latency_rate=latency_rate,
        latency_seconds=latency_seconds, quote_concurrency=quote_concurrency, quote_seconds=quote_seconds,
        timeout=timeout, keep_databases=keep_databases, phases=chosen,
    )  # fmt: skip
    try:
        # the services' event loop (uvicorn[standard] runs them on uvloop): the client's own CPU is
        # taken from the cores it measures
        run = uvloop.run(run_bench(opts, console))
    except Exception as exc:
        console.print(f"[bold red]FAIL[/]: the bench did not complete: {type(exc).__name__}: {exc}")
        raise typer.Exit(1) from exc
    console.print(summary_table(run))
    if write:
        md, js = write_report(run, docs)
        console.print(f"written {md} and {js}")
    if not run["ok"]:
        for c in run["checks"]:
            if not c["ok"]:
                console.print(f"[bold red]FAIL[/] {c['name']}: {c['detail']}")
        console.print("[bold red]FAIL[/]: the results are wrong or incomplete")
        raise typer.Exit(1)
    console.print("[bold green]PASS[/]: results verified")
