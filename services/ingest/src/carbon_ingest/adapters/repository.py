"""All queries of the ingest service (PostgreSQL, SQLAlchemy Core, bulk statements).

Hot-path rules: one query per lookup per batch (``= ANY(array)``), executemany for inserts,
``INSERT ... ON CONFLICT`` for heads. No query runs once per record.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import orjson
from sqlalchemy import and_, any_, func, literal, select, text
from sqlalchemy.dialects.postgresql import ARRAY, insert
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.types import String

from carbon_common.db import TracedConnection, traced_connection
from carbon_common.inbox import claim
from carbon_common.packed import pack, texts, unique_texts
from carbon_ingest.adapters.orm import (
    enterprises,
    evidence,
    fact_heads,
    facts,
    quality_flags,
    submission_rejections,
    submissions,
)
from carbon_ingest.domain.enterprise import Enterprise
from carbon_ingest.domain.evidence import GENESIS, StoredEntry, canonical_fact
from carbon_ingest.domain.facts import Fact, Head
from carbon_ingest.domain.plausibility import PLAUSIBILITY, MonthSummary, Target
from carbon_ingest.domain.quality import CROSS_SOURCE, Flag, SourceValue
from carbon_ingest.domain.records import Rejection
from carbon_ingest.service_layer.ports import FactEventRows, SubmissionReport

_EMPTY: frozenset[str] = frozenset()
#: pg_advisory_xact_lock key of the evidence chain: one appender at a time (our own constant)
EVIDENCE_LOCK_KEY = 0x1A6E57


def _any(values: Iterable[str]) -> Any:
    return any_(literal(list(values), ARRAY(String)))


#: hot-path statements sent to asyncpg directly (prepared once per connection)
_REGISTERED = "SELECT credit_code FROM enterprises WHERE credit_code = ANY($1::varchar[])"
_LOCK_CHAIN = "SELECT pg_advisory_xact_lock($1)"
#: a group's department locks in one statement, taken in the order of the array (the caller
#: sorts: the one lock order of every transaction, so none waits in a cycle)
_LOCK_DEPARTMENTS = """
SELECT pg_advisory_xact_lock(2, hashtext(d))
FROM (SELECT d FROM unnest($1::text[]) WITH ORDINALITY AS t(d, n) ORDER BY n) AS s
"""
_LAST_EVIDENCE = "SELECT seq, entry_hash FROM evidence ORDER BY seq DESC LIMIT 1"
_CUSTOM_PLANS = "SET LOCAL plan_cache_mode = force_custom_plan"
#: the heads of a group's record ids, per department: ``$2`` holds every department's record ids
#: one after the other, ``$3``/``$4`` each department's slice of it (1-based, inclusive), so each
#: department is one index scan of the (department, record_id) primary key of ``fact_heads``
#: whatever the group's size (a join over unnest'ed pairs turns into a sequential scan of the
#: whole table for a 10,000-record Kafka batch). The content hashes of every revision are
#: gathered only for keys that were ever corrected (revision > 1; PostgreSQL evaluates the CASE
#: branch lazily), through the (department, record_id, revision) unique index of ``facts``.
_HEADS = """
SELECT h.department, h.record_id, h.revision, h.content_hash, h.indicator,
       CASE WHEN h.revision > 1 THEN (SELECT array_agg(f.content_hash) FROM facts f
                                      WHERE f.department = h.department AND f.record_id = h.record_id)
       END AS hashes
