"""The SQL unit of work: one transaction, the repository bound to it, outbox via ``emit``.

``save_accounts`` stores the recomputed accounts and stages an ``AccountUpdated`` for each
restated one without building the pydantic model: the record (key, JSON value, CloudEvents
headers) is written directly with orjson, byte for byte what
``to_record(Envelope(data=account_event(...)))`` gives (``account_record`` is the per-event
reference; both are tested against the model in ``tests/test_account_event.py``). It is one
record per restated enterprise-month, and the model round trip (validate 18 fields,
``model_dump_json``, envelope, headers) was a tenth of the consumer's CPU; the figures' decimal
strings are now shared with the accounts upsert's row (docs/performance-notes.md).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime

from sqlalchemy.ext.asyncio import AsyncSession

from carbon_accounting.adapters.repository import SqlRepository, account_json, account_payload
from carbon_accounting.domain.model import AccountFigures
from carbon_accounting.service_layer.ports import StoredAccount
from carbon_common.bus.port import Record
from carbon_common.db import UnitOfWork, new_id
from carbon_common.events import AccountUpdated
from carbon_common.events.envelope import CONTENT_TYPE, SPEC_VERSION
from carbon_common.telemetry import current_traceparent

_TOPIC = AccountUpdated.topic
_SPEC = SPEC_VERSION.encode()
_TYPE = AccountUpdated.ce_type.encode()
_CONTENT_TYPE = CONTENT_TYPE.encode()


def account_record(
    figures: AccountFigures,
    calculation_version: int,
    source: str,
    event_id: str,
    time: datetime,
    traceparent: str | None,
) -> Record:
    """The bus record of one ``AccountUpdated`` (CloudEvents binary mode, as ``envelope.encode``)."""
    subject = figures.credit_code.encode()
    headers: list[tuple[str, bytes]] = [
        ("ce_specversion", _SPEC),
        ("ce_id", event_id.encode()),
        ("ce_type", _TYPE),
        ("ce_source", source.encode()),
        ("ce_time", time.isoformat().encode()),
        ("ce_subject", subject),
        ("content-type", _CONTENT_TYPE),
    ]
    if traceparent:
        headers.append(("traceparent", traceparent.encode()))
    return Record(_TOPIC, subject, account_payload(figures, calculation_version), tuple(headers))


_H_SPEC = ("ce_specversion", _SPEC)
_H_TYPE = ("ce_type", _TYPE)
_H_CONTENT_TYPE = ("content-type", _CONTENT_TYPE)


class SqlUnitOfWork(UnitOfWork):
    repo: SqlRepository

    def _bind(self, session: AsyncSession) -> None:
        self.repo = SqlRepository(session)
        self._traceparent: str | None = None
        self._traced = False
        self._headers: tuple[tuple[str, bytes], tuple[str, bytes], tuple[tuple[str, bytes], ...]] | None = (
            None
        )

    async def save_accounts(self, accounts: Sequence[StoredAccount], publish: Sequence[bool]) -> None:
        """Store ``accounts`` (one statement) and stage an ``AccountUpdated`` for each one whose
        ``publish`` flag is set, in order.

        Each figure is turned into its decimal string once (``account_json``), for the event's
        value and for the accounts upsert's row (it used to be done twice). The CloudEvents headers
        that are the same for every event of this transaction (source, time, traceparent) are
        encoded once: the events are committed together, so they share ``ce_time``.
        """
        encoded = [account_json(a) for a in accounts]
        if any(publish):
            headers = self._headers
            if headers is None:
                if not self._traced:  # one unit of work runs inside one span (a consumer batch, a request)
                    self._traceparent, self._traced = current_traceparent(), True
                tail: tuple[tuple[str, bytes], ...] = (
                    () if not self._traceparent else (("traceparent", self._traceparent.encode()),)
                )
                headers = self._headers = (
                    ("ce_source", self.source.encode()),
                    ("ce_time", datetime.now(UTC).isoformat().encode()),
                    tail,
                )
            source, time, trace = headers
            for a, (payload, _), pub in zip(accounts, encoded, publish, strict=True):
                if pub:
                    event_id = new_id()
                    subject = a.figures.credit_code.encode()
                    record_headers = (
                        _H_SPEC, ("ce_id", event_id.encode()), _H_TYPE, source, time, ("ce_subject", subject),
                        _H_CONTENT_TYPE, *trace,
                    )  # fmt: skip
                    self.stage(Record(_TOPIC, subject, payload, record_headers), event_id)
        await self.repo.upsert_accounts(accounts, [row for _, row in encoded])
