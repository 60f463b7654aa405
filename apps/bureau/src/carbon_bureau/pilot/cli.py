"""``bureau pilot generate|replay``: the typer sub-app the lead wires into ``carbon_bureau.cli``.

Progress bars and tables go to stderr (rich), so stdout stays clean for scripts.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from pathlib import Path
from typing import Annotated, Any

import httpx
import typer
from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    SpinnerColumn,
    TextColumn,
    TimeElapsedColumn,
)
from rich.table import Table

from carbon_common.auth import mint_dev_token, record_token_header

from .dataset import PilotDataset
from .generator import PILOT_MONTHS, generate
from .regions import PILOT_TOTAL
from .replay import ReplayResult, replay_http, replay_kafka

app = typer.Typer(add_completion=False, no_args_is_help=True, help="Pilot dataset: generate it, replay it.")
err = Console(stderr=True, soft_wrap=True)

Seed = Annotated[int, typer.Option("--seed", help="Random seed (same seed, same bytes)")]
Enterprises = Annotated[int, typer.Option("--enterprises", help="Number of enterprises (pilot: 1,122)")]
Months = Annotated[int, typer.Option("--months", help="Number of months (pilot: 45)")]
Start = Annotated[str, typer.Option("--start", help="First period, YYYY-MM")]


def _progress() -> Progress:
    return Progress(
        SpinnerColumn(),
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=err,
    )


def summary_table(dataset: PilotDataset, seconds: float | None = None) -> Table:
    """A short, readable summary of the dataset and of what a correct platform must make of it."""
    c: dict[str, Any] = dataset.expectations["counts"]
    table = Table(title="Pilot dataset", show_header=False)
    table.add_column(style="bold")
    table.add_column(justify="right")
    cities = ", ".join(f"{k}: {v}" for k, v in c["enterprises_by_city"].items())
    rows = [
        ("enterprises", f"{c['enterprises']:,} ({cities})"),
        ("industries / ETS participants", f"{len(c['enterprises_by_industry'])} / {c['ets_participants']}"),
        ("periods", " .. ".join(dataset.params["periods"])),
        ("departments / batches", f"{c['departments']} / {c['batches']:,}"),
        ("records in stream", f"{c['records']:,}"),
        ("expected accepted (new facts + corrections)", f"{c['expected_accepted']:,}"),
        ("facts after corrections", f"{c['facts']:,}"),
        ("duplicates / corrections", f"{c['duplicates']:,} / {c['corrections']:,}"),
        ("rejections (malformed)", f"{c['rejected']:,}"),
        (
            "cross-validation flags (electricity / verified)",
            f"{c['electricity_flags']} / {c['verified_flags']}",
        ),
        (
            "expected emissions, total",
            f"{float(dataset.expectations['emissions']['total']['total']) / 1e6:,.2f} MtCO2",
        ),
    ]
    if seconds is not None:
        rows.append(("generation time", f"{seconds:.1f} s"))
    for k, v in rows:
        table.add_row(k, v)
    return table


@app.command("generate")
def generate_cmd(
    out: Annotated[Path, typer.Option("--out", help="Output directory")],
    seed: Seed = 2021,
    enterprises: Enterprises = PILOT_TOTAL,
    months: Months = PILOT_MONTHS,
    start: Start = "2021-01",
) -> None:
    """Generate the dataset and write enterprises.jsonl, submissions/<department>.jsonl, expectations.json."""
    with _progress() as progress:
        task = progress.add_task("generating", total=None)
        t0 = time.perf_counter()
        dataset = generate(seed=seed, enterprises=enterprises, months=months, start=start)
        seconds = time.perf_counter() - t0
        progress.update(task, total=1, completed=1)
        writing = progress.add_task("writing files", total=len(dataset.departments) + 2)
        dataset.write(out, on_file=lambda _rel: progress.advance(writing))
    err.print(summary_table(dataset, seconds))
    err.print(f"written to {out}")


def _load(data: Path | None, seed: int, enterprises: int, months: int, start: str) -> PilotDataset:
    if data is not None:
        return PilotDataset.load(data)
    with err.status("generating the dataset"):
        return generate(seed=seed, enterprises=enterprises, months=months, start=start)


def _report(result: ReplayResult, what: str) -> None:
    table = Table(title=f"Replay ({what})", show_header=False)
    table.add_column(style="bold")
    table.add_column(justify="right")
    table.add_row("enterprises sent", f"{result.enterprises:,}")
    table.add_row("records sent", f"{result.records:,}")
    table.add_row("requests / batches", f"{result.requests:,}")
    if result.statuses:
        table.add_row("HTTP statuses", ", ".join(f"{k}: {v}" for k, v in sorted(result.statuses.items())))
    if result.accepted or result.rejected:
        table.add_row("accepted / rejected (as reported)", f"{result.accepted:,} / {result.rejected:,}")
    table.add_row("elapsed", f"{result.elapsed_s:.1f} s ({result.records_per_s:,.0f} records/s)")
    table.add_row("errors", str(len(result.errors)))
    err.print(table)
    for line in result.errors[:10]:
        err.print(f"[red]{line}[/red]")


@app.command("replay")
def replay_cmd(
    to: Annotated[
        str | None, typer.Option("--to", help="Ingest base URL, e.g. http://127.0.0.1:8001")
    ] = None,
    kafka: Annotated[
        str | None, typer.Option("--kafka", help="Kafka bootstrap servers: records go to dept.submissions.v1")
    ] = None,
    rate: Annotated[
        float | None, typer.Option("--rate", help="Records per second (default: unpaced)")
    ] = None,
    data: Annotated[Path | None, typer.Option("--data", help="Directory written by `generate`")] = None,
    prefix: Annotated[str, typer.Option("--prefix", help="Path prefix of the ingest API, e.g. /ingest")] = "",
    concurrency: Annotated[int, typer.Option("--concurrency", help="HTTP requests in flight")] = 16,
    token: Annotated[str | None, typer.Option("--token", envvar="CARBON_TOKEN", help="Bearer token")] = None,
    seed: Seed = 2021,
    enterprises: Enterprises = PILOT_TOTAL,
    months: Months = PILOT_MONTHS,
    start: Start = "2021-01",
) -> None:
    """Send the enterprises over HTTP, then the submissions over HTTP (or to Kafka with --kafka)."""
    if to is None and kafka is None:
        raise typer.BadParameter("give --to URL and/or --kafka BOOTSTRAP")
    dataset = _load(data, seed, enterprises, months, start)
    result = asyncio.run(_replay(dataset, to, kafka, rate, prefix, concurrency, token))
    _report(result, "Kafka" if kafka else "HTTP")
    if result.errors:
        raise typer.Exit(1)


async def _replay(
    dataset: PilotDataset,
    to: str | None,
    kafka: str | None,
    rate: float | None,
    prefix: str,
    concurrency: int,
    token: str | None,
) -> ReplayResult:
    headers = {"authorization": f"Bearer {token}"} if token else {}
    with _progress() as progress:
        result = ReplayResult()
        if to is not None:
            async with httpx.AsyncClient(base_url=to, timeout=120, headers=headers) as client:
                ents = progress.add_task("enterprises", total=len(dataset.enterprises))
                recs = None if kafka else progress.add_task("records", total=dataset.record_count)
                result = (
                    await replay_http(
                        dataset,
                        client,
                        prefix=prefix,
                        concurrency=concurrency,
                        rate=rate,
                        enterprises=True,
                        on_enterprise=lambda n: progress.advance(ents, n),
                        on_records=(lambda n: progress.advance(recs, n)) if recs is not None else None,
                    )
                    if kafka is None
                    else await _enterprises_only(dataset, client, prefix, concurrency, progress, ents)
                )
        if kafka is not None:
            recs_k = progress.add_task("records → Kafka", total=dataset.record_count)
            sent = await replay_kafka(
                dataset,
                kafka,
                rate=rate,
                on_records=lambda n: progress.advance(recs_k, n),
                headers_for=_department_token_headers(),
            )
            sent.enterprises, sent.statuses = result.enterprises, result.statuses
            sent.errors = result.errors + sent.errors
            result = sent
    return result


def _department_token_headers() -> Callable[[str], list[tuple[str, bytes]]]:
    """Sign each department's Kafka records with a development token (org = the department, scope
    ``submissions:write``), minted once per department: ingest verifies it (docs/security.md)."""
    tokens: dict[str, list[tuple[str, bytes]]] = {}

    def headers(department: str) -> list[tuple[str, bytes]]:
        if department not in tokens:
            tokens[department] = [record_token_header(mint_dev_token(department, "submissions:write"))]
        return tokens[department]

    return headers


async def _enterprises_only(
    dataset: PilotDataset,
    client: httpx.AsyncClient,
    prefix: str,
    concurrency: int,
    progress: Progress,
    task: Any,
) -> ReplayResult:
    only = PilotDataset(dataset.params, dataset.enterprises, [], [], dataset.expectations)
    return await replay_http(
        only,
        client,
        prefix=prefix,
        concurrency=concurrency,
        on_enterprise=lambda n: progress.advance(task, n),
    )
