"""Feed a dataset into a running bureau: HTTP batches (any base URL or an in-process ASGI
client) or raw records on the department Kafka topic.

HTTP sends the enterprises first, then the submission batches wave by wave (one wave per
arrival slot, batches of a wave concurrently, ≤ 10,000 records per request): a correction or
duplicate is always in a later wave than its original, so concurrency never reorders them.
Kafka keys every record by credit code, so per-enterprise order holds on each partition.
Record ids are idempotency keys, which makes retries after a timeout safe.
"""

from __future__ import annotations

import asyncio
import time
from collections import Counter
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

import httpx
import orjson

from carbon_common.events.topics import Topics

from .dataset import PilotDataset
from .rawhttp import HttpError, RawHttpPool

MAX_RECORDS_PER_REQUEST = 10_000
_KAFKA_WINDOW = 10_000  # records in flight before waiting for their acknowledgements
Progress = Callable[[int], None]  # called with the number of records (or enterprises) just sent


@dataclass(slots=True)
class ReplayResult:
    """What was sent and what the receiver said (counts it reports, when it reports them)."""

    enterprises: int = 0
    requests: int = 0
    records: int = 0
    statuses: Counter[int] = field(default_factory=Counter)
    accepted: int = 0
    rejected: int = 0
    errors: list[str] = field(default_factory=list)
    elapsed_s: float = 0.0

    @property
    def records_per_s(self) -> float:
        return self.records / self.elapsed_s if self.elapsed_s else 0.0


class Pacer:
    """Keeps the average send rate at or below ``rate`` records/s (None: as fast as possible)."""

    def __init__(self, rate: float | None) -> None:
        self.rate = rate
        self.t0: float | None = None
        self.sent = 0

    async def take(self, n: int) -> None:
        if not self.rate:
            return
        now = time.monotonic()
        if self.t0 is None:
            self.t0 = now
        due = self.t0 + self.sent / self.rate
        self.sent += n  # reserve before awaiting: asyncio is single-threaded
        if due > now:
            await asyncio.sleep(due - now)


def _tally(result: ReplayResult, body: bytes) -> None:
    """Add the receiver's accepted/rejected counts, whatever shape it uses (int or list)."""
    try:
        parsed = orjson.loads(body)
    except orjson.JSONDecodeError:
        return
    if not isinstance(parsed, dict):
        return
    for key in ("accepted", "rejected"):
        value = parsed.get(key)
        n = value if isinstance(value, int) else len(value) if isinstance(value, list) else 0
        setattr(result, key, getattr(result, key) + n)


#: what a replay posts through: an httpx client (any base URL, an ASGI app, TLS, auth headers) or
#: the lean keep-alive client (the bench: httpx cost the bench's own process 0.12 of a core)
Client = httpx.AsyncClient | RawHttpPool


async def _send(client: Client, url: str, content: bytes) -> tuple[int, bytes]:
    """POST JSON bytes; (status, body). Transport failures raise ``_TRANSPORT_ERRORS``."""
    if isinstance(client, RawHttpPool):
        return await client.post_json(url, content)
    response = await client.post(url, content=content, headers={"content-type": "application/json"})
    return response.status_code, response.content


_TRANSPORT_ERRORS = (httpx.TransportError, HttpError, OSError, TimeoutError)


async def _post(
    client: Client,
    url: str,
    body: Any,
    result: ReplayResult,
    *,
    retries: int,
    ok: tuple[int, ...] = (),
) -> bytes | None:
    """POST with bounded retries on transport errors, 429 and 5xx; the response body, or None."""
    content = orjson.dumps(body)
    for attempt in range(retries + 1):
        try:
            status, payload = await _send(client, url, content)
        except _TRANSPORT_ERRORS as exc:
            if attempt == retries:
                result.errors.append(f"{url}: {type(exc).__name__}: {exc}")
                return None
        else:
            result.requests += 1
            if (status == 429 or status >= 500) and attempt < retries:
                await asyncio.sleep(0.2 * 2**attempt)
                continue
            result.statuses[status] += 1
            if status >= 400 and status not in ok:
                result.errors.append(f"{url}: HTTP {status}: {payload[:300].decode(errors='replace')}")
            return payload
        await asyncio.sleep(0.2 * 2**attempt)
    return None


