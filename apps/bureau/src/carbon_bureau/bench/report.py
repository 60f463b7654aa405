"""``docs/benchmarks.json`` and ``docs/benchmarks.md`` from bench runs, and the console table.

The JSON keeps one run per label (``quick``, ``full``): a new run replaces the one with its
label, so the quick and the full pilot stay side by side. The Markdown is rendered from the JSON
alone, so it can always be regenerated.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import orjson
from rich.table import Table


@dataclass(frozen=True, slots=True)
class Target:
    label: str
    get: Callable[[dict[str, Any]], float | None]
    target: float
    goal: float | None
    unit: str
    higher_is_better: bool

    def met(self, value: float | None, bar: float | None) -> bool | None:
        if value is None or bar is None:
            return None
        return value >= bar if self.higher_is_better else value <= bar


def _get(*path: str) -> Callable[[dict[str, Any]], float | None]:
    def get(run: dict[str, Any]) -> float | None:
        x: Any = run
        for p in path:
            if not isinstance(x, dict) or p not in x:
                return None
            x = x[p]
        return float(x) if isinstance(x, int | float) else None

    return get


def _max_rss(run: dict[str, Any]) -> float | None:
    rss = run.get("resources", {}).get("peak_rss_mb") or {}
    return max(rss.values()) if rss else None


#: issue 6, "Targets on this 2-core machine"
TARGETS = (
    Target("pilot replay end to end", _get("replay", "end_to_end_s"), 60, 20, "s", False),
    Target("sustained throughput", _get("replay", "facts_per_s"), 7_000, 20_000, "facts/s", True),
    Target("pipeline ÷ raw pass-through", _get("ratio"), 0.25, 0.5, "", True),
    Target(
        "fact-to-rating p99 at the paced load", _get("latency", "fact_to_rating_p99_s"), 2, None, "s", False
    ),
    Target("peak RSS per service (max)", _max_rss, 300, None, "MB", False),
)


def evaluate(run: dict[str, Any]) -> list[dict[str, Any]]:
    rows = []
    for t in TARGETS:
        value = t.get(run)
        rows.append(
            {
                "metric": t.label,
                "value": value,
                "unit": t.unit,
                "target": t.target,
                "goal": t.goal,
                "target_met": t.met(value, t.target),
                "goal_met": t.met(value, t.goal),
            }
        )
    return rows


def _fmt(x: Any, unit: str = "") -> str:
    if x is None:
        return "—"
    if isinstance(x, float):
        s = f"{x:,.0f}" if abs(x) >= 100 else f"{x:,.2f}" if abs(x) >= 1 else f"{x:.3f}"
    else:
        s = f"{x:,}" if isinstance(x, int) else str(x)
    return f"{s} {unit}".strip()


def _mark(ok: bool | None) -> str:
    return "—" if ok is None else ("✅" if ok else "❌")


def _run_md(label: str, run: dict[str, Any]) -> list[str]:
    p, m, r = run["params"], run["machine"], run.get("replay", {})
    out = [
        f"## {label}: {p['enterprises']:,} enterprises × {p['months']} months (seed {p['seed']})",
        "",
        f"Result: **{'PASS' if run['ok'] else 'FAIL'}** — measured {m['date']} at commit `{m['commit']}`; "
        f"{p['records']:,} records ({p['expected_accepted']:,} to accept, {p['facts']:,} distinct facts) "
        f"over {p['transport']}.",
        "",
        "| target (issue 6) | measured | target | goal | met |",
        "|---|---:|---:|---:|:-:|",
    ]
    for row in evaluate(run):
        out.append(
            f"| {row['metric']} | {_fmt(row['value'], row['unit'])} | {_fmt(row['target'], row['unit'])} | "
            f"{_fmt(row['goal'], row['unit'])} | {_mark(row['target_met'])}"
            f"{' goal ' + _mark(row['goal_met']) if row['goal'] is not None else ''} |"
        )
    out += [
        "",
        "**Replay, per stage** (first record submitted = 0 s)",
        "",
        "| stage | measured |",
        "|---|---:|",
    ]
    for key, name, unit in (
        ("registration_s", "enterprise registration (before the clock starts)", "s"),
        ("ingest_done_s", "ingest: last submission answered", "s"),
        ("ingest_facts_per_s", "ingest: facts accepted/s", "facts/s"),
        ("accounting_facts_per_s", "accounting: facts applied/s (its commit clock)", "facts/s"),
        ("accounts_events", "accounting: AccountUpdated events", ""),
        ("accounts_per_s", "accounting: accounts/s", "accounts/s"),
        ("ratings_events", "rating: RatingIssued events", ""),
        ("ratings_per_s", "rating: ratings/s", "ratings/s"),
        ("last_account_s", "last account published", "s"),
        ("last_rating_s", "last rating published", "s"),
        ("end_to_end_s", "lending read model complete (end to end)", "s"),
        ("facts_per_s", "end-to-end throughput (accepted facts ÷ end to end)", "facts/s"),
    ):
        out.append(f"| {name} | {_fmt(r.get(key), unit)} |")
    lat = run.get("latency") or {}
    if lat:
        out += [
            "",
            f"**Paced load** at {_fmt(lat.get('target_rate_facts_per_s'), 'facts/s')} for "
            f"{_fmt(lat.get('seconds'), 's')} (offered {_fmt(lat.get('offered_rate_facts_per_s'), 'facts/s')}, "
            f"{_fmt(lat.get('enterprise_months'))} enterprise-months): fact → account p50 "
            f"{_fmt(lat.get('fact_to_account_p50_s'), 's')} / p99 {_fmt(lat.get('fact_to_account_p99_s'), 's')}; "
            f"fact → rating p50 {_fmt(lat.get('fact_to_rating_p50_s'), 's')} / p99 "
            f"{_fmt(lat.get('fact_to_rating_p99_s'), 's')} / max {_fmt(lat.get('fact_to_rating_max_s'), 's')}; "
            f"enterprise-months without a new rating (outcome unchanged, so rating re-issues nothing): "
            f"{_fmt(lat.get('not_reissued_enterprise_months', lat.get('unrated_enterprise_months')))}. "
            f"Ingest POSTs ({_fmt(lat.get('ingest_posts'))}, one per department per 100 ms tick): answered "
            f"p50 {_fmt(lat.get('ingest_post_answered_p50_s'), 's')} / p99 "
            f"{_fmt(lat.get('ingest_post_answered_p99_s'), 's')} after their tick; the request itself p50 "
            f"{_fmt(lat.get('ingest_post_round_trip_p50_s'), 's')} / p99 "
            f"{_fmt(lat.get('ingest_post_round_trip_p99_s'), 's')}.",
        ]
    q = run.get("quotes") or {}
    if q:
        out += [
            "",
            f"**Quote API** (`POST /v1/quotes`, X-Org bank-a, one uvicorn worker, concurrency {q['concurrency']}, "
            f"{q['seconds']} s, client {q.get('client', 'httpx')}): "
            f"{_fmt(q['requests_per_s'], 'req/s')}, p50 {_fmt(q['p50_ms'], 'ms')}, p99 {_fmt(q['p99_ms'], 'ms')}, "
            f"statuses {q['statuses']}.",
        ]
    loans, meth = run.get("loans") or {}, run.get("methodology") or {}
    if meth and "rerate_s" not in meth:
        out += ["", f"**Methodology change**: failed — {meth.get('detail', 'no answer')}"]
    elif meth:
        out += [
            "",
            f"**Methodology change** (`PUT /v1/admin/methodology` → {meth.get('version')} with `rerate: true`, after "
            f"booking {_fmt(loans.get('loans_booked'))} carbon-linked loans for bank-a): full re-rating of "
            f"{_fmt(meth.get('enterprises_considered'))} enterprises in {_fmt(meth.get('rerate_s'), 's')} "
            f"(request {_fmt(meth.get('request_s'), 's')}), {_fmt(meth.get('ratings_issued'))} new ratings; "
            f"lending re-evaluated the linked loans: {_fmt(meth.get('loans_repriced'))} `LoanRepriced`, "
            f"{_fmt(meth.get('loan_alerts'))} `LoanAlert`, the last {_fmt(meth.get('last_loan_event_s'), 's')} "
            "after the request started.",
        ]
    pt = run.get("passthrough") or {}
    if pt:
        out += [
            "",
            f"**Raw aiokafka pass-through** (same broker, {pt['messages']:,} messages × {pt['message_bytes']} B, "
            f"{pt['partitions']} partitions, idempotent acks=all"
            + (
                f"; a separate process on uvloop, {_fmt(pt['client_cpu_s'], 'CPU-s')}"
                if pt.get("process")
                else "; in the bench's own process"
            )
            + f"): {_fmt(pt['messages_per_s'], 'msg/s')} ({pt['seconds']} s). Pipeline ÷ raw = "
            f"**{_fmt(run.get('ratio'))}**.",
        ]
    res = run.get("resources") or {}
    if res:
        out += ["", "**Per service process** (CPU seconds / average cores / peak RSS)", ""]
        phases = [ph for ph in ("replay", "latency", "quotes", "methodology") if ph in res]
        out.append("| service | " + " | ".join(phases) + " | peak RSS, whole run |")
        out.append("|---|" + "---:|" * (len(phases) + 1))
        for svc in res.get("peak_rss_mb", {}):
            cells = [
                f"{res[ph][svc]['cpu_s']} s / {res[ph][svc]['cores']} / {res[ph][svc]['peak_rss_mb']} MB"
                for ph in phases
            ]
            out.append(f"| {svc} | " + " | ".join(cells) + f" | {res['peak_rss_mb'][svc]} MB |")
        infra = (
            [n for n in (res.get(phases[0]) or {}) if n not in res.get("peak_rss_mb", {})] if phases else []
        )
        for name in infra:
            cells = [
                f"{res[ph][name]['cpu_s']} s / {res[ph][name]['cores']}" if name in res[ph] else "—"
                for ph in phases
            ]
            out.append(f"| {name} | " + " | ".join(cells) + " | — |")
        if infra:
            out += [
                "",
                "Infrastructure rows (CPU seconds / average cores): the broker, the PostgreSQL server with "
                "all its backends (shared with anything else using it while measuring), and the bench "
                "client (generating, sending and observing). Together with the services they show where "
                "the two cores went.",
            ]
    out += ["", "**Correctness**", "", "| check | result | detail |", "|---|:-:|---|"]
    for c in run.get("checks", []):
        out.append(f"| {c['name']} | {_mark(c['ok'])} | {c['detail'].replace('|', '/')} |")
    notes = run.get("notes") or []
    if notes:
        out += ["", "Notes:", ""] + [f"- {n}" for n in notes]
    return [*out, ""]


def render_markdown(runs: dict[str, dict[str, Any]]) -> str:
    first = next(iter(runs.values()), None)
    lines = [
        "# Benchmarks",
        "",
        "`make bench` replays the generated Shanxi pilot through the **real stack** — Kafka (KRaft) + "
        "PostgreSQL + the four services as separate uvicorn processes, each on a fresh database — and "
        "measures it. It is a benchmark, not a test: the targets of issue 6 are compared here, never "
        "asserted with timings in the test suite. A run whose results are wrong (see *Correctness*) is "
        "a FAIL whatever its speed. Written by `carbon_bureau.bench`; the data is in "
        "[benchmarks.json](benchmarks.json).",
        "",
    ]
    if first:
        m = first["machine"]
        lines += [
            "## Machine",
            "",
            f"- {m['nproc']} cores ({m['cpu_model']}), {m['memory_gb']} GB RAM — shared with other "
            f"engineers' test runs while measuring (load average at start {m.get('load_average_at_start')})",
            f"- Python {m['python']}, Apache Kafka {m['kafka']} (aiokafka {m['aiokafka']}), "
            f"PostgreSQL {m['postgresql']}",
            "",
        ]
    for label, run in runs.items():
        lines += _run_md(label, run)
    lines += [
        "## How it is measured",
        "",
        "1. **Replay**: the dataset is generated (not timed), the enterprises are registered over HTTP (timed "
        "separately), then every submission batch is POSTed to ingest wave by wave (`replay_http`, "
        f"{(first or {}).get('options', {}).get('concurrency', 16)} requests in flight, ≤ 10,000 records each; the "
        "province's ~100 departments report concurrently). The clock starts at the first submission and "
        "stops when, polled every 0.5 s in the service databases once everything is sent (every 5 s "
        "before: the counts scan tables, which costs the server CPU the pipeline needs), read-only: "
        "ingest holds every accepted "
        "revision, accounting has applied each of them, no outbox has unpublished rows, rating's account "
        "read model equals accounting's accounts (count and calculation versions), every enterprise has a "
        "current rating and lending's read model holds exactly those rating ids. Accounts/s and ratings/s "
        "come from a group-less consumer of `accounting.accounts.v1` / `rating.ratings.v1` (Kafka "
        "timestamps, dataset enterprises only); it is held through the timed replay and reads the events "
        "afterwards (the producers' timestamps are the same whenever they are read; following them live "
        "took the bench client's CPU from the cores being measured), and follows live in the later phases.",
        "2. **Correctness**, right after the replay: counts against the generator's expectations, every "
        "account (4 columns, every enterprise-month) against the generator's independent recomputation "
        "within 0.001 tCO2, every enterprise rated, lending in step with rating.",
        "3. **Paced load**: the last month's valid records re-sent as the following months (new record ids) "
        "at the given rate in 100 ms ticks; latency per enterprise-month from its tick to the first "
        "`RatingIssued` with `as_of_period` ≥ that month (and to its `AccountUpdated`). Rating re-issues only "
        "when the outcome changes, so a month whose rating would be unchanged has no sample; that the pipeline "
        "caught up is checked instead (every month accounted, rating's read model = accounting, lending in step).",
        "4. **Quote API**: `POST /v1/quotes` (green loan, 10 M CNY, 36 months) for every enterprise in "
        "turn at fixed concurrency, keep-alive connections, from `wrk` (one thread; `scripts/bench.sh` installs "
        "it from Debian) or, without it, an httpx client in the bench process.",
        "5. **Methodology change**: bank-a books one carbon-linked loan per enterprise that gets a quote; then "
        "methodology v2 is put in force with a full re-rating in the same request; timed: the re-rating (as "
        "rating reports it), and the request's start to the last `LoanRepriced`/`LoanAlert` with lending's "
        "read model in step with rating.",
        "6. **Raw pass-through**: aiokafka producer (idempotent, acks=all, linger 5 ms) → consumer on a "
        "throw-away 6-partition topic, as many messages as the replay had records, each the replay's "
        "average record size, in a process of its own (until 2026-11-27 it ran in the bench's process, "
        "whose heap — the dataset, the phases' samples — made the collector cut the measured rate by more "
        "than half: the earlier ratios of 0.16-0.21 divided by a ceiling of 37-41k msg/s instead of ~100k); "
        "pipeline ÷ raw = end-to-end records/s ÷ raw msg/s.",
        "7. **Resources**: psutil on each service process, RSS sampled every 250 ms, CPU seconds per phase.",
        "",
        "## Reproduce",
        "",
        "```bash",
        "make bench                                              # the full pilot (1,122 × 45)",
        "BENCH_ARGS='--enterprises 100 --months 12' make bench    # the quick run (< 2 min)",
        "# or by hand, against a running stack:",
        'eval "$(.venv/bin/bureau stack env)"',
        ".venv/bin/python -m carbon_bureau.bench run --enterprises 100 --months 12",
        "```",
        "",
        "`scripts/bench.sh` starts Kafka and PostgreSQL (`bureau stack up`) only if they are not running and "
        "stops what it started. The services use ports 8001-8004 when free, otherwise `--port-base`.",
        "",
    ]
    return "\n".join(lines)


def write_report(run: dict[str, Any], docs: Path) -> tuple[Path, Path]:
    """Merge ``run`` into ``docs/benchmarks.json`` (by label) and re-render ``benchmarks.md``."""
    docs.mkdir(parents=True, exist_ok=True)
    json_path, md_path = docs / "benchmarks.json", docs / "benchmarks.md"
    runs: dict[str, dict[str, Any]] = {}
    if json_path.exists():
        try:
            runs = dict(orjson.loads(json_path.read_bytes()).get("runs", {}))
        except orjson.JSONDecodeError:
            runs = {}
    run = {**run, "targets": evaluate(run)}
    runs[run["label"]] = run
    ordered = {k: runs[k] for k in sorted(runs, key=lambda k: (k != "full", k))}
    json_path.write_bytes(
        orjson.dumps({"runs": ordered}, option=orjson.OPT_INDENT_2 | orjson.OPT_SORT_KEYS) + b"\n"
    )
    md_path.write_text(render_markdown(ordered), encoding="utf-8")
    return md_path, json_path


def summary_table(run: dict[str, Any]) -> Table:
    table = Table(title=f"Bench ({run['label']}): {'PASS' if run['ok'] else 'FAIL'}")
    table.add_column("metric", style="bold")
    table.add_column("measured", justify="right")
    table.add_column("target", justify="right")
    table.add_column("met", justify="center")
    for row in evaluate(run):
        table.add_row(row["metric"], _fmt(row["value"], row["unit"]), _fmt(row["target"], row["unit"]),
                      _mark(row["target_met"]))  # fmt: skip
    r = run.get("replay", {})
    for key, name in (("ingest_facts_per_s", "ingest facts/s"), ("accounts_per_s", "accounts/s"),
                      ("ratings_per_s", "ratings/s")):  # fmt: skip
        table.add_row(name, _fmt(r.get(key)), "", "")
    q = run.get("quotes") or {}
    if q:
        table.add_row(
            "quotes req/s (p50 / p99 ms)",
            f"{_fmt(q['requests_per_s'])} ({q['p50_ms']} / {q['p99_ms']})",
            "",
            "",
        )
    for phase in ("replay", "latency"):
        for name, use in ((run.get("resources") or {}).get(phase) or {}).items():
            table.add_row(f"{phase} CPU: {name}", f"{use['cpu_s']} s ({use['cores']} cores)", "", "")
    lat = run.get("latency") or {}
    if lat.get("ingest_post_answered_p50_s") is not None:
        table.add_row(
            "paced POSTs: answered p50/p99, round trip p50/p99 (s)",
            f"{lat['ingest_post_answered_p50_s']} / {lat['ingest_post_answered_p99_s']}, "
            f"{lat['ingest_post_round_trip_p50_s']} / {lat['ingest_post_round_trip_p99_s']}",
            "",
            "",
        )
    r_events = (r.get("accounts_events"), r.get("ratings_events"))
    if any(v is not None for v in r_events):
        table.add_row("AccountUpdated / RatingIssued", f"{_fmt(r_events[0])} / {_fmt(r_events[1])}", "", "")
    for c in run.get("checks", []):
        table.add_row(f"check: {c['name']}", c["detail"][:80], "", _mark(c["ok"]))
    return table
