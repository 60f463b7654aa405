"""Kafka consumer of ``dept.submissions.v1``: raw department JSON → ``RecordSubmission`` commands.

It lives in ``adapters`` (not ``entrypoints``) because the composition root registers it and the
layers contract lets ``bootstrap`` import adapters only.

Each Kafka record is one JSON object: a record ``{"department", "record_id", "credit_code",
"indicator", "period", "value", "unit", "attributes"?}`` or a batch ``{"department", "records":
[...]}``. Not JSON / not an object / no department → ``ContractError`` → the bus dead-letters the
original bytes. Decodable records take the same validation path as HTTP. A record that fails
validation is stored as a rejection of the batch's submission (readable via
``GET /v1/submissions/{id}``) and its dead-letter copy is staged in the outbox *of the same
transaction*, with ``dlq_reason`` naming record, field and reason. (Raising ``PoisonRecord``
instead would commit the rejection and the DLQ publish separately and re-run the rest of the
batch once per bad record.)
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Sequence
from contextlib import ExitStack
from dataclasses import dataclass
from typing import Any

import orjson

from carbon_common.auth import RECORD_TOKEN_HEADER, RecordTokenError, RecordTokenVerifier
from carbon_common.bus.port import Decoded, Record, Subscription
from carbon_common.bus.processing import dlq_record
from carbon_common.events import ContractError, Topics
from carbon_common.telemetry import consume_span, current_traceparent
from carbon_ingest.domain.catalogue import Catalogue
from carbon_ingest.domain.records import RawRecord
from carbon_ingest.service_layer.commands import RecordSubmission
from carbon_ingest.service_layer.ports import UnitOfWork
from carbon_ingest.service_layer.submissions import Accepted, Clock, append_to_chain, apply_submissions

GROUP = "ingest"
CONSUMER = f"ingest:{Topics.DEPT_SUBMISSIONS}"
RECORD_FIELDS = ("record_id", "credit_code", "indicator", "period", "value", "unit", "attributes")
SUBMIT_SCOPE = "submissions:write"


@dataclass(frozen=True, slots=True)
class SubmissionAuth:
    """Who may put records for a department on ``dept.submissions.v1``."""

    tokens: RecordTokenVerifier
    #: a record without a token is refused (else accepted: development/demo)
    required: bool = True

    def refusal(self, record: Record, department: str) -> str | None:
        """Why ``record`` may not be applied for ``department`` (a DLQ reason), or None."""
        try:
            principal = self.tokens.principal(record.headers)
        except RecordTokenError as exc:
            return f"unauthenticated: {exc.reason}"
        if principal is None:
            if not self.required:
                return None
            return f"unauthenticated: no bearer token in the record's `{RECORD_TOKEN_HEADER}` header"
        if not principal.has(SUBMIT_SCOPE):
            return f"forbidden: the token lacks the `{SUBMIT_SCOPE}` scope"
        if department.strip() not in (principal.org, f"self-{principal.org}"):
            return f"forbidden: the token's org {principal.org!r} may not submit for department {department[:100]!r}"
        return None


@dataclass(frozen=True, slots=True)
class DeptRecords:
    department: str
    records: list[RawRecord]
    #: the Kafka value held a single record (its DLQ copy is then the original bytes)
    single: bool


def _raw(obj: Any, where: str) -> RawRecord:
    if not isinstance(obj, dict):
        raise ContractError(f"{where} is not a JSON object", field=where)
    return RawRecord(**{k: obj.get(k) for k in RECORD_FIELDS})


def decode_dept_record(record: Record) -> DeptRecords:
    """Kafka record → ``DeptRecords``; ``ContractError`` (→ DLQ) when it cannot be read at all."""
    if record.value is None:
        raise ContractError("empty record value", field="value")
    try:
        obj = orjson.loads(record.value)
    except orjson.JSONDecodeError as exc:
        raise ContractError(f"not JSON: {exc}", field="value") from exc
    if not isinstance(obj, dict):
        raise ContractError("a department record must be a JSON object", field="value")
    dept = obj.get("department")
    if not isinstance(dept, str) or not dept:
        raise ContractError("missing department", field="department")
    if "records" in obj:
        items = obj["records"]
        if not isinstance(items, list):
            raise ContractError("records must be a list", field="records")
        return DeptRecords(dept, [_raw(o, f"records[{i}]") for i, o in enumerate(items)], single=False)
    return DeptRecords(dept, [_raw(obj, "value")], single=True)


def _utf8_headers(record: Record) -> Record:
    """The outbox stores headers as text: keep the original headers that are UTF-8, except the
    producer's token (a dead-letter topic is no place for credentials)."""
    keep = []
    for k, v in record.headers:
        if k.lower() == RECORD_TOKEN_HEADER:
            continue
        try:
            v.decode()
        except UnicodeDecodeError:
            continue
        keep.append((k, v))
    return Record(record.topic, record.key, record.value, tuple(keep), record.partition, record.offset)


