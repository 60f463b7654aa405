"""``bureau dlq inspect|redrive``: look at dead-lettered records and send them back after a fix.

Every consumer dead-letters what it cannot apply to ``<topic>.dlq`` with the original key,
value and headers plus ``dlq_reason``, ``dlq_source_topic/partition/offset``,
``dlq_consumer_group`` and ``dlq_time`` (``carbon_common.bus.processing.dlq_record``).
``redrive`` republishes selected records to their source topic with the original key, value
and headers (the ``dlq_*`` ones removed) through an idempotent producer (``acks=all``).

What was redriven is recorded in Kafka itself, as committed offsets of the consumer group
``dlq-redrive`` on the DLQ topic: the committed offset is the mark below which every record was
redriven, and the commit's metadata lists the offsets above the mark that were redriven too
(records a ``--reason-contains`` filter passed over stay eligible for a later run). A second
run therefore never redrives a record twice. Consumers stay idempotent anyway: a redriven
event keeps its ``ce_id``, so an inbox that already applied it ignores it.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Annotated

import typer
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from aiokafka.structs import OffsetAndMetadata
from rich.console import Console
from rich.table import Table

from carbon_common.events.topics import Topics

GROUP = "dlq-redrive"
#: brokers keep at most ``offset.metadata.max.bytes`` (default 4096) of commit metadata
MAX_METADATA = 4000
DLQ_PREFIX = "dlq_"

app = typer.Typer(add_completion=False, no_args_is_help=True, help="Dead-letter topics: inspect, redrive.")
out = Console(soft_wrap=True)


@dataclass(frozen=True, slots=True)
class DeadLetter:
    """One record of a ``.dlq`` topic, with what the dead-lettering consumer said about it."""

    partition: int
    offset: int
    key: bytes | None
    value: bytes | None
    headers: tuple[tuple[str, bytes], ...]
    redriven: bool

    def header(self, name: str) -> str:
        for k, v in reversed(self.headers):
            if k == name:
                return v.decode("utf-8", "replace")
        return ""

    @property
    def reason(self) -> str:
        return self.header("dlq_reason")

    @property
    def group(self) -> str:
        return self.header("dlq_consumer_group")

    @property
    def source(self) -> str:
        return f"{self.header('dlq_source_partition')}/{self.header('dlq_source_offset')}"

    @property
    def size(self) -> int:
        return len(self.value or b"")

    @property
    def original_headers(self) -> list[tuple[str, bytes]]:
        return [(k, v) for k, v in self.headers if not k.startswith(DLQ_PREFIX)]


# -- the ledger: committed offset + metadata ranges ---------------------------------------------
def encode_ranges(offsets: Iterable[int]) -> str:
    """``{3, 4, 5, 9}`` → ``"3-5,9"``."""
    parts: list[str] = []
    run: list[int] = []
    for o in sorted(set(offsets)):
        if run and o == run[-1] + 1:
            run.append(o)
            continue
        if run:
            parts.append(f"{run[0]}-{run[-1]}" if len(run) > 1 else str(run[0]))
        run = [o]
    if run:
        parts.append(f"{run[0]}-{run[-1]}" if len(run) > 1 else str(run[0]))
    return ",".join(parts)


def decode_ranges(text: str) -> set[int]:
    done: set[int] = set()
    for part in filter(None, text.split(",")):
        lo, _, hi = part.partition("-")
        done.update(range(int(lo), int(hi or lo) + 1))
    return done


def advance(mark: int, done: set[int]) -> tuple[int, set[int]]:
    """Move the mark over every contiguous redriven offset; keep the rest as metadata."""
    while mark in done:
        done.discard(mark)
        mark += 1
    return mark, {o for o in done if o > mark}


@dataclass
class _Ledger:
    mark: int
    done: set[int]

    def redriven(self, offset: int) -> bool:
        return offset < self.mark or offset in self.done


async def _read(
    consumer: AIOKafkaConsumer, dlq: str
) -> tuple[list[DeadLetter], dict[TopicPartition, _Ledger], dict[TopicPartition, int]]:
    parts = sorted(consumer.partitions_for_topic(dlq) or ())
    if not parts:
        await consumer._client.force_metadata_update()
        parts = sorted(consumer.partitions_for_topic(dlq) or ())
    if not parts:
        raise typer.BadParameter(f"no topic {dlq!r} on the cluster")
    tps = [TopicPartition(dlq, p) for p in parts]
    consumer.assign(tps)
    ends = await consumer.end_offsets(tps)
    begins = await consumer.beginning_offsets(tps)
    ledgers: dict[TopicPartition, _Ledger] = {}
    for tp in tps:
        ledgers[tp] = await _ledger(consumer, tp)
        consumer.seek(tp, begins[tp])
    records: list[DeadLetter] = []
    while [tp for tp in tps if await consumer.position(tp) < ends[tp]]:
        for tp, msgs in (await consumer.getmany(timeout_ms=1000)).items():
            for m in msgs:
                if m.offset >= ends[tp]:
                    continue
                records.append(
                    DeadLetter(
                        m.partition,
                        m.offset,
                        m.key,
                        m.value,
                        tuple((k, bytes(v)) for k, v in (m.headers or ())),
                        ledgers[tp].redriven(m.offset),
                    )
                )
    return sorted(records, key=lambda r: (r.partition, r.offset)), ledgers, ends


async def _ledger(consumer: AIOKafkaConsumer, tp: TopicPartition) -> _Ledger:
    """The committed mark and metadata (``consumer.committed`` drops the metadata, hence the
    coordinator call)."""
    found = (await consumer._coordinator.fetch_committed_offsets([tp])).get(tp)
    if found is None or found.offset < 0:
        return _Ledger(0, set())
    return _Ledger(found.offset, decode_ranges(found.metadata or ""))


def _consumer(bootstrap: str, namespace: str) -> AIOKafkaConsumer:
    return AIOKafkaConsumer(
        bootstrap_servers=bootstrap,
        group_id=namespace + GROUP,
        enable_auto_commit=False,
        auto_offset_reset="earliest",
    )


async def inspect_records(bootstrap: str, topic: str, namespace: str = "") -> list[DeadLetter]:
    """Every record of ``<namespace><topic>.dlq``, marked ``redriven`` per the ledger."""
    consumer = _consumer(bootstrap, namespace)
    await consumer.start()
    try:
        records, _, _ = await _read(consumer, namespace + Topics.dlq(topic))
        return records
    finally:
        await consumer.stop()


def selected(
    records: Sequence[DeadLetter], reason_contains: str | None, group: str | None
) -> list[DeadLetter]:
    return [
        r
        for r in records
        if not r.redriven
        and (reason_contains is None or reason_contains in r.reason)
        and (group is None or r.group == group)
    ]


async def redrive_records(
    bootstrap: str,
    topic: str,
    namespace: str = "",
    *,
    reason_contains: str | None = None,
    group: str | None = None,
    dry_run: bool = False,
) -> list[DeadLetter]:
    """Republish the not-yet-redriven DLQ records of ``topic`` that match; return them."""
    consumer = _consumer(bootstrap, namespace)
    await consumer.start()
    try:
        records, ledgers, _ends = await _read(consumer, namespace + Topics.dlq(topic))
        chosen = selected(records, reason_contains, group)
        if dry_run or not chosen:
            return chosen
        producer = AIOKafkaProducer(bootstrap_servers=bootstrap, acks="all", enable_idempotence=True)
        await producer.start()
        try:
            futures = [
                await producer.send(namespace + topic, value=r.value, key=r.key, headers=r.original_headers)
                for r in chosen
            ]
            await asyncio.gather(*futures)
        finally:
            await producer.stop()
        offsets: dict[TopicPartition, OffsetAndMetadata] = {}
        for tp, ledger in ledgers.items():
            done = ledger.done | {r.offset for r in chosen if r.partition == tp.partition}
            mark, rest = advance(ledger.mark, done)
            metadata = encode_ranges(rest)
            if len(metadata) > MAX_METADATA:
                raise RuntimeError(
                    f"redrove {len(chosen)} records but cannot record them: the redriven offsets of "
                    f"{tp} do not fit the commit metadata; redrive the remaining records without a filter"
                )
            offsets[tp] = OffsetAndMetadata(mark, metadata)
        await consumer.commit(offsets)
        return chosen
    finally:
        await consumer.stop()


# -- the CLI -------------------------------------------------------------------------------------
Bootstrap = Annotated[
    str, typer.Option("--bootstrap", envvar="KAFKA_BOOTSTRAP", help="Kafka bootstrap servers")
]
Topic = Annotated[str, typer.Option("--topic", help="The source topic, e.g. dept.submissions.v1")]
Namespace = Annotated[
    str, typer.Option("--namespace", envvar="KAFKA_NAMESPACE", help="Topic/group namespace prefix")
]


def _table(records: Sequence[DeadLetter], title: str) -> Table:
    table = Table(title=title)
    for col in ("dlq offset", "source p/offset", "group", "bytes", "redriven", "reason"):
        table.add_column(col, overflow="fold")
    for r in records:
        table.add_row(
            f"{r.partition}/{r.offset}",
            r.source,
            r.group,
            str(r.size),
            "yes" if r.redriven else "",
            r.reason,
        )
    return table


@app.command("inspect")
def inspect_cmd(topic: Topic, bootstrap: Bootstrap = "127.0.0.1:9092", namespace: Namespace = "") -> None:
    """List the dead-lettered records of a topic: reason, source partition/offset, size."""
    records = asyncio.run(inspect_records(bootstrap, topic, namespace))
    out.print(_table(records, f"{namespace}{Topics.dlq(topic)}: {len(records)} records"))


@app.command("redrive")
def redrive_cmd(
    topic: Topic,
    bootstrap: Bootstrap = "127.0.0.1:9092",
    namespace: Namespace = "",
    reason_contains: Annotated[
        str | None, typer.Option("--reason-contains", help="Only records whose dlq_reason contains this")
    ] = None,
    group: Annotated[
        str | None, typer.Option("--group", help="Only records dead-lettered by this consumer group")
    ] = None,
    dry_run: Annotated[bool, typer.Option("--dry-run", help="Show what would be redriven")] = False,
) -> None:
    """Republish selected dead-lettered records to their source topic (once each)."""
    records = asyncio.run(
        redrive_records(
            bootstrap, topic, namespace, reason_contains=reason_contains, group=group, dry_run=dry_run
        )
    )
    verb = "would redrive" if dry_run else "redrove"
    out.print(_table(records, f"{verb} {len(records)} records to {namespace}{topic}"))