FROM unnest($1::varchar[], $3::int[], $4::int[]) AS d(department, lo, hi)
CROSS JOIN LATERAL (
    SELECT * FROM fact_heads WHERE department = d.department AND record_id = ANY(($2::varchar[])[d.lo:d.hi])
) AS h
"""
#: a group's submission rows and all their rejections: one statement
_ADD_SUBMISSIONS = """
WITH s AS (
    INSERT INTO submissions (submission_id, department, channel, catalogue_version, received, accepted,
                             duplicates, corrections, rejected, received_at)
    SELECT submission_id, department, channel, $1, received, accepted, duplicates, corrections, rejected,
           received_at
    FROM unnest($2::varchar[], $3::varchar[], $4::varchar[], $5::int[], $6::int[], $7::int[], $8::int[],
                $9::int[], $10::timestamptz[])
         AS t(submission_id, department, channel, received, accepted, duplicates, corrections, rejected,
              received_at)
)
INSERT INTO submission_rejections (submission_id, position, record_id, field, reason)
SELECT * FROM unnest($11::varchar[], $12::int[], $13::varchar[], $14::varchar[], $15::text[])
"""
#: the values cross-validation compares — the heads of exactly the (credit code, indicator, period)
#: months the transaction touched, one range of ix_fact_heads_series each — and, in the same
#: statement (one round trip under the chain lock), the deletion of those months' cross-source flags,
#: about to be recomputed. (It took every head of the codes × periods × indicators of the batch
#: before: with many periods per batch, a superset many times the size of what was touched.)
#: Both flag deletions join the table with the months' arrays, so both run with custom plans
#: (``_custom_plans``): a cached generic plan cannot see the arrays' length (it assumes 10
#: elements), and with the flags table's statistics of the moment it chose a nested loop that
#: rescanned the whole array for every flag of the table — quadratic, growing with the flags; in the
#: pilot replay a fifth to a third of ingest's database CPU (docs/performance-notes.md, fifth pass).
_SOURCE_VALUES_FOR_RECHECK = """
WITH m AS (
    SELECT * FROM unnest(string_to_array($2::text, $1::text), string_to_array($3::text, $1::text),
                         string_to_array($4::text, $1::text)) AS m(credit_code, indicator, period)
), cleared AS (
    DELETE FROM quality_flags q USING m
    WHERE q.credit_code = m.credit_code AND q.period = m.period AND q.indicator = m.indicator AND q."check" = $5
)
SELECT h.credit_code, h.period, h.indicator, h.department, h.authoritative, h.value
FROM m CROSS JOIN LATERAL (
    SELECT * FROM fact_heads h
    WHERE h.credit_code = m.credit_code AND h.indicator = m.indicator AND h.period = m.period
) AS h
"""
_INSERT_FLAGS = """
INSERT INTO quality_flags (credit_code, period, indicator, "check", department, value, reference_departments,
                           reference_value, relative_difference, tolerance)
SELECT * FROM unnest($1::varchar[], $2::varchar[], $3::varchar[], $4::varchar[], $5::varchar[], $6::numeric[],
                     $7::text[], $8::numeric[], $9::numeric[], $10::numeric[])
"""
#: the heads upsert: a first revision (``$3`` = 1) has no stored head — the heads read under the
#: department lock found none — so it is a plain INSERT (a unique violation would be a broken
#: invariant, loud), which skips ON CONFLICT's extra probe of the primary key per row (the
#: speculative insertion); only later revisions go through ON CONFLICT ... DO UPDATE. Values travel as
#: their canonical text (the validator spelled it already; asyncpg's binary numeric encoding of a
#: Decimal costs more than the text's copy), cast to numeric here: the same numeric, scale included.
#: The columns travel packed (``carbon_common.packed``: one text each, split on ``$1``)
_UPSERT_HEADS = """
WITH t AS (
    SELECT * FROM unnest(string_to_array($2::text, $1::text), string_to_array($3::text, $1::text),
                         string_to_array($4::text, $1::text)::int[], string_to_array($5::text, $1::text),
                         string_to_array($6::text, $1::text), string_to_array($7::text, $1::text),
                         string_to_array($8::text, $1::text), string_to_array($9::text, $1::text),
                         string_to_array($10::text, $1::text), string_to_array($11::text, $1::text)::bool[])
         AS t(department, record_id, revision, content_hash, fact_id, credit_code, indicator, period, value,
              authoritative)
), fresh AS (
    INSERT INTO fact_heads (department, record_id, revision, content_hash, fact_id, credit_code, indicator,
                            period, value, authoritative)
    SELECT department, record_id, revision, content_hash, fact_id, credit_code, indicator, period,
           value::numeric, authoritative
    FROM t WHERE revision = 1
)
INSERT INTO fact_heads (department, record_id, revision, content_hash, fact_id, credit_code, indicator, period,
                        value, authoritative)
SELECT department, record_id, revision, content_hash, fact_id, credit_code, indicator, period, value::numeric,
       authoritative
