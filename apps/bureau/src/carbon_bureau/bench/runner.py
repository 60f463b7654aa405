"""One bench run, phase by phase, on the broker and PostgreSQL of ``KAFKA_BOOTSTRAP`` / ``PG_URL_BASE``."""

from __future__ import annotations

import asyncio
import time
from dataclasses import asdict, dataclass
from typing import Any
from urllib.parse import urlsplit

import orjson
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from carbon_bureau.pilot import PilotDataset, generate, replay_http
from carbon_bureau.pilot.rawhttp import RawHttpPool
from carbon_common.testing import kafka_bootstrap, pg_url_base

from . import latency as lat
from .machine import machine_info
from .methodology import book_loans, methodology_change
from .observer import TopicObserver
from .passthrough import passthrough_isolated
from .probes import Probe
from .processes import ResourceMonitor, Services, choose_ports, listener_pid
from .quotes import quote_load
from .stats import rate, rounded
from .verify import verify


@dataclass(frozen=True, slots=True)
class BenchOptions:
    enterprises: int
    months: int
    seed: int
    label: str
    port_base: int | None = None
    concurrency: int = 16
    latency_rate: float = 1000.0
    latency_seconds: float = 25.0
    quote_concurrency: int = 16
    quote_seconds: float = 10.0
    timeout: float = 1800.0
    keep_databases: bool = False
    #: the phases after the replay to run (a subset while iterating; the report marks the rest)
    phases: tuple[str, ...] = ("latency", "quotes", "methodology", "passthrough")


