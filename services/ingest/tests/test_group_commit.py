"""Group commit of HTTP submissions (service_layer/group_commit.py), against a real PostgreSQL:
concurrent requests share transactions, yet each gets its own report, one department's
submissions keep their arrival order, the chain verifies, each submission's events carry its own
request's trace, and a failing group falls back to one transaction per submission."""

from __future__ import annotations

import asyncio
from typing import Any

from carbon_common.events import FactRecorded, Topics
from carbon_common.telemetry import current_traceparent, tracer
from carbon_ingest.service_layer.commands import RawRecord, RecordSubmission
from carbon_ingest.service_layer.group_commit import SubmissionWriter


def raw(code: str, rid: str, value: str, period: str = "2024-03") -> RawRecord:
    return RawRecord(rid, code, "energy.raw_coal", period, value, "t", None)


async def test_concurrent_submissions_share_transactions_and_keep_their_own_reports(
    service: Any, code: Any, register: Any, client: Any, sql: Any
) -> None:
    container, _ = service
    codes = [code(i) for i in range(1, 7)]
    await register(*codes)
    writer: SubmissionWriter = container.submissions
    sizes: list[int] = []
    write = writer._write

    async def spy(group: Any) -> Any:
        sizes.append(len(group))
        return await write(group)

    writer._write = spy  # type: ignore[method-assign]
    # 6 departments × 3 submissions; each department's third submission corrects its first record
    cmds = []
    for d, c in enumerate(codes):
        dept = f"stats-1404{d:02d}"
        cmds += [
            RecordSubmission(dept, [raw(c, "a", "10"), raw(c, "bad", "-5")], "http"),
            RecordSubmission(dept, [raw(c, "b", "20")], "http"),
            RecordSubmission(dept, [raw(c, "a", "11")], "http"),
        ]
    reports = await asyncio.gather(*(writer.submit(cmd) for cmd in cmds))

    assert max(sizes) > 1, f"no group was formed: {sizes}"
    assert sum(sizes) == len(cmds)
    for i, r in enumerate(reports):
        kind = i % 3
        assert r.department == cmds[i].department
        if kind == 0:
            assert (r.accepted, r.corrections, [x.record_id for x in r.rejected]) == (1, 0, ["bad"])
        elif kind == 1:
            assert (r.accepted, r.corrections, r.rejected) == (1, 0, [])
        else:  # arrived after the original in the same department: a correction, not a new fact
            assert (r.accepted, r.corrections, r.rejected) == (1, 1, [])
    heads = await sql.fetch("SELECT department, record_id, revision FROM fact_heads WHERE record_id = 'a'")
    assert sorted(h["revision"] for h in heads) == [2] * 6
    assert len({r.submission_id for r in reports}) == len(cmds)
    verify = (await client.get("/v1/evidence/verify")).json()
    assert verify["ok"] is True and verify["entries_checked"] == 18


async def test_each_submission_carries_its_own_request_trace(
    service: Any, code: Any, register: Any, wait_records: Any
) -> None:
    container, _ = service
    c1, c2 = code(11), code(12)
    await register(c1, c2)
    parents: dict[str, str | None] = {}

    async def traced(dept: str, c: str) -> None:
        with tracer("test").start_as_current_span(f"request {dept}"):
            parents[c] = current_traceparent()
            await container.submissions.submit(RecordSubmission(dept, [raw(c, "t", "1")], "http"))

    await asyncio.gather(traced("stats-140400", c1), traced("stats-140300", c2))
    records = await wait_records(Topics.FACTS, 2)
    for rec in records:
        fact = FactRecorded.model_validate_json(rec.value)
        trace_id = dict(rec.headers)["traceparent"].decode().split("-")[1]
        assert parents[fact.credit_code] is not None
        assert trace_id == parents[fact.credit_code].split("-")[1]  # type: ignore[union-attr]