FROM t WHERE revision > 1
ON CONFLICT (department, record_id) DO UPDATE SET
    revision = excluded.revision, content_hash = excluded.content_hash, fact_id = excluded.fact_id,
    credit_code = excluded.credit_code, indicator = excluded.indicator, period = excluded.period,
    value = excluded.value, authoritative = excluded.authoritative
"""


#: the chain append: facts, evidence entries and the FactRecorded outbox row (carbon_common.outbox's
#: ``outbox_batches``, which this service's migrations create in its own database), in one statement. Derived
#: server-side instead of sent per fact: the entries' seq and previous hash (from the first seq and
#: the hashes' own order), the events' key (the fact's credit code: the ``FactRecorded`` subject)
#: and topic. The events are ONE outbox row (carbon_common.outbox: the transaction's records as
#: arrays, in fact order: the chain's order per key), the values and headers arrays passed as they
#: came; the extra stream (``$25``: its topic, '' for none) gets the events flagged in ``$21``, from
#: the same row (nothing is encoded, sent or stored twice). No joins: every array is one row per
#: fact, read in its order. Values as canonical text, cast (as in the heads upsert). Every column,
#: the events' too, travels packed (``carbon_common.packed``: one text each, split on ``$1``; the
#: events' JSON bytes back to ``bytea`` with ``convert_to``).
_APPEND_FACTS = """
WITH t AS (
    SELECT * FROM unnest(string_to_array($2::text, $1::text), string_to_array($3::text, $1::text),
                         string_to_array($4::text, $1::text), string_to_array($5::text, $1::text)::int[],
                         string_to_array($6::text, $1::text), string_to_array($7::text, $1::text),
                         string_to_array($8::text, $1::text), string_to_array($9::text, $1::text),
                         string_to_array($10::text, $1::text), string_to_array($11::text, $1::text),
                         string_to_array($12::text, $1::text), string_to_array($13::text, $1::text),
                         string_to_array($14::text, $1::text)::bool[], string_to_array($15::text, $1::text),
                         string_to_array($16::text, $1::text), string_to_array($17::text, $1::text),
                         string_to_array($18::text, $1::text)::timestamptz[]) WITH ORDINALITY
         AS t(fact_id, department, record_id, revision, credit_code, indicator, period, value, unit,
              original_value, original_unit, attributes, authoritative, content_hash, evidence_hash,
              submission_id, recorded_at, n)
), new_facts AS (
    INSERT INTO facts (fact_id, department, record_id, revision, credit_code, indicator, period, value, unit,
                       original_value, original_unit, attributes, authoritative, content_hash, evidence_hash,
                       submission_id, recorded_at)
    SELECT fact_id, department, record_id, revision, credit_code, indicator, period, value::numeric, unit,
           original_value, original_unit, attributes::jsonb, authoritative, content_hash, evidence_hash,
           submission_id, recorded_at
    FROM t
), new_entries AS (
    INSERT INTO evidence (seq, fact_id, prev_hash, entry_hash)
    SELECT $23::bigint + n - 1, fact_id, coalesce(lag(evidence_hash) OVER (ORDER BY n), $24::text), evidence_hash
    FROM t
)
INSERT INTO outbox_batches (topic, records, event_ids, keys, "values", headers, copy_topic, copies)
SELECT $25::text, count(*), string_to_array($19::text, $1::text), array_agg(convert_to(credit_code, 'UTF8') ORDER BY n),
       (SELECT array_agg(convert_to(e.v, 'UTF8') ORDER BY e.k)
        FROM unnest(string_to_array($20::text, $1::text)) WITH ORDINALITY AS e(v, k)),
       string_to_array($21::text, $1::text)::json[], nullif($26::text, ''),
       CASE WHEN $26::text <> '' THEN string_to_array($22::text, $1::text)::bool[] END