async def _bounded(tasks: list[Callable[[], Awaitable[None]]], concurrency: int) -> None:
    sem = asyncio.Semaphore(concurrency)

    async def run(task: Callable[[], Awaitable[None]]) -> None:
        async with sem:
            await task()

    await asyncio.gather(*(run(t) for t in tasks))


async def replay_http(
    dataset: PilotDataset,
    client: Client,
    *,
    prefix: str = "",
    concurrency: int = 16,
    rate: float | None = None,
    max_records: int = MAX_RECORDS_PER_REQUEST,
    enterprises: bool = True,
    retries: int = 3,
    on_enterprise: Progress | None = None,
    on_records: Progress | None = None,
) -> ReplayResult:
    """Send the enterprises (``POST {prefix}/v1/enterprises``) then the batches
    (``POST {prefix}/v1/submissions``) through ``client`` (its base URL decides where).

    ``prefix`` is e.g. ``/ingest`` when ingest is mounted under it in the embedded app.
    """
    result = ReplayResult()
    started = time.perf_counter()
    if enterprises:
        url = f"{prefix}/v1/enterprises"

        def ent_task(body: dict[str, Any]) -> Callable[[], Awaitable[None]]:
            async def task() -> None:
                await _post(client, url, body, result, retries=retries, ok=(409,))
                result.enterprises += 1
                if on_enterprise:
                    on_enterprise(1)

            return task

        await _bounded([ent_task(e) for e in dataset.enterprises], concurrency)
    url = f"{prefix}/v1/submissions"
    pacer = Pacer(rate)

    def batch_task(dept: str, records: list[dict[str, Any]]) -> Callable[[], Awaitable[None]]:
        async def task() -> None:
            await pacer.take(len(records))
            payload = await _post(
                client, url, {"department": dept, "records": records}, result, retries=retries
            )
            if payload is not None:
                _tally(result, payload)
            result.records += len(records)
            if on_records:
                on_records(len(records))

        return task

    for wave in dataset.waves():
        tasks = [
            batch_task(batch["department"], batch["records"][i : i + max_records])
            for batch in wave
            for i in range(0, len(batch["records"]), max_records)
        ]
        await _bounded(tasks, concurrency)
    result.elapsed_s = time.perf_counter() - started
    return result


async def replay_kafka(
    dataset: PilotDataset,
    bootstrap: str,
    *,
    topic: str = Topics.DEPT_SUBMISSIONS,
    rate: float | None = None,
    on_records: Progress | None = None,
    producer_options: dict[str, Any] | None = None,
    headers_for: Callable[[str], list[tuple[str, bytes]]] | None = None,
) -> ReplayResult:
    """Produce every record as one JSON object (with its ``department``), key = credit code.
    ``headers_for(department)``: record headers, e.g. the department's signed token (issue 7)."""
    from aiokafka import AIOKafkaProducer

    options: dict[str, Any] = {
        "acks": "all",
        "enable_idempotence": True,
        "linger_ms": 5,
        "max_batch_size": 262_144,
    }
    options.update(producer_options or {})
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, **options)
    result = ReplayResult()
    pacer = Pacer(rate)
    started = time.perf_counter()
    pending: list[asyncio.Future[Any]] = []

    async def settle() -> None:
        for outcome in await asyncio.gather(*pending, return_exceptions=True):
            if isinstance(outcome, BaseException):
                result.errors.append(f"{topic}: {type(outcome).__name__}: {outcome}")
        pending.clear()

    await producer.start()
    try:
        for batch in dataset.submissions:
            dept, records = batch["department"], batch["records"]
            await pacer.take(len(records))
            headers = headers_for(dept) if headers_for else None
            for rec in records:
                value = orjson.dumps({**rec, "department": dept})
                pending.append(
                    await producer.send(topic, value=value, key=rec["credit_code"].encode(), headers=headers)
                )
            result.records += len(records)
            result.requests += 1
            if on_records:
                on_records(len(records))
            if len(pending) >= _KAFKA_WINDOW:
                await settle()
        await settle()
        await producer.flush()
    finally:
        await producer.stop()
    result.elapsed_s = time.perf_counter() - started
    return result
