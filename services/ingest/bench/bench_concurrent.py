"""Benchmark (not a test): N concurrent clients POSTing record batches to a real ingest process.

The server is ``uvicorn carbon_ingest.entrypoints.app:create_app --factory`` (a separate process,
as in ``make bench``) on a fresh database of the PostgreSQL at ``PG_URL_BASE``, without Kafka (the
outbox relay publishes to its in-process bus). 1,100 enterprises are registered first; then, per
*shape* (clients × records per POST × POSTs), every client POSTs department batches back to back
(33 departments: stats, grid and tax of Shanxi's 11 cities). Per shape it reports POSTs/s,
records/s and facts/s (every POST answered), the server's CPU (its worker processes included) as
CPU-µs per record — the figure to compare: wall-clock varies ±30 % on a shared machine — and the
request latency p50/p99; then verifies the evidence chain once for all shapes. Usage::

    eval "$(.venv/bin/bureau stack env)"
    .venv/bin/python services/ingest/bench/bench_concurrent.py 64x3x3000 32x10x1000 16x88x200
    .venv/bin/python services/ingest/bench/bench_concurrent.py [clients] [per_batch] [batches] [workers]

Shapes: ``64x3x3000`` is the paced load of ``make bench`` (one ~3-record POST per department per
tick), ``32x10x1000`` small batches, ``16x88x200`` the replay (department-month batches).
``paced:33x3@100:20`` is an open-loop paced load: 33 departments each POST 3 records every
100 ms for 20 s (330 POSTs/s, ~1,000 records/s offered: ``make bench``'s paced phase); it reports
the rate answered and the latency from each POST's scheduled time to its answer.
``--workers N`` (or the 4th positional) runs N uvicorn workers; ``--profile FILE`` runs the
server under py-spy (collapsed stacks in FILE; CPU figures then include py-spy's). To measure another tree of the
service (before/after), put its ``src`` first: ``PYTHONPATH=<copy>/src``.
"""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import httpx
import orjson
from stdnum.cn import uscc

import carbon_ingest
from carbon_common.migrations import upgrade_head
from carbon_common.testing import drop_database, fresh_database

ENTERPRISES = 1_100
#: Shanxi's 11 prefecture-level cities (the pilot's Changzhi, Datong, Yangquan among them)
CITIES = ["140100", "140200", "140300", "140400", "140500", "140600", "140700", "140800", "140900",
          "141000", "141100"]  # fmt: skip
#: (indicator, unit, department kind): the pilot's mix — stats energy, grid electricity
#: (cross-validated), tax revenue
INDICATORS = [
    ("energy.raw_coal", "t", "stats"),
    ("electricity.purchased", "kWh", "grid"),
    ("finance.revenue", "10k CNY", "tax"),
    ("energy.natural_gas", "Nm3", "stats"),
]


@dataclass(frozen=True)
class Shape:
    clients: int
    per_batch: int
    batches: int

    @classmethod
    def parse(cls, text: str) -> Shape:
        c, p, b = (int(x) for x in text.lower().split("x"))
        return cls(c, p, b)

    def __str__(self) -> str:
        return f"{self.clients}x{self.per_batch}x{self.batches}"


@dataclass(frozen=True)
class Paced:
    """Open-loop load like ``make bench``'s paced phase: each of ``departments`` POSTs
    ``per_post`` records every ``tick_ms`` for ``seconds`` (a POST not yet answered when its
    department's next tick comes delays that department's next one: they queue)."""

    departments: int
    per_post: int
    tick_ms: int
    seconds: int

    @classmethod
    def parse(cls, text: str) -> Paced:  # paced:33x3@100:20
        shape, _, seconds = text.removeprefix("paced:").partition(":")
        counts, _, tick = shape.partition("@")
        d, p = (int(x) for x in counts.split("x"))
        return cls(d, p, int(tick or 100), int(seconds or 20))

    def __str__(self) -> str:
        return f"paced:{self.departments}x{self.per_post}@{self.tick_ms}:{self.seconds}"


def code(n: int) -> str:
    body = f"91140400MA{n:07d}"
    return body + uscc.calc_check_digit(body)


