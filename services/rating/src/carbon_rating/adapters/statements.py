"""The rating consumer's hot-path statements, sent to asyncpg directly by ``repository``.

Fixed SQL (prepared once per connection; no SQLAlchemy compile, bind or row processing per
call), parameters as arrays, rows read by position. Measured on the replayed pilot
(docs/performance-notes.md, rating, "Second pass").
"""

from __future__ import annotations

import json
from typing import Any

import orjson

#: the (count, Σ calculation_version) of an enterprise's accounts and (count, Σ revision) of its
#: conduct facts, kept per enterprise by statement triggers on those tables (migration 0003). At
#: pilot scale (~430 enterprises per batch, ~50,000 accounts, ~90,000 facts) the same aggregate over
#: the tables was 14-38 ms (accounts) and 15-24 ms (facts) per batch; this is an index lookup
#: (0.2-0.4 ms). ``n > 0``: an enterprise whose rows were all deleted has no stamp, as before.
ACCOUNT_STAMPS = """
    SELECT credit_code, n, total
    FROM account_stamps
    WHERE credit_code = ANY($1::varchar[]) AND n > 0
"""
ACCOUNT_VERSIONS = """
    SELECT credit_code, array_agg(period ORDER BY period COLLATE "C"),
           array_agg(calculation_version ORDER BY period COLLATE "C")
    FROM accounts
    WHERE credit_code = ANY($1::varchar[])
    GROUP BY credit_code
"""
ACCOUNT_ROWS = """
    SELECT a.credit_code, a.industry_code, a.factor_set, a.period, a.total_tco2, a.output_quantity,
           a.output_unit, a.revenue_10k_cny, a.data_quality_score, a.calculation_version
    FROM accounts AS a
    JOIN unnest($1::varchar[], $2::varchar[]) AS k(code, period)
      ON a.credit_code = k.code AND a.period = k.period
"""
FACT_STAMPS = """
    SELECT credit_code, n, total
    FROM fact_stamps
    WHERE credit_code = ANY($1::varchar[]) AND n > 0
"""
ALL_FACTS = """
    SELECT credit_code, indicator, period, value, attributes::text
    FROM conduct_facts
    WHERE credit_code = ANY($1::varchar[])
    ORDER BY credit_code, period, fact_key
"""
ENTERPRISES = """
    SELECT credit_code, name, industry_code, region_code, size_class, transition_stage, ets_participant
    FROM enterprises
    WHERE credit_code = ANY($1::varchar[])
"""
#: the same aggregate as ``peer_totals``' SQLAlchemy form had (and in the same order: peers' order
#: decides ties in ``PeerRanking``), with the groups as arrays instead of a VALUES list whose
#: literal rows made a new statement for every batch. Grouped and sorted by the group's ordinal
#: (the caller passes the groups sorted) instead of its two strings, and the accounts cut to the
#: span of all windows ($4, $5) before the joins: the sort of every window's rows was half the
#: statement (31.5 → 17.3 ms for 38 groups over 45,000 accounts, same rows).
PEER_TOTALS = """
    SELECT g.gi, a.credit_code, sum(a.total_tco2),
           CASE WHEN count(*) = count(a.output_unit) AND min(a.output_unit) = max(a.output_unit)
                THEN min(a.output_unit) END,
           coalesce(sum(a.output_quantity), 0), coalesce(sum(a.revenue_10k_cny), 0)
    FROM accounts AS a
    LEFT OUTER JOIN enterprises AS e ON e.credit_code = a.credit_code
    JOIN unnest($1::varchar[], $2::varchar[], $3::varchar[])
           WITH ORDINALITY AS g(industry, first_period, last_period, gi)
      ON coalesce(e.industry_code, a.industry_code) = g.industry
     AND a.period BETWEEN g.first_period AND g.last_period
    WHERE a.period BETWEEN $4::varchar AND $5::varchar
    GROUP BY g.gi, a.credit_code
    ORDER BY g.gi, a.credit_code
"""
#: around ``PEER_TOTALS`` (transaction-local, restored right after it): its plan was erratic. With
#: the accounts of the windows' span (~13,000 rows at pilot scale) the planner may pick a nested
#: loop over the groups that re-filters all of them per group, and a nested loop of index probes
#: into ``enterprises`` per account, where hash joins are 3-4x faster (measured on a replayed
#: pilot database, 19 groups: 48 ms as planned that way, 12-14 ms with hash joins; one group: 5.0
#: against 5.7 ms). Which plan it gets depends on the statistics of the moment, so the rating
#: database's CPU per pilot replay varied from 3.6 to 11 s between otherwise equal runs
#: (docs/performance-notes.md, eighth pass). Statements after it plan as before.
HASH_JOINS_ONLY = "SET LOCAL enable_nestloop = off"
NESTED_LOOPS_AGAIN = "SET LOCAL enable_nestloop TO DEFAULT"
CURRENT_OUTCOMES = """
    SELECT rating_id, credit_code, seq, as_of_period, industry_code, stage, score, label,
           previous_label, confidence, methodology_version, vetoes::text, account_ref, reason,
           issued_at, objection_id
    FROM ratings
    WHERE credit_code = ANY($1::varchar[]) AND is_current
"""
UNSET_CURRENT = "UPDATE ratings SET is_current = false WHERE credit_code = ANY($1::varchar[]) AND is_current"
INSERT_RATINGS = """
    INSERT INTO ratings (rating_id, credit_code, seq, as_of_period, industry_code, stage, score, label,
                         previous_label, confidence, methodology_version, vetoes, details, account_ref,
                         reason, objection_id, issued_at, is_current)
    SELECT r.rating_id, r.credit_code, r.seq, r.as_of_period, r.industry_code, r.stage, r.score, r.label,
           r.previous_label, r.confidence, r.methodology_version, r.vetoes::jsonb, r.details::jsonb,
           r.account_ref, r.reason, r.objection_id, r.issued_at, true
    FROM unnest($1::varchar[], $2::varchar[], $3::int[], $4::varchar[], $5::varchar[], $6::varchar[],
                $7::numeric[], $8::varchar[], $9::varchar[], $10::numeric[], $11::varchar[], $12::text[],
                $13::text[], $14::varchar[], $15::varchar[], $16::varchar[], $17::timestamptz[])
      AS r(rating_id, credit_code, seq, as_of_period, industry_code, stage, score, label,
           previous_label, confidence, methodology_version, vetoes, details, account_ref, reason,
           objection_id, issued_at)
"""
UPSERT_ACCOUNTS = """
    INSERT INTO accounts (credit_code, period, industry_code, total_tco2, output_quantity, output_unit,
                          revenue_10k_cny, data_quality_score, factor_set, calculation_version)
    SELECT * FROM unnest($1::varchar[], $2::varchar[], $3::varchar[], $4::numeric[], $5::numeric[],
                         $6::varchar[], $7::numeric[], $8::numeric[], $9::varchar[], $10::int[])
    ON CONFLICT (credit_code, period) DO UPDATE SET
        industry_code = excluded.industry_code, total_tco2 = excluded.total_tco2,
        output_quantity = excluded.output_quantity, output_unit = excluded.output_unit,
        revenue_10k_cny = excluded.revenue_10k_cny, data_quality_score = excluded.data_quality_score,
        factor_set = excluded.factor_set, calculation_version = excluded.calculation_version
    WHERE accounts.calculation_version < excluded.calculation_version
    RETURNING credit_code
"""
UPSERT_FACTS = """
    INSERT INTO conduct_facts (fact_key, revision, credit_code, indicator, period, value, attributes)
    SELECT f.fact_key, f.revision, f.credit_code, f.indicator, f.period, f.value, f.attributes::jsonb
    FROM unnest($1::varchar[], $2::int[], $3::varchar[], $4::varchar[], $5::varchar[], $6::numeric[],
                $7::text[]) AS f(fact_key, revision, credit_code, indicator, period, value, attributes)
    ON CONFLICT (fact_key) DO UPDATE SET
        revision = excluded.revision, credit_code = excluded.credit_code, indicator = excluded.indicator,
        period = excluded.period, value = excluded.value, attributes = excluded.attributes
    WHERE conduct_facts.revision < excluded.revision
    RETURNING credit_code
"""


def to_json(value: Any) -> str:
    """JSON text for a jsonb parameter (orjson; the stdlib for what orjson refuses, e.g. huge ints)."""
    try:
        return orjson.dumps(value).decode()
    except TypeError:
        return json.dumps(value)


def from_json(text: str) -> Any:
    """A jsonb column read as text (orjson; the stdlib for what orjson refuses)."""
    try:
        return orjson.loads(text)
    except orjson.JSONDecodeError:  # e.g. an integer beyond 64 bits
        return json.loads(text)