async def test_a_failing_group_is_retried_one_submission_at_a_time(
    service: Any, code: Any, register: Any
) -> None:
    container, _ = service
    c1, c2 = code(21), code(22)
    await register(c1, c2)
    writer: SubmissionWriter = container.submissions
    groups: list[int] = []
    write = writer._write

    async def failing_once(group: Any) -> Any:
        groups.append(len(group))
        if len(groups) == 1:
            raise RuntimeError("simulated failure of the shared transaction")
        return await write(group)

    writer._write = failing_once  # type: ignore[method-assign]
    reports = await asyncio.gather(
        writer.submit(RecordSubmission("stats-140400", [raw(c1, "x", "1")], "http")),
        writer.submit(RecordSubmission("stats-140300", [raw(c2, "y", "2")], "http")),
    )
    assert groups[0] >= 1 and [r.accepted for r in reports] == [1, 1]
    assert {r.department for r in reports} == {"stats-140400", "stats-140300"}


async def test_two_groups_in_flight_never_share_a_department(service: Any, code: Any, register: Any) -> None:
    """While a group is written, the next one is taken from the departments it does not hold; a
    held department's later submission waits and then sees the earlier one (a correction)."""
    container, _ = service
    c1, c2 = code(31), code(32)
    await register(c1, c2)
    writer: SubmissionWriter = container.submissions
    assert writer.writers == 2
    write = writer._write
    groups: list[list[str]] = []
    second_started = asyncio.Event()

    async def spy(group: Any) -> Any:
        groups.append([p.cmd.department for p in group])
        if len(groups) == 1:  # hold the first transaction until another one runs beside it
            await asyncio.wait_for(second_started.wait(), timeout=10)
        else:
            second_started.set()
        return await write(group)

    writer._write = spy  # type: ignore[method-assign]
    first = asyncio.gather(
        writer.submit(RecordSubmission("stats-140400", [raw(c1, "a", "10")], "http")),
        writer.submit(RecordSubmission("stats-140300", [raw(c2, "b", "20")], "http")),
    )
    await asyncio.sleep(0.05)  # the first group is being written
    later = asyncio.gather(
        writer.submit(RecordSubmission("stats-140400", [raw(c1, "a", "11")], "http")),  # held: waits
        writer.submit(RecordSubmission("stats-140200", [raw(c2, "c", "30")], "http")),
    )
    (r1, r2), (r3, r4) = await first, await later
    assert groups[0] == ["stats-140400", "stats-140300"]
    assert groups[1] == ["stats-140200"]  # written beside the first group
    assert groups[2] == ["stats-140400"]  # after the first group released its department
    assert (r1.accepted, r2.accepted, r4.accepted) == (1, 1, 1)
    assert (r3.accepted, r3.corrections) == (1, 1)  # saw the first submission's fact


async def test_submissions_arriving_within_the_linger_share_one_transaction(
    service: Any, code: Any, register: Any
) -> None:
    """Submissions handed over a few ms apart (a trickle of small POSTs) are gathered into one
    group while the writer lingers, instead of one transaction each."""
    container, _ = service
    cs = [code(40 + i) for i in range(4)]
    await register(*cs)
    writer: SubmissionWriter = container.submissions
    writer.linger_s = 0.5
    sizes: list[int] = []
    write = writer._write

    async def spy(group: Any) -> Any:
        sizes.append(len(group))
        return await write(group)

    writer._write = spy  # type: ignore[method-assign]

    async def trickle(i: int) -> Any:
        await asyncio.sleep(0.02 * i)
        return await writer.submit(RecordSubmission(f"stats-1404{i:02d}", [raw(cs[i], f"l{i}", "1")], "http"))

    reports = await asyncio.gather(*(trickle(i) for i in range(4)))
    assert [r.accepted for r in reports] == [1, 1, 1, 1]
    assert sum(sizes) == 4 and max(sizes) >= 3, sizes  # without the linger: four groups of one
