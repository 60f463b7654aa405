"""Group commit of HTTP submissions: concurrent requests share one transaction.

Every submission transaction ends with the evidence-chain append and its COMMIT under the one
chain lock (``append_to_chain``), so a province's departments sending many small batches at once
queue on that lock, one fsync at a time (measured: 32 clients × 10-record batches, ~210
submissions/s, p50 119 ms, ingest at 0.6 of a core). Here each request hands its command to
:meth:`SubmissionWriter.submit` and waits; while a transaction is being written, new commands queue
up and the next transaction takes all of them (up to ``max_records``): phase 1 of the whole group
at once (``apply_submissions``: one directory query, the group's department locks in one sorted
statement — the same lock order as a Kafka batch, so no deadlock — one heads query, one heads
upsert, one plausibility query, one submissions insert; the submissions planned in arrival
order in memory, so each gets the report it would get alone), one chain append, one commit. A
group of 64 three-record POSTs thus costs ~12 round trips instead of ~8 per submission. Two
groups may be written at once (``writers``): while one transaction waits on PostgreSQL the next
group is taken from the departments it does not hold (a held department's later submissions wait
for the next round, so each department's submissions are written in arrival order, also when a
failing group is retried one by one). A writer lets submissions gather for ``linger_s``
(``INGEST_GROUP_COMMIT_LINGER_MS``, 20 ms) before it takes a group: a lone submission waits that
long, and a trickle of small POSTs becomes fewer, larger transactions. A request is answered only after its submission is committed, with its
own report.

Each submission's ``FactRecorded`` events carry the ``traceparent`` of the request that sent it
(read from the request's context). If the shared transaction fails, each of its submissions is
retried alone, so one failing submission fails only its own request.
"""

from __future__ import annotations

import asyncio
import contextvars
import time
from collections.abc import Callable
from dataclasses import dataclass

from carbon_common.telemetry import current_traceparent
from carbon_ingest.domain import identifiers
from carbon_ingest.domain.catalogue import Catalogue
from carbon_ingest.service_layer.commands import RecordSubmission
from carbon_ingest.service_layer.metrics import GROUP_SECONDS, GROUP_SUBMISSIONS
from carbon_ingest.service_layer.ports import SubmissionReport, UnitOfWork
from carbon_ingest.service_layer.submissions import (
    Clock,
    append_to_chain,
    apply_submissions,
    record_submission,
)


@dataclass(slots=True)
class _Pending:
    cmd: RecordSubmission
    context: contextvars.Context
    future: asyncio.Future[SubmissionReport]


class SubmissionWriter:
    def __init__(
        self,
        uow_factory: Callable[[], UnitOfWork],
        catalogue: Catalogue,
        clock: Clock,
        max_records: int = 20_000,
        writers: int = 2,
        linger_s: float = 0.0,
    ) -> None:
        self._uow = uow_factory
        self._catalogue = catalogue
        self._clock = clock
        self.max_records = max_records
        #: transactions written at once; groups in flight together never share a department
        self.writers = writers
        #: how long a writer lets submissions gather before taking a group (0: at once)
        self.linger_s = linger_s
        self._queue: list[_Pending] = []
        self._tasks: set[asyncio.Task[None]] = set()
        #: departments of the groups being written (their later submissions wait in the queue)
        self._busy: set[str] = set()
        #: submissions per transaction of the last write (observability and tests)
        self.last_group_size = 0

    async def submit(self, cmd: RecordSubmission) -> SubmissionReport:
        future: asyncio.Future[SubmissionReport] = asyncio.get_running_loop().create_future()
        self._queue.append(_Pending(cmd, contextvars.copy_context(), future))
        if len(self._tasks) < self.writers:
            task = asyncio.create_task(self._drain(), name="ingest-submission-writer")
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)
        return await future

    def _take(self) -> list[_Pending]:
        """The next group: queued submissions in arrival order, up to ``max_records``, of
        departments no other group in flight holds (empty when every queued one is held)."""
        n, records = 0, 0
        group: list[_Pending] = []
        rest: list[_Pending] = []
        for p in self._queue:
            dept = _department(p.cmd)
            if dept in self._busy or (n and records + len(p.cmd.records) > self.max_records):
                rest.append(p)
                continue
            group.append(p)
            n += 1
            records += len(p.cmd.records)
        self._queue = rest
        return group

    async def _drain(self) -> None:
        while True:
            if self.linger_s > 0 and sum(len(p.cmd.records) for p in self._queue) < self.max_records:
                # a group is one transaction of a fixed number of statements: gathering for a few
                # ms turns a trickle of small POSTs into fewer, larger transactions
                await asyncio.sleep(self.linger_s)
            group = self._take()
            if not group:  # nothing, or only departments in flight: their writer takes them next
                return
            depts = {_department(p.cmd) for p in group}
            self._busy |= depts
            self.last_group_size = len(group)
            GROUP_SUBMISSIONS.observe(len(group))
            started = time.perf_counter()
            try:
                reports = await self._write(group)
                GROUP_SECONDS.observe(time.perf_counter() - started)
            except Exception:
                # one by one before the departments are released: a department's later
                # submission (queued meanwhile) still comes after these
                await self._one_by_one(group)
            except BaseException as exc:  # cancelled at shutdown: nobody waits forever
                for p in group:
                    if not p.future.done():
                        p.future.set_exception(RuntimeError(f"submission writer stopped: {exc!r}"))
                raise
            else:
                for p, report in zip(group, reports, strict=True):
                    if not p.future.done():
                        p.future.set_result(report)
            finally:
                self._busy -= depts

    async def _write(self, group: list[_Pending]) -> list[SubmissionReport]:
        cmds = [p.cmd for p in group]
        # each submission's events carry the trace of the request that sent it
        traceparents = [p.context.run(current_traceparent) for p in group]
        async with self._uow() as uow:
            applied = await apply_submissions(cmds, uow, self._catalogue, self._clock, traceparents)
            await append_to_chain(uow, self._catalogue, [accepted for _, accepted in applied])
            await uow.commit()
        return [report for report, _ in applied]

    async def _one_by_one(self, group: list[_Pending]) -> None:
        for p in group:
            if p.future.done():
                continue
            task = asyncio.create_task(
                record_submission(p.cmd, self._uow(), self._catalogue, self._clock), context=p.context
            )
            try:
                report = await task
            except Exception as exc:
                if not p.future.done():
                    p.future.set_exception(exc)
            else:
                if not p.future.done():
                    p.future.set_result(report)

    async def stop(self) -> None:
        """Wait for the submissions already handed over to be written."""
        while self._tasks:
            await asyncio.shield(asyncio.gather(*self._tasks))


def _department(cmd: RecordSubmission) -> str:
    """The department whose lock the submission takes (its raw text when it is no department)."""
    try:
        return identifiers.department(cmd.department).id
    except identifiers.InvalidIdentifierError:
        return cmd.department
