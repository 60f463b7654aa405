"""The SQL unit of work: one transaction, the repository bound to it, outbox via ``emit``.

``emit_account`` stages an ``AccountUpdated`` without building the pydantic model: the record
(key, JSON value, CloudEvents headers) is written directly with orjson, byte for byte what
``to_record(Envelope(data=account_event(...)))`` gives (property-tested in
``tests/test_account_event.py``). It is one record per restated enterprise-month, and the model
round trip (validate 18 fields, ``model_dump_json``, envelope, headers) was a tenth of the
consumer's CPU (docs/performance-notes.md).
"""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

import orjson
from sqlalchemy.ext.asyncio import AsyncSession

from carbon_accounting.adapters.repository import SqlRepository
from carbon_accounting.domain.model import AccountFigures
from carbon_common.bus.port import Record
from carbon_common.db import UnitOfWork, new_id
from carbon_common.events import AccountUpdated
from carbon_common.events.envelope import CONTENT_TYPE, SPEC_VERSION
from carbon_common.telemetry import current_traceparent

_TOPIC = AccountUpdated.topic
_SPEC = SPEC_VERSION.encode()
_TYPE = AccountUpdated.ce_type.encode()
_CONTENT_TYPE = CONTENT_TYPE.encode()
#: the contract's fields in its declaration order (the order ``model_dump_json`` writes them)
_FIELDS = tuple(AccountUpdated.model_fields)


def _dec(value: Decimal | None) -> str | None:
    return None if value is None else str(value)  # pydantic writes a Decimal as str(value)


def account_payload(figures: AccountFigures, calculation_version: int) -> bytes:
    """``AccountUpdated(...).model_dump_json().encode()`` for these figures, without the model."""
    f = figures
    return orjson.dumps(
        {
            "credit_code": f.credit_code,
            "period": f.period,
            "industry_code": f.industry_code,
            "scope1_combustion_tco2": str(f.scope1_combustion_tco2),
            "scope1_process_tco2": str(f.scope1_process_tco2),
            "scope2_location_tco2": str(f.scope2_location_tco2),
            "scope2_market_tco2": str(f.scope2_market_tco2),
            "scope3_tco2": str(f.scope3_tco2),
            "total_tco2": str(f.total_tco2),
            "output_quantity": _dec(f.output_quantity),
            "output_unit": f.output_unit,
            "intensity_per_output": _dec(f.intensity_per_output),
            "revenue_10k_cny": _dec(f.revenue_10k_cny),
            "intensity_per_revenue": _dec(f.intensity_per_revenue),
            "data_quality_score": str(f.data_quality_score),
            "fact_count": f.fact_count,
            "factor_set": f.factor_set,
            "calculation_version": calculation_version,
        }
    )


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


class SqlUnitOfWork(UnitOfWork):
    repo: SqlRepository

    def _bind(self, session: AsyncSession) -> None:
        self.repo = SqlRepository(session)
        self._traceparent: str | None = None
        self._traced = False

    def emit_account(self, figures: AccountFigures, calculation_version: int) -> None:
        """Stage the ``AccountUpdated`` of one computed or restated enterprise-month."""
        if not self._traced:  # one unit of work runs inside one span (a consumer batch, a request)
            self._traceparent, self._traced = current_traceparent(), True
        event_id = new_id()
        record = account_record(
            figures, calculation_version, self.source, event_id, datetime.now(UTC), self._traceparent
        )
        self.stage(record, event_id)


if set(_FIELDS) != {
    "credit_code",
    "period",
    "industry_code",
    "scope1_combustion_tco2",
    "scope1_process_tco2",
    "scope2_location_tco2",
    "scope2_market_tco2",
    "scope3_tco2",
    "total_tco2",
    "output_quantity",
    "output_unit",
    "intensity_per_output",
    "revenue_10k_cny",
    "intensity_per_revenue",
    "data_quality_score",
    "fact_count",
    "factor_set",
    "calculation_version",
}:  # pragma: no cover - a field added to the contract must be written here too
    raise ImportError(
        "AccountUpdated's fields changed: update account_payload in the accounting unit of work"
    )