def _progress(console: Console) -> Progress:
    return Progress(
        TextColumn("{task.description:<34}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
        console=console,
    )  # fmt: skip


async def _wait_complete(
    probe: Probe,
    dataset: PilotDataset,
    console: Console,
    timeout: float,
    replay: asyncio.Task[Any],
    sent: list[int],
) -> float:
    """Poll until the pipeline is complete; returns the monotonic time it was first seen so.

    The probe's exact counts scan the services' tables, which costs the server CPU that the
    pipeline needs: while the replay is still sending, the bars move from PostgreSQL's statistics
    every ``_POLL_SENDING`` s (the records-sent bar every second from the replay's own count); once
    everything is sent, the exact counts run every ``_POLL_DRAINING`` s, which is the resolution
    of the end-to-end time."""
    want = dataset.expectations["counts"]["expected_accepted"]
    n = len(dataset.enterprises)
    end = time.monotonic() + timeout
    with _progress(console) as progress:
        t_sent = progress.add_task("replay: records sent", total=dataset.record_count)
        t_ing = progress.add_task("ingest: facts accepted", total=want)
        t_acc = progress.add_task("accounting: facts applied", total=None)
        t_rat = progress.add_task("rating: enterprises rated", total=n)
        t_len = progress.add_task("lending: ratings in read model", total=n)
        next_probe = 0.0
        p: Any = None
        while time.monotonic() < end:
            progress.update(t_sent, completed=sent[0])
            if replay.done() and replay.exception() is not None:
                raise RuntimeError(f"replay failed: {replay.exception()!r}")
            if not replay.done():  # sending: the statistics' estimates only (cheap)
                if time.monotonic() >= next_probe:
                    next_probe = time.monotonic() + _POLL_SENDING
                    ingested, applied = await probe.estimate()
                    rating, lending = await probe.rating_current(), await probe.lending_current()
                    progress.update(t_ing, completed=min(ingested, want))
                    progress.update(t_acc, completed=applied, total=max(applied, ingested))
                    progress.update(t_rat, completed=len(rating))
                    progress.update(t_len, completed=sum(1 for k, v in rating.items() if lending.get(k) == v))
            else:
                p = await probe.progress(expect_accepted=want)
                progress.update(t_ing, completed=p.ingest_accepted)
                progress.update(t_acc, completed=p.accounted_revisions, total=p.ingest_accounted)
                progress.update(t_rat, completed=p.rated)
                progress.update(t_len, completed=p.lending_in_step)
                if replay.done() and p.complete(want, n):
                    return time.monotonic()
            await asyncio.sleep(_POLL_DRAINING if replay.done() else 1.0)
    raise TimeoutError(f"the pipeline did not complete within {timeout:.0f} s (last progress: {p})")


_POLL_SENDING = 5.0
_POLL_DRAINING = 0.5


def _span(seen: list[Any], t0_wall: float) -> tuple[float | None, float | None]:
    """(events/s over first→last, last event seconds after t0)."""
    if not seen:
        return None, None
    ts = [s.ts for s in seen]
    return rate(len(ts), max(ts) - min(ts)), max(ts) - t0_wall


async def run_bench(opts: BenchOptions, console: Console) -> dict[str, Any]:
    kafka, pg = kafka_bootstrap(), pg_url_base()
    with console.status(f"generating {opts.enterprises:,} enterprises × {opts.months} months"):
        dataset = await asyncio.to_thread(
            generate, seed=opts.seed, enterprises=opts.enterprises, months=opts.months
        )
    counts = dataset.expectations["counts"]
    codes = [e["credit_code"] for e in dataset.enterprises]
    console.print(
        f"[green]✓[/] dataset: {dataset.record_count:,} records, {counts['expected_accepted']:,} to accept"
    )
    run: dict[str, Any] = {
        "label": opts.label,
        "ok": False,
        "options": asdict(opts),
        "params": {
            "enterprises": opts.enterprises, "months": opts.months, "seed": opts.seed, "transport": "HTTP",
            "records": dataset.record_count, "expected_accepted": counts["expected_accepted"],
            "facts": counts["facts"],
        },
        "notes": [],
    }  # fmt: skip
    ports = choose_ports(opts.port_base)
    services = Services()
    observer = TopicObserver(kafka, set(codes))
    probe: Probe | None = None
    monitor: ResourceMonitor | None = None
    try:
        with console.status(f"fresh databases, migrations, four services on ports {sorted(ports.values())}"):
            await services.start(kafka, pg, ports)
        console.print(f"[green]✓[/] services ready: {services.api()}")
        probe = Probe(services.urls, codes)
        await probe.open()
        run["machine"] = machine_info(await probe.server_version())
        monitor = ResourceMonitor(services.pids(), infra=_infra_pids(kafka, pg), backends=probe.backend_pids)
        monitor.start()
        # held through the timed replay (it reads the relays' producer timestamps, whenever it
        # reads them): its work would be taken from the services it measures
        await observer.start(follow=False)
        api = services.api()
        resources: dict[str, Any] = {}
        # the lean keep-alive client, as for the paced load: through httpx the replay's client used
        # 0.12 of a core (half of it in httpx's per-request machinery), on the cores it measures
        client = RawHttpPool(api["ingest"], size=max(opts.concurrency, 8), timeout=300)
        try:
            # -- enterprises, then the timed replay ---------------------------------------------------
            t_reg = time.perf_counter()
            only = PilotDataset(dataset.params, dataset.enterprises, [], [], dataset.expectations)
            reg = await replay_http(only, client, concurrency=8)
            registration_s = time.perf_counter() - t_reg
            if reg.errors:
                raise RuntimeError(f"registration failed: {reg.errors[:3]}")
            await _wait_directory(probe, len(codes))
            mark = observer.mark()
            phase = await monitor.phase()
            t0_wall, t0 = time.time(), time.monotonic()
            sent = [0]
            replay = asyncio.create_task(
                replay_http(
                    dataset,
                    client,
                    concurrency=opts.concurrency,
                    enterprises=False,
                    on_records=lambda n: sent.__setitem__(0, sent[0] + n),
                )
            )
            done_at = await _wait_complete(probe, dataset, console, opts.timeout, replay, sent)
            result = replay.result()
            e2e = done_at - t0
            resources["replay"] = await phase.end(e2e)
            await observer.catch_up()
            observer.follow()
            if result.errors:
                run["notes"].append(f"replay errors: {result.errors[:3]}")
            acc_span = await probe.accounting_span()
            applied = (await probe.progress()).accounted_revisions
            accounts_rate, last_account = _span(observer.since("accounts", mark), t0_wall)
            ratings_rate, last_rating = _span(observer.since("ratings", mark), t0_wall)
            accepted = counts["expected_accepted"]
            run["replay"] = {
                "registration_s": rounded(registration_s, 2),
                "ingest_done_s": rounded(result.elapsed_s, 2),
                "ingest_facts_per_s": rounded(rate(result.accepted, result.elapsed_s), 1),
                "accepted_as_reported": result.accepted,
                "rejected_as_reported": result.rejected,
                "http_statuses": {str(k): v for k, v in sorted(result.statuses.items())},
                "accounting_facts_per_s": rounded(rate(applied, acc_span), 1),
                "accounting_facts_applied": applied,
                "accounts_events": len(observer.since("accounts", mark)),
                "accounts_per_s": rounded(accounts_rate, 1),
                "ratings_events": len(observer.since("ratings", mark)),
                "ratings_per_s": rounded(ratings_rate, 1),
                "last_account_s": rounded(last_account, 2),
                "last_rating_s": rounded(last_rating, 2),
                "end_to_end_s": rounded(e2e, 2),
                "facts_per_s": rounded(rate(accepted, e2e), 1),
                "records_per_s": rounded(rate(dataset.record_count, e2e), 1),
            }
            console.print(f"[green]✓[/] replay complete end to end in {e2e:.1f} s")

            # -- correctness --------------------------------------------------------------------------
            with console.status("verifying against the generator's recomputation"):
                checks = verify(dataset.expectations, codes, await probe.observed())
            run["checks"] = [asdict(c) for c in checks]

            # -- paced load: fact-to-rating latency ---------------------------------------------------
            latency: dict[str, Any] = {}
            caught_up = True
            if "latency" in opts.phases:
                per_unit = max(1.0, dataset.record_count / (opts.enterprises * opts.months))
                units_needed = opts.latency_rate * opts.latency_seconds / per_unit
                units = lat.build_units(dataset, int(units_needed) // opts.enterprises + 2)
                mark = observer.mark()
                phase = await monitor.phase()
                t_lat = time.monotonic()
                load = await lat.paced_load(api["ingest"], units, opts.latency_rate, opts.latency_seconds)
                if load["errors"]:
                    run["notes"].append(f"paced load errors (first 3): {load['errors'][:3]}")
                caught_up = await _wait_settled(probe, observer, load["units"], mark, timeout=300)
                resources["latency"] = await phase.end(time.monotonic() - t_lat)
                latency = lat.summarise(load, observer, mark)
                latency["target_rate_facts_per_s"] = opts.latency_rate
                run["latency"] = latency
                console.print(
                    f"[green]✓[/] paced load: fact → rating p50 {latency['fact_to_rating_p50_s']} s, "
                    f"p99 {latency['fact_to_rating_p99_s']} s"
                )
        finally:
            await client.close()
        # -- quote API ------------------------------------------------------------------------------
        if "quotes" in opts.phases:
            phase = await monitor.phase()
            with console.status(
                f"quote API at concurrency {opts.quote_concurrency} for {opts.quote_seconds:.0f} s"
            ):
                run["quotes"] = await quote_load(
                    api["lending"], codes, opts.quote_concurrency, opts.quote_seconds
                )
            resources["quotes"] = await phase.end(run["quotes"]["seconds"] or 1)
        # -- full re-rating after a methodology change, and the repricing of linked loans -----------
        if "methodology" in opts.phases:
            with console.status("booking one carbon-linked loan per enterprise (bank-a)"):
                run["loans"] = await book_loans(api["lending"], codes)
            phase = await monitor.phase()
            t_m = time.monotonic()
            with console.status("methodology v2 in force with a full re-rating; waiting for lending"):
                run["methodology"] = await methodology_change(api["rating"], probe, observer, "v2")
            resources["methodology"] = await phase.end(time.monotonic() - t_m)
            m = run["methodology"]
            run["checks"].append(
                {"name": "methodology change: every rating re-evaluated, lending in step", "ok": bool(m["ok"]),
                 "detail": f"{m.get('enterprises_considered')} considered, {m.get('ratings_issued')} new ratings, "
                           f"{m.get('loans_repriced')} loans repriced, {m.get('loan_alerts')} alerts"
                           if m["ok"] else m.get("detail", "lending not in step within the timeout")}
            )  # fmt: skip
        resources["peak_rss_mb"] = {k: round(v / 2**20, 1) for k, v in monitor.peak_rss.items()}
        run["resources"] = resources
        # -- raw pass-through on the same broker ----------------------------------------------------
        if "passthrough" in opts.phases:
            size = round(
                sum(
                    len(orjson.dumps({**r, "department": b["department"]}))
                    for b in dataset.submissions
                    for r in b["records"]
                )
                / dataset.record_count
            )
            with console.status(f"raw aiokafka pass-through: {dataset.record_count:,} × {size} B"):
                # in a process of its own: this one's heap (the dataset, every phase's samples) made
                # the collector cut the measured ceiling by more than half (passthrough.py)
                run["passthrough"] = await passthrough_isolated(kafka, dataset.record_count, size)
            raw = run["passthrough"]["messages_per_s"]
            run["ratio"] = rounded(run["replay"]["records_per_s"] / raw, 3) if raw else None
            run["notes"].append(
                "ratio = end-to-end records/s (every record sent, incl. duplicates and rejects) ÷ raw msg/s"
            )
        if "latency" in opts.phases:
            run["checks"].append(
                {"name": "paced load: rating and lending caught up", "ok": caught_up,
                 "detail": "every paced enterprise-month accounted, rating's account read model = accounting's, "
                           "no unpublished outbox rows, lending in step" if caught_up else "not within 300 s"}
            )  # fmt: skip
        quotes = run.get("quotes") or {}
        if latency.get("http_errors") or quotes.get("ok") != quotes.get("requests"):
            run["checks"].append(
                {"name": "no HTTP errors under load", "ok": False,
                 "detail": f"paced load errors {latency.get('http_errors')}, quote statuses {quotes.get('statuses')}"}
            )  # fmt: skip
        skipped = [ph for ph in ("latency", "quotes", "methodology", "passthrough") if ph not in opts.phases]
        if skipped:
            run["notes"].append(f"phases not run (--phases): {', '.join(skipped)}")
        if "latency" in opts.phases and opts.latency_rate > (run["replay"]["facts_per_s"] or 0):
            run["notes"].append(
                f"the paced load ({opts.latency_rate:,.0f} facts/s) is above the replay's measured end-to-end "
                f"throughput ({run['replay']['facts_per_s']:,.0f} facts/s): its latencies are queueing delay"
            )
        run["ok"] = all(c["ok"] for c in run["checks"])
        return run
    finally:
        await observer.stop()
        if monitor is not None:
            await monitor.stop()
        if probe is not None:
            await probe.close()
        with console.status("stopping the services"):
            await services.stop(opts.keep_databases)


def _infra_pids(kafka: str, pg: str) -> dict[str, int]:
    """The broker's and PostgreSQL's pids, by their listening ports."""
    out: dict[str, int] = {}
    for name, endpoint in (
        ("kafka broker", kafka.split(",", maxsplit=1)[0]),
        ("postgresql", urlsplit(pg).netloc),
    ):
        port = endpoint.rsplit(":", 1)[-1]
        pid = listener_pid(int(port)) if port.isdigit() else None
        if pid is not None:
            out[name] = pid
    return out


async def _wait_settled(
    probe: Probe, observer: TopicObserver, units: list[lat.Unit], mark: dict[str, int], timeout: float
) -> bool:
    """After the paced load: every enterprise-month has its account, rating has consumed every
    account (count and calculation versions), nothing is left in an outbox, lending is in step."""
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        _, unaccounted = lat.latencies(units, observer.since("accounts", mark), exact_period=True)
        p = await probe.progress()
        if (
            not unaccounted
            and p.outbox_pending == 0
            and p.accounted()
            and (p.rating_accounts, p.rating_versions) == (p.accounting_accounts, p.accounting_versions)
            and p.lending_in_step == p.rated
        ):
            await asyncio.sleep(1.0)  # let the observer read the last RatingIssued events
            return True
        await asyncio.sleep(0.5)
    return False


async def _wait_directory(probe: Probe, n: int, timeout: float = 120) -> None:
    """Registration is done when rating and lending know every enterprise (so the replay's clock
    measures facts, not the directory)."""
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        r = await probe.pools["rating"].fetchval(
            "SELECT count(*) FROM enterprises WHERE credit_code = ANY($1)", probe.codes
        )
        le = await probe.pools["lending"].fetchval(
            "SELECT count(*) FROM enterprises WHERE credit_code = ANY($1)", probe.codes
        )
        a = await probe.pools["accounting"].fetchval(
            "SELECT count(*) FROM enterprises WHERE credit_code = ANY($1)", probe.codes
        )
        if r == le == a == n:
            return
        await asyncio.sleep(0.25)
    raise TimeoutError("the directory did not reach accounting, rating and lending")
