"""``bureau topics backfill-credit-facts``: copy the credit-family facts of ``ingest.facts.v1`` onto
``ingest.credit-facts.v1``.

Ingest writes every fact of a credit family (``streams.credit`` in its indicator catalogue) to both
topics in one transaction. A deployment that existed before that stream did has its older credit
facts only on ``ingest.facts.v1``; rating and lending, which read the credit stream, would miss
them when rebuilt from an empty database (docs/operations.md §5, §8). This copies them over:

- the same key, value bytes and headers (``ce_id`` included), produced with an idempotent
  producer (``acks=all``), so the default partitioner puts each enterprise's facts on the
  partition ingest would have chosen, in the order of the fact log;
- only facts not on the target already (by ``ce_id``), so running it twice copies nothing twice;
- copied facts land *after* what ingest wrote since the stream began. Consumers keep the highest
  revision per fact key (an older revision changes nothing), so that order is harmless.

A record whose payload is not JSON with an ``indicator`` is not a fact: it is counted and left
where it is (the consumers of ``ingest.facts.v1`` dead-letter such records themselves).
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable, Sequence
from dataclasses import dataclass, field
from typing import Annotated, TypeAlias

import orjson
import typer
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from aiokafka.structs import ConsumerRecord
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from carbon_common.events.topics import Topics

app = typer.Typer(add_completion=False, no_args_is_help=True, help="Topic maintenance.")
out = Console(soft_wrap=True)
Progressed = Callable[[int], None]


@dataclass(slots=True)
class BackfillResult:
    """What one run read and did."""

    source: str
    target: str
    families: tuple[str, ...]
    read: int = 0
    #: facts of a credit family on the source
    credit: int = 0
    #: of those, already on the target (by ``ce_id``)
    present: int = 0
    copied: int = 0
    #: source records that are not a fact (no JSON payload with an ``indicator``)
    not_facts: int = 0
    dry_run: bool = False
    by_family: dict[str, int] = field(default_factory=dict)


def credit_families() -> tuple[str, ...]:
    """The families of ingest's packaged catalogue's credit stream (``streams.credit``)."""
    from carbon_ingest.adapters.catalogue_files import load_catalogue

    families = load_catalogue().streams.get("credit")
    if not families:
        raise typer.BadParameter("ingest's catalogue declares no credit stream (streams.credit)")
    return tuple(families)


async def _partitions(consumer: AIOKafkaConsumer, topic: str) -> list[TopicPartition]:
    parts = consumer.partitions_for_topic(topic)
    if not parts:  # an unassigned consumer's cache knows no topic yet: ask the cluster
        parts = (await consumer._client.fetch_all_metadata()).partitions_for_topic(topic)
    if not parts:
        raise typer.BadParameter(f"no topic {topic!r} on the cluster")
    return [TopicPartition(topic, p) for p in sorted(parts)]


Message: TypeAlias = ConsumerRecord[bytes, bytes]


async def _read(consumer: AIOKafkaConsumer, tp: TopicPartition) -> AsyncIterator[list[Message]]:
    """One partition from its beginning to the end offset of the moment it started, in chunks."""
    consumer.assign([tp])
    end = (await consumer.end_offsets([tp]))[tp]
    consumer.seek(tp, (await consumer.beginning_offsets([tp]))[tp])
    while await consumer.position(tp) < end:
        chunk = (await consumer.getmany(tp, timeout_ms=1000)).get(tp, [])
        yield [m for m in chunk if m.offset < end]


def _ce_id(m: Message) -> bytes | None:
    for k, v in m.headers or ():
        if k == "ce_id":
            return bytes(v)
    return None


def _indicator(m: Message) -> str | None:
    try:
        indicator = orjson.loads(m.value or b"")["indicator"]
    except (orjson.JSONDecodeError, KeyError, TypeError):
        return None
    return indicator if isinstance(indicator, str) else None


async def backfill_credit_facts(
    bootstrap: str,
    namespace: str = "",
    *,
    families: Sequence[str] | None = None,
    dry_run: bool = False,
    on_target: Progressed | None = None,
    on_source: Progressed | None = None,
) -> BackfillResult:
    """Copy what is missing (module docstring); ``dry_run`` counts without producing."""
    fams = tuple(families) if families is not None else credit_families()
    result = BackfillResult(namespace + Topics.FACTS, namespace + Topics.CREDIT_FACTS, fams, dry_run=dry_run)
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, enable_auto_commit=False, group_id=None)
    producer = AIOKafkaProducer(
        bootstrap_servers=bootstrap, acks="all", enable_idempotence=True, linger_ms=5, max_batch_size=262_144
    )
    await consumer.start()
    try:
        await producer.start()
        present: set[bytes] = set()  # the ce_ids already on the credit stream
        for tp in await _partitions(consumer, result.target):
            async for chunk in _read(consumer, tp):
                present.update(i for m in chunk if (i := _ce_id(m)) is not None)
                if on_target:
                    on_target(len(chunk))
        # the fact log partition by partition, in offset order; each chunk's missing credit facts
        # are produced (and acknowledged) before the next chunk is read
        for tp in await _partitions(consumer, result.source):
            async for chunk in _read(consumer, tp):
                result.read += len(chunk)
                missing: list[Message] = []
                for m in chunk:
                    indicator = _indicator(m)
                    if indicator is None:
                        result.not_facts += 1
                        continue
                    family = next((f for f in fams if indicator.startswith(f)), None)
                    if family is None:
                        continue
                    result.credit += 1
                    if _ce_id(m) in present:
                        result.present += 1
                        continue
                    result.by_family[family] = result.by_family.get(family, 0) + 1
                    missing.append(m)
                if missing and not dry_run:
                    sent = [
                        await producer.send(
                            result.target,
                            value=m.value,
                            key=m.key,
                            headers=[(k, bytes(v)) for k, v in m.headers],
                        )
                        for m in missing
                    ]
                    await asyncio.gather(*sent)
                    result.copied += len(sent)
                if on_source:
                    on_source(len(chunk))
    finally:
        await consumer.stop()
        await producer.stop()
    return result


# -- the CLI -------------------------------------------------------------------------------------
@app.command("backfill-credit-facts")
def backfill_cmd(
    bootstrap: Annotated[
        str, typer.Option("--bootstrap", envvar="KAFKA_BOOTSTRAP", help="Kafka bootstrap servers")
    ] = "127.0.0.1:9092",
    namespace: Annotated[
        str, typer.Option("--namespace", envvar="KAFKA_NAMESPACE", help="Topic namespace prefix")
    ] = "",
    dry_run: Annotated[bool, typer.Option("--dry-run", help="Count what would be copied")] = False,
) -> None:
    """Copy the credit-family facts of ingest.facts.v1 that ingest.credit-facts.v1 lacks."""
    with Progress(
        TextColumn("{task.description:<28}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=out,
    ) as progress:
        t_target = progress.add_task("reading the credit stream", total=None)
        t_source = progress.add_task("reading the fact log", total=None)
        result = asyncio.run(
            backfill_credit_facts(
                bootstrap,
                namespace,
                dry_run=dry_run,
                on_target=lambda n: progress.advance(t_target, n),
                on_source=lambda n: progress.advance(t_source, n),
            )
        )
    verb = "would copy" if dry_run else "copied"
    missing = result.credit - result.present
    out.print(
        f"{result.source}: {result.read:,} records, {result.credit:,} of the credit families "
        f"({', '.join(result.families)}); {result.present:,} already on {result.target}; "
        f"{verb} {missing if dry_run else result.copied:,}"
        + (f"; {result.not_facts:,} records are not facts (left alone)" if result.not_facts else "")
    )
    for family, n in sorted(result.by_family.items()):
        out.print(f"  {family:<14} {n:,}")
