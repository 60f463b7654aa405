"""What a fault run is judged on: a digest of each service's state, and "the system is quiet".

The digest is read-only SQL on each service's own database, keeping only what must be a pure
function of the input data: accounting's figures per enterprise-month, rating's current
outcome per enterprise (and its read model of the accounts), lending's read model of the
current rating. Ids, sequence
numbers and timestamps legitimately differ between runs and are left out.

Quiet means: no unpublished outbox row in any database and every consumer group of the
namespace has committed up to the end of every partition it reads, observed twice in a row with
unchanged end offsets (so nothing was in flight between the two looks).
"""

from __future__ import annotations

import asyncio
import hashlib
import json
from typing import Any

import asyncpg
from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient

from carbon_accounting.adapters.consumer import TOPICS as ACCOUNTING_TOPICS
from carbon_common.events import Topics
from carbon_common.outbox import PENDING_ROWS_SQL
from carbon_lending.service_layer.consumers import TOPICS as LENDING_TOPICS
from carbon_rating.bootstrap import CONSUMED_TOPICS as RATING_TOPICS
from tests.fault.harness import NAMES, Deployment

#: consumer group (plain name) → the topics it reads
GROUPS: dict[str, tuple[str, ...]] = {
    "ingest": (Topics.DEPT_SUBMISSIONS,),
    "accounting": tuple(ACCOUNTING_TOPICS),
    "rating": tuple(RATING_TOPICS),
    "lending": tuple(LENDING_TOPICS),
}

DIGEST_SQL: dict[str, str] = {
    "accounting_facts": """
        SELECT fact_key, revision, credit_code, indicator, period, value, unit
        FROM facts ORDER BY fact_key""",
    "accounting": """
        SELECT credit_code, period, method, scope1_combustion_tco2, scope1_process_tco2,
               scope2_location_tco2, scope2_market_tco2, scope3_tco2, total_tco2,
               output_quantity, output_unit, intensity_per_output, revenue_10k_cny,
               intensity_per_revenue, value_added_10k_cny, intensity_per_value_added,
               data_quality_score, fact_count, factor_set
        FROM accounts ORDER BY credit_code, period""",
    "rating_accounts": """
        SELECT credit_code, period, industry_code, total_tco2, output_quantity, output_unit,
               revenue_10k_cny, data_quality_score, factor_set
        FROM accounts ORDER BY credit_code, period""",
    # the rating *outcome* as rating defines it (``issuing.rerate``: a re-rating whose score,
    # label, vetoes, stage and methodology are unchanged issues nothing, so as_of_period and
    # confidence of the current rating depend on the order inputs arrived in, not on the data)
    "rating": """
        SELECT credit_code, industry_code, stage, score, label, methodology_version, vetoes
        FROM ratings WHERE is_current ORDER BY credit_code""",
    "lending": """
        SELECT credit_code, score, label, methodology_version, transition_stage, vetoes
        FROM current_ratings ORDER BY credit_code""",
}


def _plain(value: Any) -> Any:
    return value if isinstance(value, int | type(None)) else str(value)


async def rows(dep: Deployment, part: str) -> list[tuple[Any, ...]]:
    conn = await asyncpg.connect(dep.db_dsn(part.partition("_")[0]))
    try:
        return [tuple(_plain(v) for v in r) for r in await conn.fetch(DIGEST_SQL[part])]
    finally:
        await conn.close()


async def state(dep: Deployment) -> dict[str, list[tuple[Any, ...]]]:
    """The comparable state: accounting's facts and accounts, rating's and lending's current
    ratings (rows, sorted)."""
    return {part: await rows(dep, part) for part in DIGEST_SQL}


def digest(snapshot: dict[str, list[tuple[Any, ...]]]) -> dict[str, str]:
    """A short hash per service (what the report quotes) of :func:`state`'s rows."""
    return {
        svc: hashlib.sha256(json.dumps(r, ensure_ascii=False).encode()).hexdigest()[:16]
        for svc, r in snapshot.items()
    }


def differences(a: dict[str, list[tuple[Any, ...]]], b: dict[str, list[tuple[Any, ...]]]) -> list[str]:
    """Readable differences (first few per service) for an assertion message."""
    out: list[str] = []
    for svc, rows_a in a.items():
        left, right = set(rows_a), set(b.get(svc, []))
        if left != right:
            out.append(
                f"{svc}: {len(left - right)} rows only in the first, {len(right - left)} only in the "
                f"second; e.g. {sorted(left - right)[:2]} vs {sorted(right - left)[:2]}"
            )
    return out


async def outbox_pending(dep: Deployment) -> dict[str, int]:
    out: dict[str, int] = {}
    for svc in NAMES:
        conn = await asyncpg.connect(dep.db_dsn(svc))
        try:
            out[svc] = int(await conn.fetchval(PENDING_ROWS_SQL))
        finally:
            await conn.close()
    return out


async def end_offsets(bootstrap: str, topics: list[str]) -> dict[TopicPartition, int]:
    """End offset of every partition of ``topics`` (full, namespaced names)."""
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, enable_auto_commit=False)
    await consumer.start()
    try:
        parts = [TopicPartition(t, p) for t in topics for p in sorted(consumer.partitions_for_topic(t) or ())]
        if any(not consumer.partitions_for_topic(t) for t in topics):
            await consumer._client.force_metadata_update()  # first look at a new topic
            parts = [
                TopicPartition(t, p) for t in topics for p in sorted(consumer.partitions_for_topic(t) or ())
            ]
        return dict(await consumer.end_offsets(parts)) if parts else {}
    finally:
        await consumer.stop()


async def lag(dep: Deployment) -> dict[str, int]:
    """Records each consumer group of ``dep`` has not committed yet, summed over its partitions."""
    ns = dep.namespace
    topics = sorted({ns + t for ts in GROUPS.values() for t in ts})
    ends = await end_offsets(dep.kafka, topics)
    admin = AIOKafkaAdminClient(bootstrap_servers=dep.kafka)
    await admin.start()
    try:
        out: dict[str, int] = {}
        for group, plain in GROUPS.items():
            committed = await admin.list_consumer_group_offsets(ns + group)
            out[group] = sum(
                end - (committed[tp].offset if tp in committed else 0)
                for tp, end in ends.items()
                if tp.topic in {ns + t for t in plain}
            )
        return out
    finally:
        await admin.close()


async def topic_counts(dep: Deployment, *plain: str) -> dict[str, int]:
    """How many records each topic of ``dep``'s namespace holds (sum of end offsets)."""
    ends = await end_offsets(dep.kafka, [dep.namespace + t for t in plain])
    return {t: sum(v for tp, v in ends.items() if tp.topic == dep.namespace + t) for t in plain}


async def wait_quiet(dep: Deployment, timeout: float = 240.0) -> dict[str, Any]:
    """Poll until outboxes are drained and every group has caught up, twice in a row."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    last: dict[str, Any] = {}
    previous: dict[str, int] | None = None
    while loop.time() < deadline:
        try:
            pending, lags = await outbox_pending(dep), await lag(dep)
            counts = await topic_counts(dep, *Topics.ALL)
        except Exception as exc:  # a server may be down mid-scenario: keep polling
            last = {"error": repr(exc)}
            previous = None
            await asyncio.sleep(1.0)
            continue
        last = {"outbox_pending": pending, "lag": lags, "topics": counts}
        if not any(pending.values()) and not any(lags.values()):
            if previous == counts:
                return last
            previous = counts
        else:
            previous = None
        await asyncio.sleep(1.0)
    raise AssertionError(f"{dep.label}: not quiet after {timeout:.0f}s; last look: {last}")