def batch(tag: str, b: int, per_batch: int) -> bytes:
    ind, unit, kind = INDICATORS[b % len(INDICATORS)]
    dept = f"{kind}-{CITIES[b // len(INDICATORS) % len(CITIES)]}"
    recs = []
    for j in range(per_batch):
        i = b * per_batch + j
        recs.append({"record_id": f"{tag}-{b}-{j}", "credit_code": code(i % ENTERPRISES), "indicator": ind,
                     "period": f"{2021 + (i // ENTERPRISES) % 3}-{1 + (i // (3 * ENTERPRISES)) % 12:02d}",
                     "value": f"{100 + i % 977}.5", "unit": unit})  # fmt: skip
    return orjson.dumps({"department": dept, "records": recs})


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def cpu_seconds(pid: int) -> float:
    """CPU seconds of the server process and its worker processes (``--workers``)."""
    total = 0.0
    for p in [pid, *_children(pid)]:
        try:
            fields = Path(f"/proc/{p}/stat").read_text().rsplit(")", 1)[1].split()
        except FileNotFoundError:
            continue
        total += (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    return total


def _children(pid: int) -> list[int]:
    try:
        return [int(c) for c in Path(f"/proc/{pid}/task/{pid}/children").read_text().split()]
    except FileNotFoundError:
        return []


def _pct(values: list[float], q: float) -> float:
    return values[min(len(values) - 1, int(q * len(values)))]


async def _group_commits(base: str) -> tuple[float, float, float]:
    """(transactions, submissions, seconds) of the server's group commit so far (its metrics)."""
    async with httpx.AsyncClient(base_url=base) as c:
        text = (await c.get("/metrics")).text
    values = dict.fromkeys(("count", "sum", "seconds"), 0.0)
    for line in text.splitlines():
        if line.startswith("ingest_group_commit_submissions_count"):
            values["count"] = float(line.split()[-1])
        elif line.startswith("ingest_group_commit_submissions_sum"):
            values["sum"] = float(line.split()[-1])
        elif line.startswith("ingest_group_commit_seconds_sum"):
            values["seconds"] = float(line.split()[-1])
    return values["count"], values["sum"], values["seconds"]


async def run_paced(base: str, pid: int, load: Paced, tag: str, workers: int) -> int:
    accepted = 0
    lags: list[float] = []  # scheduled send → answer (queueing included)
    sent = 0

    async def department(d: int) -> None:
        nonlocal accepted, sent
        ind, unit, kind = INDICATORS[d % len(INDICATORS)]
        dept = f"{kind}-14{d:04d}"  # a department per (synthetic) county of Shanxi
        async with httpx.AsyncClient(base_url=base, timeout=600) as own:
            start = time.perf_counter() + (d % 10) * load.tick_ms / 10_000  # spread over a tick
            for t in range(load.seconds * 1000 // load.tick_ms):
                due = start + t * load.tick_ms / 1000
                await asyncio.sleep(max(0.0, due - time.perf_counter()))
                recs = [{"record_id": f"{tag}-{d}-{t}-{j}", "credit_code": code((d * 7 + t * 3 + j) % ENTERPRISES),
                         "indicator": ind, "period": f"{2021 + t % 3}-{1 + (t // 3) % 12:02d}",
                         "value": f"{100 + (t + j) % 977}.5", "unit": unit} for j in range(load.per_post)]  # fmt: skip
                r = await own.post("/v1/submissions", content=orjson.dumps({"department": dept, "records": recs}),
                                   headers={"content-type": "application/json"})  # fmt: skip
                lags.append(time.perf_counter() - due)
                assert r.status_code == 200, r.text
                accepted += r.json()["accepted"]
                sent += 1

    groups0 = await _group_commits(base)
    cpu0 = cpu_seconds(pid)
    t0 = time.perf_counter()
    await asyncio.gather(*(department(d) for d in range(load.departments)))
    wall = time.perf_counter() - t0
    cpu = cpu_seconds(pid) - cpu0
    groups = [b - a for a, b in zip(groups0, await _group_commits(base), strict=True)]
    lags.sort()
    offered = load.departments * 1000 / load.tick_ms
    print(
        f"workers={workers} {load} (departments x records/POST @ tick ms : seconds): offered {offered:,.0f} POSTs/s "
        f"({offered * load.per_post:,.0f} records/s), answered {sent / wall:,.0f} POSTs/s over {wall:.1f}s "
        f"(planned {load.seconds}s); tick → answer p50 {_pct(lags, 0.5) * 1000:.0f} ms, p99 "
        f"{_pct(lags, 0.99) * 1000:.0f} ms, max {lags[-1] * 1000:.0f} ms; server CPU {cpu / max(accepted, 1) * 1e6:,.0f} "
        f"µs/record ({cpu / wall:.2f} cores); group commits: {groups[0]:.0f}, "
        f"{groups[1] / max(groups[0], 1):.1f} POSTs and {groups[2] / max(groups[0], 1) * 1000:.0f} ms each",
        flush=True,
    )
    return accepted


async def run_shape(base: str, pid: int, shape: Shape, tag: str, workers: int) -> int:
    bodies = [batch(tag, b, shape.per_batch) for b in range(shape.batches)]
    queue: asyncio.Queue[bytes] = asyncio.Queue()
    for body in bodies:
        queue.put_nowait(body)
    accepted = 0
    latencies: list[float] = []

    async def client() -> None:
        nonlocal accepted
        async with httpx.AsyncClient(base_url=base, timeout=600) as own:
            while not queue.empty():
                body = queue.get_nowait()
                t = time.perf_counter()
                r = await own.post(
                    "/v1/submissions", content=body, headers={"content-type": "application/json"}
                )
                latencies.append(time.perf_counter() - t)
                assert r.status_code == 200, r.text
                accepted += r.json()["accepted"]

    groups0 = await _group_commits(base)
    cpu0 = cpu_seconds(pid)
    own0 = time.process_time()
    t0 = time.perf_counter()
    await asyncio.gather(*(client() for _ in range(shape.clients)))
    wall = time.perf_counter() - t0
    cpu = cpu_seconds(pid) - cpu0
    own = time.process_time() - own0
    groups = [b - a for a, b in zip(groups0, await _group_commits(base), strict=True)]
    latencies.sort()
    records = shape.batches * shape.per_batch
    print(
        f"workers={workers} shape={shape} (clients x records/POST x POSTs): "
        f"{shape.batches / wall:,.0f} POSTs/s, {records / wall:,.0f} records/s, {accepted / wall:,.0f} facts/s "
        f"({accepted} accepted in {wall:.2f}s); server CPU {cpu:.1f}s = {cpu / records * 1e6:,.0f} µs/record, "
        f"{cpu / shape.batches * 1e3:.2f} ms/POST ({cpu / wall:.2f} cores); latency p50 "
        f"{_pct(latencies, 0.5) * 1000:.0f} ms, p99 {_pct(latencies, 0.99) * 1000:.0f} ms, "
        f"max {latencies[-1] * 1000:.0f} ms; the clients' own CPU {own / wall:.2f} cores; group commits: "
        f"{groups[0]:.0f}, {groups[1] / max(groups[0], 1):.1f} POSTs and {groups[2] / max(groups[0], 1) * 1000:.0f} ms each",
        flush=True,
    )
    return accepted


async def main(shapes: list[Shape | Paced], workers: int = 1, profile: str | None = None) -> None:
    url = await fresh_database("ingest_bench")
    await upgrade_head(Path(carbon_ingest.__file__).parent / "migrations", url)
    port = free_port()
    env = {**os.environ, "INGEST_POSTGRES__URL": url, "INGEST_TELEMETRY__LOG_LEVEL": "WARNING",
           "INGEST_TELEMETRY__TRACES_ENABLED": "false", "INGEST_KAFKA__BOOTSTRAP_SERVERS": ""}  # fmt: skip
    # --profile: the server runs under py-spy (collapsed stacks; its CPU then includes py-spy's)
    spy = [str(Path(sys.executable).parent / "py-spy"), "record", "--format", "raw", "--rate", "100",
           "-o", profile, "--"] if profile else []  # fmt: skip
    proc = subprocess.Popen(  # noqa: ASYNC220 - started once, before the timed part
        [*spy, sys.executable, "-m", "uvicorn", "carbon_ingest.entrypoints.app:create_app", "--factory",
         "--host", "127.0.0.1", "--port", str(port), "--no-access-log", "--log-level", "warning",
         *(["--workers", str(workers)] if workers > 1 else [])],
        env=env,
    )  # fmt: skip
    base = f"http://127.0.0.1:{port}"
    try:
        async with httpx.AsyncClient(base_url=base, timeout=600) as c:
            for _ in range(300):
                try:
                    if (await c.get("/readyz")).status_code == 200:
                        break
                except httpx.TransportError:
                    pass
                await asyncio.sleep(0.2)

            async def register(first: int) -> None:
                for i in range(first, ENTERPRISES, 16):
                    r = await c.post("/v1/enterprises", json={"credit_code": code(i), "name": f"企业{i}", "region_code": "140400",
                                     "industry_code": "4411", "size_class": "large", "transition_stage": "mid"})  # fmt: skip
                    assert r.status_code in (200, 201), r.text

            await asyncio.gather(*(register(k) for k in range(16)))
            accepted = 0
            for n, shape in enumerate(shapes):
                if isinstance(shape, Paced):
                    accepted += await run_paced(base, proc.pid, shape, f"s{n}", workers)
                else:
                    accepted += await run_shape(base, proc.pid, shape, f"s{n}", workers)
            v = (await c.get("/v1/evidence/verify")).json()
            print(f"verify: {v['entries_checked']} entries, ok={v['ok']}")
            assert v["ok"] and v["entries_checked"] == accepted, v
    finally:
        children = _children(proc.pid)  # py-spy's (--profile) or uvicorn's workers
        if profile:
            proc.send_signal(signal.SIGINT)  # py-spy writes its file on SIGINT
        else:
            proc.terminate()
        proc.wait(timeout=30)
        for pid in children:  # a profiled server outlives py-spy
            try:
                os.kill(pid, signal.SIGTERM)
            except ProcessLookupError:
                pass
        await drop_database(url)


def _cli(argv: list[str]) -> tuple[list[Shape | Paced], int, str | None]:
    workers, profile = 1, None
    if "--workers" in argv:
        at = argv.index("--workers")
        workers = int(argv[at + 1])
        argv = argv[:at] + argv[at + 2 :]
    if "--profile" in argv:
        at = argv.index("--profile")
        profile = argv[at + 1]
        argv = argv[:at] + argv[at + 2 :]
    if any("x" in a for a in argv):
        return [Paced.parse(a) if a.startswith("paced:") else Shape.parse(a) for a in argv], workers, profile
    ints = [int(a) for a in argv] + [4, 1_000, 60, workers][len(argv) :]
    return [Shape(ints[0], ints[1], ints[2])], ints[3], profile


if __name__ == "__main__":
    asyncio.run(main(*_cli(sys.argv[1:])))