FROM t
"""


def _jsonb(attributes: Any) -> str:
    """COPY sends JSONB as text."""
    return "{}" if not attributes else orjson.dumps(dict(attributes)).decode()


#: plausibility: per target month, its total and the exact median (numeric: the mean of the two
#: middle values for an even count) of the department's month totals before it in [first_period,
#: period) — the heads summed per month — one target at a time (a LATERAL subquery over one range
#: of ix_fact_heads_series, (credit_code, indicator, period): about window + 1 heads per target,
#: already in month order, so no sort of the whole batch's months by five text keys as a join then
#: GROUP BY needed); the same statement deletes the targets' plausibility flags (about to be
#: recomputed): one round trip. (A data-modifying CTE runs to completion whether or not it is
#: referenced.) ``tests/test_plausibility_statement.py`` checks it against the former statement.
_MONTH_SUMMARIES_FOR_RECHECK = """
WITH cleared AS (
    DELETE FROM quality_flags q
    USING unnest(string_to_array($2::text, $1::text), string_to_array($3::text, $1::text),
                 string_to_array($4::text, $1::text), string_to_array($5::text, $1::text))
          AS c(credit_code, indicator, department, period)
    WHERE q."check" = $7 AND q.credit_code = c.credit_code AND q.indicator = c.indicator
      AND q.department = c.department AND q.period = c.period
)
SELECT t.credit_code, t.indicator, t.department, t.period, s.total,
       coalesce(cardinality(s.history), 0) AS months,
       (s.history[(cardinality(s.history) + 1) / 2] + s.history[(cardinality(s.history) + 2) / 2]) / 2 AS median
FROM unnest(string_to_array($2::text, $1::text), string_to_array($3::text, $1::text),
            string_to_array($4::text, $1::text), string_to_array($5::text, $1::text),
            string_to_array($6::text, $1::text))
     AS t(credit_code, indicator, department, period, first_period)
