"""Batched phase 1 (``apply_submissions``, service_layer/submissions.py) against a real PostgreSQL:
a group of submissions written in ONE transaction by the group-commit writer must give exactly
what writing them one after the other (one transaction each) gives — the same reports, the same
facts in the same chain order, the same heads, submission rows, rejections, quality flags and
events — including duplicates, corrections, older versions re-sent and forbidden corrections
*inside* the group, an invalid department, unregistered enterprises and invalid values."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import asyncpg
import orjson
import pytest
import yaml
from stdnum.cn import uscc

import carbon_ingest.catalogue
from carbon_common.bus.memory import InMemoryBus
from carbon_common.events import FactRecorded, Topics
from carbon_common.settings import PostgresSettings
from carbon_ingest.adapters.catalogue_files import PACKAGED
from carbon_ingest.bootstrap import Container, bootstrap
from carbon_ingest.domain.enterprise import Enterprise
from carbon_ingest.service_layer.commands import RawRecord, RecordSubmission
from carbon_ingest.service_layer.ports import SubmissionReport
from carbon_ingest.service_layer.submissions import Clock, apply_submissions, record_submission
from carbon_ingest.settings import Settings


def _code(n: int) -> str:
    body = f"91140400MA{n:07d}"
    return body + uscc.calc_check_digit(body)


STATS, GRID = "stats-140400", "grid-140400"
C1, C2, C3 = _code(31), _code(32), _code(33)
UNREGISTERED = _code(39)
SELF1 = f"self-{C1}"


@pytest.fixture
def settings_overrides(tmp_path: Path) -> dict[str, Any]:
    """The packaged catalogue, except that an enterprise may not correct its own raw coal."""
    data = yaml.safe_load(
        (Path(carbon_ingest.catalogue.__file__).parent / PACKAGED).read_text(encoding="utf-8")
    )
    data["indicators"]["energy.raw_coal"]["not_correctable_by"] = ["self"]
    path = tmp_path / "indicators.yaml"
    path.write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")
    return {"catalogue_path": path}


def coal(rid: str, value: str, code: str = C1, period: str = "2024-03", unit: str = "t") -> RawRecord:
    return RawRecord(rid, code, "energy.raw_coal", period, value, unit, None)


def power(rid: str, value: str, code: str = C1) -> RawRecord:
    return RawRecord(rid, code, "electricity.purchased", "2024-03", value, "MWh", None)


#: committed before the group, in both databases
EARLIER = [RecordSubmission(STATS, [coal("p1", "10")])]
#: one group, in arrival order
GROUP = [
    # 0: new, invalid value, unregistered enterprise, correction of a committed fact, a repeat
    RecordSubmission(
        STATS,
        [
            coal("a", "10"),
            coal("neg", "-5"),
            coal("u", "1", UNREGISTERED),
            coal("p1", "12"),
            coal("a", "0.01", unit="kt"),
        ],
    ),
    # 1: another department: grid electricity (authoritative, cross-validated)
    RecordSubmission(GRID, [power("e1", "8200"), power("e2", "500", C2)]),
    # 2: corrects "a" of submission 0; re-sends the committed older version of p1 (duplicate)
    RecordSubmission(STATS, [coal("a", "11"), coal("p1", "10"), coal("b", "20")]),
    # 3: not a department
    RecordSubmission("nonsense", [coal("x", "1")]),
    # 4: an older version of "a" (duplicate), then a second correction (revision 3)
    RecordSubmission(STATS, [coal("a", "10"), coal("a", "12")]),
    # 5: the enterprise's own declarations: electricity far from the grid's (cross-source flag)
    RecordSubmission(SELF1, [power("s-e1", "9900"), coal("s1", "5")]),
    # 6: the enterprise corrects its raw coal: forbidden by the catalogue
    RecordSubmission(SELF1, [coal("s1", "6"), coal("s2", "7", period="2024-04")]),
    # 7: four normal months, then one 50x the median (plausibility flag)
    RecordSubmission(
        STATS,
        [coal(f"m{m}", "100", C2, f"2024-0{m}") for m in range(1, 5)] + [coal("m5", "5000", C2, "2024-05")],
    ),
    # 8: the outlier corrected back into range (flag cleared); another month flagged
    RecordSubmission(STATS, [coal("m5", "110", C2, "2024-05"), coal("m6", "9000", C2, "2024-06")]),
    # 9: kafka channel, an empty-ish submission of duplicates only
    RecordSubmission(STATS, [coal("b", "20"), coal("m1", "100", C2, "2024-01")], "kafka"),
]


def shape(r: SubmissionReport) -> tuple[Any, ...]:
    """A report without its generated id and time."""
    return (r.department, r.channel, r.received, r.accepted, r.duplicates, r.corrections, list(r.rejected))


async def start(url: str, overrides: dict[str, Any], clock: Clock) -> tuple[Container, InMemoryBus]:
    bus = InMemoryBus()
    container = bootstrap(Settings(postgres=PostgresSettings(url=url), **overrides), bus=bus, clock=clock)
    await container.start()
    await bus.start()
    return container, bus


async def setup(container: Container) -> None:
    async with container.uow() as uow:
        for c in (C1, C2, C3):
            await uow.repo.save_enterprise(
                Enterprise(c, "长治市测试有限公司", "140400", "3120", "large", "mid", False, 1)
            )
        await uow.commit()
    for cmd in EARLIER:
        await record_submission(cmd, container.uow(), container.catalogue, container.clock)


async def stored(url: str) -> dict[str, Any]:
    """Everything phase 1 and 2 wrote, without generated ids, hashes and times."""
    conn = await asyncpg.connect(url.replace("postgresql+asyncpg://", "postgresql://"))
    try:
        facts = await conn.fetch(
            """SELECT f.department, f.record_id, f.revision, f.credit_code, f.indicator, f.period, f.value,
                      f.unit, f.original_value, f.original_unit, f.attributes, f.authoritative, f.content_hash,
                      f.recorded_at, e.seq
               FROM facts f JOIN evidence e USING (fact_id) ORDER BY e.seq"""
        )
        heads = await conn.fetch(
            """SELECT h.department, h.record_id, h.revision, h.content_hash, h.credit_code, h.indicator,
                      h.period, h.value, h.authoritative, f.revision = h.revision AS points_at_its_fact
               FROM fact_heads h JOIN facts f USING (fact_id) ORDER BY 1, 2"""
        )
        subs = await conn.fetch(
            """SELECT s.department, s.channel, s.catalogue_version, s.received, s.accepted, s.duplicates,
                      s.corrections, s.rejected,
                      coalesce((SELECT array_agg(r.position || ':' || r.record_id || ':' || r.field || ':' || r.reason
                                                 ORDER BY r.position)
                                FROM submission_rejections r WHERE r.submission_id = s.submission_id), '{}')
                          AS rejections
               FROM submissions s"""
        )
        flags = await conn.fetch(
            """SELECT credit_code, period, indicator, "check", department, value, reference_departments,
                      reference_value, relative_difference, tolerance FROM quality_flags ORDER BY 1, 2, 3, 4, 5"""
        )
        events = await conn.fetch(
            """SELECT o.value, e.entry_hash, e.seq
               FROM (SELECT topic, unnest("values") AS value FROM outbox_batches) o
               JOIN evidence e ON e.fact_id = (convert_from(o.value, 'UTF8')::jsonb ->> 'fact_id')
               WHERE o.topic = $1 ORDER BY e.seq""",
            Topics.FACTS,
        )
    finally:
        await conn.close()
    decoded = [FactRecorded.model_validate_json(e["value"]) for e in events]
    for d, e in zip(decoded, events, strict=True):
        assert d.evidence_hash == e["entry_hash"]  # each event carries its own chain entry's hash
    return {
        "facts": [tuple(r) for r in facts],
        "heads": [tuple(r) for r in heads],
        "submissions": sorted(tuple(r) for r in subs),
        "flags": [tuple(r) for r in flags],
        "events": [d.model_dump(exclude={"fact_id", "evidence_hash", "recorded_at"}) for d in decoded],
    }


async def test_a_group_gives_what_one_submission_after_another_gives(
    service: Any, db_url: str, other_db_url: str, settings_overrides: dict[str, Any], client: Any
) -> None:
    grouped, _ = service
    sequential, bus = await start(other_db_url, settings_overrides, grouped.clock)
    try:
        await setup(grouped)
        await setup(sequential)
        one_by_one = [
            await record_submission(cmd, sequential.uow(), sequential.catalogue, sequential.clock)
            for cmd in GROUP
        ]
        writer = grouped.submissions
        fell_back: list[int] = []
        one_by_one_fallback = writer._one_by_one

        async def spy(group: Any) -> None:
            fell_back.append(len(group))
            await one_by_one_fallback(group)

        writer._one_by_one = spy  # type: ignore[method-assign]
        together = await asyncio.gather(*(writer.submit(cmd) for cmd in GROUP))
        assert writer.last_group_size == len(GROUP), "the submissions were not written as one group"
        assert fell_back == [], "the group's transaction failed: each submission was written alone"
    finally:
        await bus.stop()
        await sequential.stop()

    assert [shape(r) for r in together] == [shape(r) for r in one_by_one]
    # the cases the group had to decide in arrival order, spelled out
    r = {i: shape(x) for i, x in enumerate(together)}
    assert r[0][3:6] == (2, 1, 1) and [x.record_id for x in r[0][6]] == ["neg", "u"]  # 0.01 kt = 10 t
    assert r[2][3:6] == (2, 1, 1)  # a → revision 2; p1 back to 10: seen before, a duplicate
    assert r[3][3] == 0 and [x.field for x in r[3][6]] == ["department"]
    assert r[4][3:6] == (1, 1, 1)  # the older "a" is a duplicate, "a"=12 revision 3
    assert r[6][3] == 1 and [(x.record_id, x.field) for x in r[6][6]] == [("s1", "record_id")]
    assert r[9][3:5] == (0, 2)

    a, b = await stored(db_url), await stored(other_db_url)
    assert a == b
    assert len(a["facts"]) == 1 + sum(x.accepted for x in together)
    assert {f[4] for f in a["flags"]} == {STATS, SELF1}
    assert {(f[1], f[3]) for f in a["flags"] if f[0] == C2} == {("2024-06", "plausibility")}
    verify = (await client.get("/v1/evidence/verify")).json()
    assert verify["ok"] is True and verify["entries_checked"] == len(a["facts"])


class _Counting:
    """An asyncpg connection that counts the statements sent through it."""

    def __init__(self, conn: Any) -> None:
        self.conn = conn
        self.statements = 0

    def __getattr__(self, name: str) -> Any:
        if name in ("execute", "executemany", "fetch", "fetchrow", "fetchval"):
            self.statements += 1
        return getattr(self.conn, name)


async def test_apply_submissions_sends_a_fixed_number_of_statements(
    service: Any, register: Any, code: Any
) -> None:
    """Phase 1 of 40 submissions of 8 departments: as many statements as for one submission."""
    container, _ = service
    codes = [code(60 + i) for i in range(4)]
    await register(*codes)
    cmds = [
        RecordSubmission(
            f"stats-1404{d % 8:02d}", [coal(f"r{d}-{j}", str(10 + j), codes[j]) for j in range(4)]
        )
        for d in range(40)
    ]
    counts = []
    for group in ([cmds[0]], cmds[1:]):
        async with container.uow() as uow:
            counting = _Counting(await uow.repo._driver())

            async def driver(counting: _Counting = counting) -> Any:
                return counting

            uow.repo._driver = driver  # type: ignore[method-assign]
            applied = await apply_submissions(group, uow, container.catalogue, container.clock)
            await uow.commit()  # phase 2 left out: this test counts phase 1 only
        counts.append(counting.statements)
        assert [rep.accepted for rep, _ in applied] == [4] * len(group)
    assert counts[0] >= 4 and counts[1] == counts[0], counts


async def test_a_kafka_batch_of_several_departments_is_one_phase_1(
    service: Any, register: Any, code: Any, sql: Any, wait_records: Any
) -> None:
    """The consumer's batch: records of three departments (a correction and a repeat across
    Kafka records of one department, a bad record, a traced producer) → one submission per
    department with the reports the sequential path would give, dead letters for the bad one."""
    from carbon_common.bus.port import Decoded, Record
    from carbon_ingest.adapters.consumers import batch_handler, decode_dept_record

    container, _ = service
    c = code(81)
    await register(c)

    def kafka(offset: int, dept: str, *records: RawRecord, traceparent: str | None = None) -> Decoded[Any]:
        body = {"department": dept, "records": [
            {"record_id": r.record_id, "credit_code": r.credit_code, "indicator": r.indicator,
             "period": r.period, "value": r.value, "unit": r.unit} for r in records]}  # fmt: skip
        headers = (("traceparent", traceparent.encode()),) if traceparent else ()
        record = Record(Topics.DEPT_SUBMISSIONS, c.encode(), orjson.dumps(body), headers, 0, offset)
        return Decoded(record, decode_dept_record(record))

    trace = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"
    batch = [
        kafka(0, STATS, coal("k1", "10", c), traceparent=trace),
        kafka(1, GRID, power("g1", "8200", c)),
        kafka(2, STATS, coal("k1", "11", c), coal("k1", "10", c)),  # correction, then the older version
        kafka(3, "tax-140400", RawRecord("t1", c, "finance.revenue", "2024-03", "oops", "10k CNY", None)),
    ]
    await batch_handler(container.uow, container.catalogue, container.clock)(batch)
    rows = await sql.fetch(
        "SELECT department, received, accepted, duplicates, corrections, rejected FROM submissions"
        " WHERE channel = 'kafka' ORDER BY department"
    )
    assert [tuple(r) for r in rows] == [
        (GRID, 1, 1, 0, 0, 0),
        (STATS, 3, 2, 1, 1, 0),
        ("tax-140400", 1, 0, 0, 0, 1),
    ]
    heads = await sql.fetch("SELECT department, record_id, revision, value FROM fact_heads ORDER BY 1, 2")
    assert [tuple(h) for h in heads] == [(GRID, "g1", 1, 8200), (STATS, "k1", 2, 11)]
    records = await wait_records(Topics.FACTS, 3)
    facts = [FactRecorded.model_validate_json(r.value) for r in records]
    assert sorted((f.record_id, f.revision) for f in facts) == [("g1", 1), ("k1", 1), ("k1", 2)]
    for r, f in zip(records, facts, strict=True):  # a department's events carry its producer's trace
        if f.department == STATS:
            assert dict(r.headers)["traceparent"].decode().split("-")[1] == trace.split("-")[1]