def _dead_letter(origin: Decoded[DeptRecords], inner: int, reason: str) -> Record:
    rec = _utf8_headers(origin.record)
    if not origin.item.single:
        raw = origin.item.records[inner]
        body = {"department": origin.item.department, **{k: getattr(raw, k) for k in RECORD_FIELDS}}
        rec = Record(rec.topic, rec.key, orjson.dumps(body), rec.headers, rec.partition, rec.offset)
    return dlq_record(rec, reason, GROUP)


def batch_handler(
    uow_factory: Callable[[], UnitOfWork],
    catalogue: Catalogue,
    clock: Clock,
    auth: SubmissionAuth | None = None,
) -> Callable[[Sequence[Decoded[DeptRecords]]], Any]:
    """``auth`` None: no token checks at all (unit tests of the validation path only)."""

    async def handle(batch: Sequence[Decoded[DeptRecords]]) -> None:
        ids = {id(d): f"{d.record.topic}:{d.record.partition}:{d.record.offset}" for d in batch}
        async with uow_factory() as uow:
            fresh = await uow.repo.claim(CONSUMER, list(ids.values()))
            # coalesce: one submission per department per batch (one directory query, one flag pass)
            groups: dict[str, list[tuple[Decoded[DeptRecords], int]]] = defaultdict(list)
            for d in batch:
                if ids[id(d)] not in fresh:
                    continue
                refused = auth.refusal(d.record, d.item.department) if auth is not None else None
                if refused is not None:
                    uow.stage_record(dlq_record(_utf8_headers(d.record), refused, GROUP))
                    continue
                groups[d.item.department].extend((d, i) for i in range(len(d.item.records)))
            # one batched phase 1 for every department (apply_submissions takes their advisory
            # locks in sorted order: no deadlock between two replicas or with the HTTP writer);
            # each department's records are processed under a consumer span whose parent is the
            # producer's trace, and its FactRecorded events carry that span's traceparent
            depts = sorted(groups, key=str.strip)
            cmds = [
                RecordSubmission(dept, [d.item.records[i] for d, i in groups[dept]], channel="kafka")
                for dept in depts
            ]
            with ExitStack() as spans:
                traceparents: list[str | None] = []
                for dept in depts:
                    origins = groups[dept]
                    producer = dict(origins[0][0].record.headers).get("traceparent")
                    spans.enter_context(
                        consume_span(
                            f"{Topics.DEPT_SUBMISSIONS} process",
                            producer.decode() if producer else None,
                            department=dept,
                            records=len(origins),
                        )
                    )
                    traceparents.append(current_traceparent())
                applied = await apply_submissions(cmds, uow, catalogue, clock, traceparents)
            accepted: list[Accepted] = []
            for dept, (report, new) in zip(depts, applied, strict=True):
                accepted.append(new)
                origins = groups[dept]
                for rej in report.rejected:
                    origin, inner = origins[rej.position]
                    reason = f"record {rej.record_id!r}: {rej.field}: {rej.reason}"
                    uow.stage_record(_dead_letter(origin, inner, reason))
            await append_to_chain(uow, catalogue, accepted)
            await uow.commit()

    return handle


def subscriptions(
    uow_factory: Callable[[], UnitOfWork], catalogue: Catalogue, clock: Clock, auth: SubmissionAuth
) -> list[Subscription[DeptRecords]]:
    return [
        Subscription(
            group=GROUP,
            topics=[Topics.DEPT_SUBMISSIONS],
            decoder=decode_dept_record,
            handler=batch_handler(uow_factory, catalogue, clock, auth),
        )
    ]