CROSS JOIN LATERAL (
    SELECT sum(m.total) FILTER (WHERE m.month = t.period) AS total,
           array_agg(m.total ORDER BY m.total) FILTER (WHERE m.month < t.period) AS history
    FROM (SELECT h.period AS month, sum(h.value) AS total FROM fact_heads h
          WHERE h.credit_code = t.credit_code AND h.indicator = t.indicator AND h.department = t.department
            AND h.period >= t.first_period AND h.period <= t.period
          GROUP BY h.period) AS m
) AS s
WHERE s.total IS NOT NULL
"""


def _enterprise(row: Any) -> Enterprise:
    return Enterprise(
        credit_code=row.credit_code,
        name=row.name,
        region_code=row.region_code,
        industry_code=row.industry_code,
        size_class=row.size_class,
        transition_stage=row.transition_stage,
        ets_participant=row.ets_participant,
        revision=row.revision,
    )


class SqlRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session
        self._custom = False  # custom plans set for this unit of work's transaction

    # --- directory ----------------------------------------------------------------------------
    async def lock_enterprise(self, credit_code: str) -> None:
        """Serialise registrations of one credit code (the row may not exist yet to lock); the
        two-key lock space does not overlap the evidence chain's one-key lock."""
        await self.session.execute(text("SELECT pg_advisory_xact_lock(1, hashtext(:c))"), {"c": credit_code})

    async def get_enterprise(self, credit_code: str) -> Enterprise | None:
        row = (
            await self.session.execute(select(enterprises).where(enterprises.c.credit_code == credit_code))
        ).first()
        return None if row is None else _enterprise(row)

    async def save_enterprise(self, e: Enterprise) -> None:
        values = {
            "credit_code": e.credit_code,
            "name": e.name,
            "region_code": e.region_code,
            "industry_code": e.industry_code,
            "size_class": e.size_class,
            "transition_stage": e.transition_stage,
            "ets_participant": e.ets_participant,
            "revision": e.revision,
        }
        stmt = insert(enterprises).values(values)
        stmt = stmt.on_conflict_do_update(
            index_elements=[enterprises.c.credit_code],
            set_={**{k: stmt.excluded[k] for k in values if k != "credit_code"}, "updated_at": func.now()},
        )
        await self.session.execute(stmt)

    async def list_enterprises(
        self, region: str | None, industry: str | None, offset: int, limit: int
    ) -> tuple[list[Enterprise], int]:
        cond = and_(
            enterprises.c.region_code == region if region else literal(True),
            enterprises.c.industry_code.startswith(industry) if industry else literal(True),
        )
        total = (
            await self.session.execute(select(func.count()).select_from(enterprises).where(cond))
        ).scalar_one()
        rows = await self.session.execute(
            select(enterprises).where(cond).order_by(enterprises.c.credit_code).offset(offset).limit(limit)
        )
        return [_enterprise(r) for r in rows], int(total)

    async def registered(self, credit_codes: Iterable[str]) -> set[str]:
        codes = list(set(credit_codes))
        if not codes:
            return set()
        rows = await (await self._driver()).fetch(_REGISTERED, codes)
        return {r[0] for r in rows}

    # --- facts and evidence -------------------------------------------------------------------
    async def lock_evidence_chain(self) -> None:
        await (await self._driver()).execute(_LOCK_CHAIN, EVIDENCE_LOCK_KEY)

    async def lock_departments(self, departments: Sequence[str]) -> None:
        """Serialise each department's record-id dedupe (heads read → heads upsert → commit); other
        departments proceed in parallel. Two-key space 2, apart from enterprises (1) and the chain.
        All of a group's locks in one statement, in the order given (callers sort)."""
        if departments:
            await (await self._driver()).execute(_LOCK_DEPARTMENTS, list(departments))

    async def heads(self, record_ids: Mapping[str, Iterable[str]]) -> dict[str, dict[str, Head]]:
        """The stored heads of each department's record ids (one query for the whole group)."""
        depts: list[str] = []
        ids: list[str] = []
        lo: list[int] = []
        hi: list[int] = []
        for dept, rids in record_ids.items():
            unique = set(rids)
            if unique:
                depts.append(dept)
                lo.append(len(ids) + 1)
                ids += unique
                hi.append(len(ids))
        out: dict[str, dict[str, Head]] = {dept: {} for dept in record_ids}
        if not ids:
            return out
        for r in await (await self._driver()).fetch(_HEADS, depts, ids, lo, hi):
            out[r[0]][r[1]] = Head(
                r[1], r[2], r[3], r[4], _EMPTY if r[5] is None else frozenset(r[5]) - {r[3]}
            )
        return out

    async def last_evidence(self) -> tuple[int, str]:
        row = await (await self._driver()).fetchrow(_LAST_EVIDENCE)
        return (0, GENESIS) if row is None else (int(row[0]), str(row[1]))

    async def add_facts(
        self,
        new: Sequence[Fact],
        hashes: Sequence[str],
        first_seq: int,
        prev_hash: str,
        submission_ids: Sequence[str],
        events: FactEventRows | None = None,
    ) -> None:
        """Insert the facts (``submission_ids``: each fact's submission), their chain entries and
        their events (one outbox row: ``copy_topic`` and ``copies`` name the extra stream and the
        facts it carries) with ONE statement for a whole transaction (data-modifying CTEs over
        column arrays): it runs under the chain lock, where every round trip counts; COPY would cost
        three (and a type introspection each)."""
        if not new:
            return
        if events is None or len(events.ids) != len(new):
            raise ValueError("add_facts: one FactRecorded per fact")
        if len(events.copies) > 1:  # the catalogue has one extra stream (domain.catalogue.STREAMS)
            raise ValueError(f"add_facts: one extra stream at most, not {sorted(events.copies)}")
        copied = [False] * len(new)
        copy_topic = ""
        if events.copies:
            ((copy_topic, positions),) = events.copies.items()
            for p in positions:
                copied[p] = True
        columns = pack(
            [f.fact_id for f in new],
            [f.department for f in new],
            [f.record_id for f in new],
            texts([f.revision for f in new]),
            [f.credit_code for f in new],
            [f.indicator for f in new],
            [f.period for f in new],
            [f.spelled_value for f in new],
            [f.unit for f in new],
            [f.original_value for f in new],
            [f.original_unit for f in new],
            [_jsonb(f.attributes) for f in new],
            texts([f.authoritative for f in new]),
            [f.content_hash for f in new],
            hashes,
            submission_ids,
            unique_texts([f.recorded_at for f in new]),
            events.ids,
            events.values,
            events.headers,
            texts(copied),
        )
        await self._raw_execute(_APPEND_FACTS, *columns, first_seq, prev_hash, events.topic, copy_topic)

    async def upsert_heads(self, new: Sequence[Fact]) -> None:
        """Point every fact key of the batch at its newest revision (before the chain lock): one
        ``INSERT ... SELECT FROM unnest(arrays) ON CONFLICT DO UPDATE`` for the whole batch."""
        if not new:
            return
        # a batch may carry a record twice; ON CONFLICT may touch a row only once per statement:
        # the last revision of each key
        latest = {(f.department, f.record_id): f for f in new}
        heads = list(latest.values()) if len(latest) < len(new) else new
        await self._raw_execute(
            _UPSERT_HEADS,
            *pack(
                [f.department for f in heads],
                [f.record_id for f in heads],
                texts([f.revision for f in heads]),
                [f.content_hash for f in heads],
                [f.fact_id for f in heads],
                [f.credit_code for f in heads],
                [f.indicator for f in heads],
                [f.period for f in heads],
                [f.spelled_value for f in heads],
                texts([f.authoritative for f in heads]),
            ),
        )

    async def _raw_execute(self, sql: str, *args: Any) -> None:
        """A fixed statement on the session's asyncpg connection (prepared once per connection),
        traced like every statement sent through ``_driver``."""
        await (await self._driver()).execute(sql, *args)

    async def _driver(self) -> TracedConnection:
        """The asyncpg connection under the session, inside the unit of work's transaction (each
        statement a CLIENT span, like SQLAlchemy's)."""
        return await traced_connection(self.session)

    async def _custom_plans(self) -> TracedConnection:
        """``_driver()``, with custom plans for the rest of the transaction (``SET LOCAL``, once per
        unit of work): planned with the arrays' real length and the tables' current statistics
        rather than a cached generic plan's guesses (the quality-flag deletions above). Only the
        recheck statements, last in the transaction, need it; planning them costs microseconds."""
        conn = await self._driver()
        if not self._custom:
            await conn.execute(_CUSTOM_PLANS)
            self._custom = True
        return conn

    async def evidence_entries(self, after_seq: int, limit: int) -> list[StoredEntry]:
        rows = await self.session.execute(
            select(evidence.c.seq, evidence.c.prev_hash, evidence.c.entry_hash, facts)
            .join(facts, facts.c.fact_id == evidence.c.fact_id, isouter=True)
            .where(evidence.c.seq > after_seq)
            .order_by(evidence.c.seq)
            .limit(limit)
        )
        out = []
        for r in rows:
            body = (
                b"<fact row missing>"
                if r.fact_id is None
                else canonical_fact(
                    fact_id=r.fact_id,
                    department=r.department,
                    record_id=r.record_id,
                    revision=r.revision,
                    credit_code=r.credit_code,
                    indicator=r.indicator,
                    period=r.period,
                    value=r.value,
                    unit=r.unit,
                    original_value=r.original_value,
                    original_unit=r.original_unit,
                    attributes=r.attributes,
                    authoritative=r.authoritative,
                    recorded_at=r.recorded_at,
                )
            )
            out.append(StoredEntry(r.seq, r.fact_id or "", r.prev_hash, r.entry_hash, body))
        return out

    # --- submissions --------------------------------------------------------------------------
    async def add_submissions(self, reports: Sequence[SubmissionReport], catalogue_version: int) -> None:
        """The submission rows and their rejections: one statement for a whole group."""
        if not reports:
            return
        rej_ids: list[str] = []
        positions: list[int] = []
        rej_records: list[str] = []
        fields: list[str] = []
        reasons: list[str] = []
        for r in reports:
            for i, x in enumerate(r.rejected):
                rej_ids.append(r.submission_id)
                positions.append(i)
                rej_records.append(x.record_id)
                fields.append(x.field)
                reasons.append(x.reason)
        await (await self._driver()).execute(
            _ADD_SUBMISSIONS,
            catalogue_version,
            [r.submission_id for r in reports],
            [r.department for r in reports],
            [r.channel for r in reports],
            [r.received for r in reports],
            [r.accepted for r in reports],
            [r.duplicates for r in reports],
            [r.corrections for r in reports],
            [len(r.rejected) for r in reports],
            [r.received_at for r in reports],
            rej_ids,
            positions,
            rej_records,
            fields,
            reasons,
        )

    async def get_submission(self, submission_id: str) -> SubmissionReport | None:
        s = (
            await self.session.execute(
                select(submissions).where(submissions.c.submission_id == submission_id)
            )
        ).first()
        if s is None:
            return None
        rows = await self.session.execute(
            select(submission_rejections)
            .where(submission_rejections.c.submission_id == submission_id)
            .order_by(submission_rejections.c.position)
        )
        return SubmissionReport(
            submission_id=s.submission_id,
            department=s.department,
            channel=s.channel,
            received_at=s.received_at,
            received=s.received,
            accepted=s.accepted,
            duplicates=s.duplicates,
            corrections=s.corrections,
            rejected=[Rejection(r.record_id, r.field, r.reason) for r in rows],
        )

    # --- quality ------------------------------------------------------------------------------
    async def source_values_for_recheck(self, months: Iterable[tuple[str, str, str]]) -> list[SourceValue]:
        """The current values of the given (credit code, indicator, period) months (distinct), their
        cross-source flags deleted (the caller adds the recomputed ones): one statement."""
        codes: list[str] = []
        indicators: list[str] = []
        periods: list[str] = []
        for code, indicator, period in months:
            codes.append(code)
            indicators.append(indicator)
            periods.append(period)
        conn = await self._custom_plans()
        rows = await conn.fetch(_SOURCE_VALUES_FOR_RECHECK, *pack(codes, indicators, periods), CROSS_SOURCE)
        return [SourceValue(*r) for r in rows]

    async def add_flags(self, new: Sequence[Flag]) -> None:
        if new:
            await self._raw_execute(
                _INSERT_FLAGS,
                [f.credit_code for f in new],
                [f.period for f in new],
                [f.indicator for f in new],
                [f.check for f in new],
                [f.department for f in new],
                [f.value for f in new],
                [f.reference_departments for f in new],
                [f.reference_value for f in new],
                [f.relative_difference for f in new],
                [f.tolerance for f in new],
            )

    async def month_summaries_for_recheck(self, targets: Sequence[Target]) -> list[MonthSummary]:
        """Per checked month: its total and the count and median of the earlier months' totals
        in its window, aggregated by PostgreSQL (one row per target), the months' plausibility
        flags deleted (the caller adds the recomputed ones): one statement."""
        if not targets:
            return []
        rows = await (await self._custom_plans()).fetch(
            _MONTH_SUMMARIES_FOR_RECHECK,
            *pack(
                [t.credit_code for t in targets],
                [t.indicator for t in targets],
                [t.department for t in targets],
                [t.period for t in targets],
                [t.first_period for t in targets],
            ),
            PLAUSIBILITY,
        )
        return [MonthSummary(*r) for r in rows]

    async def flags(self, credit_code: str | None, period: str | None, limit: int) -> list[Flag]:
        q = quality_flags.c
        stmt = select(quality_flags).order_by(q.credit_code, q.period, q.indicator, q.department).limit(limit)
        if credit_code:
            stmt = stmt.where(q.credit_code == credit_code)
        if period:
            stmt = stmt.where(q.period == period)
        return [
            Flag(
                r.credit_code,
                r.period,
                r.indicator,
                r.check,
                r.department,
                r.value,
                r.reference_departments,
                r.reference_value,
                r.relative_difference,
                r.tolerance,
            )
            for r in await self.session.execute(stmt)
        ]

    async def quality_summary(self, credit_code: str) -> dict[str, Any]:
        c = fact_heads.c
        rows = (
            await self.session.execute(
                select(
                    func.count().label("facts"),
                    func.count(func.distinct(c.period)).label("periods"),
                    func.count(func.distinct(c.indicator)).label("indicators"),
                    func.count().filter(c.authoritative).label("authoritative"),
                    func.count().filter(c.department.startswith("self-")).label("self_declared"),
                    func.count().filter(c.revision > 1).label("corrected"),
                    func.min(c.period).label("first_period"),
                    func.max(c.period).label("last_period"),
                ).where(c.credit_code == credit_code)
            )
        ).one()
        q = quality_flags.c
        flagged = (
            await self.session.execute(
                select(
                    func.count().filter(q.check == CROSS_SOURCE).label("cross"),
                    func.count().filter(q.check == PLAUSIBILITY).label("plausibility"),
                ).where(q.credit_code == credit_code)
            )
        ).one()
        return {
            **rows._asdict(),
            "flags": int(flagged.cross),
            "plausibility_flags": int(flagged.plausibility),
        }

    # --- consumers ----------------------------------------------------------------------------
    async def claim(self, consumer: str, event_ids: Sequence[str]) -> set[str]:
        claimed: set[str] = await claim(self.session, consumer, event_ids)
        return claimed
