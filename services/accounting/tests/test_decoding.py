"""The consumer's decoder: its orjson fast path for ``FactRecorded`` accepts only what the full
pydantic decode accepts, with the same values, and everything else still reaches the full decode
(``ContractError`` → dead-letter topic). Pure: no database."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from decimal import Decimal
from typing import Any

import orjson
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from carbon_accounting.adapters.consumer import Inbound, _fast_fact, decode_record, from_envelope
from carbon_common.bus.port import Record, to_record
from carbon_common.events import (
    EVENT_TYPES,
    AccountUpdated,
    ContractError,
    EnterpriseRegistered,
    Envelope,
    FactRecorded,
    decode,
)

CODE = "91140400MA0GRE0A0W"
INDICATORS = ["energy.raw_coal", "electricity.purchased", "finance.revenue", "compliance.env_penalty", "x"]


def event(**over: Any) -> FactRecorded:
    fields: dict[str, Any] = {
        "fact_id": "f-1",
        "fact_key": "stats-140400/r1",
        "credit_code": CODE,
        "department": "stats-140400",
        "record_id": "r1",
        "indicator": "energy.raw_coal",
        "period": "2024-03",
        "value": Decimal("1000"),
        "unit": "t",
        "evidence_hash": "sha256:ab",
        "recorded_at": datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC),
    }
    fields.update(over)
    return FactRecorded(**fields)


def full(record: Record) -> Inbound | ContractError:
    """What the consumer did before the fast path: pydantic decode, then the same mapping."""
    try:
        return from_envelope(decode(record.value, record.headers, EVENT_TYPES))
    except ContractError as exc:
        return exc


def with_payload(record: Record, payload: dict[str, Any]) -> Record:
    return Record(record.topic, record.key, orjson.dumps(payload), record.headers)


values = st.decimals(
    min_value=Decimal("-1e16"), max_value=Decimal("1e16"), allow_nan=False, allow_infinity=False
)
timestamps = st.datetimes(timezones=st.sampled_from([UTC, None])) | st.builds(
    lambda d, m: d.replace(tzinfo=timezone(timedelta(minutes=m))),
    st.datetimes(),
    st.integers(min_value=-1439, max_value=1439),
)
attributes = st.dictionaries(
    st.text(max_size=5),
    st.none() | st.booleans() | st.integers() | st.text(max_size=5) | st.floats() | st.lists(st.integers()),
    max_size=3,
)


@settings(max_examples=400, deadline=None)
@given(
    value=values,
    revision=st.integers(min_value=-(2**70), max_value=2**70),
    indicator=st.sampled_from(INDICATORS),
    unit=st.sampled_from(["t", "MWh", "GJ", "10k CNY", "count", " t "]),
    recorded_at=timestamps,
    attrs=attributes,
    authoritative=st.booleans(),
)
def test_fast_path_equals_the_full_decode_for_what_producers_write(
    value: Decimal,
    revision: int,
    indicator: str,
    unit: str,
    recorded_at: datetime,
    attrs: dict[str, Any],
    authoritative: bool,
) -> None:
    """Valid events, encoded as ingest encodes them (``to_record``): same result both ways."""
    try:
        ev = event(
            value=value,
            revision=revision,
            indicator=indicator,
            unit=unit,
            recorded_at=recorded_at,
            attributes=attrs,
            authoritative=authoritative,
        )
    except ValueError:  # outside the contract (value bound): a producer cannot write it
        return
    record = to_record(Envelope(data=ev, source="/ingest"))
    expected = full(record)
    assert decode_record(record) == expected
    fast = _fast_fact(record)
    assert fast is None or fast == expected


#: payload mutations: each must give the full decode's answer (accept with equal values, or reject)
MUTATIONS: list[tuple[str, Any]] = [
    ("value", "1_000"), ("value", " 12 "), ("value", "+5"), ("value", ".5"), ("value", "5."), ("value", "1e3"),
    ("value", "NaN"), ("value", "Infinity"), ("value", "1E+15"), ("value", "-1E+15"), ("value", "999999999999999.9"),
    ("value", 12), ("value", 1.5), ("value", None), ("value", "١٢"), ("value", "0x10"), ("value", ""),
    ("revision", True), ("revision", "2"), ("revision", 2.0), ("revision", None), ("authoritative", 1),
    ("authoritative", "true"), ("period", "2024-13"), ("period", "2024-1"), ("period", "2024-01\n"),
    ("period", "２０２４-01"), ("credit_code", CODE[:17]), ("credit_code", CODE + "X"), ("credit_code", 1),
    ("recorded_at", "2024-01-01"), ("recorded_at", "2024-02-30T00:00:00Z"), ("recorded_at", "2024-01-01T00:00:00"),
    ("recorded_at", "2024-01-01 00:00:00Z"), ("recorded_at", "2024-01-01T24:00:00Z"), ("recorded_at", 1700000000),
    ("recorded_at", "2024-01-01T00:00:00.1234567Z"), ("recorded_at", "2024-01-01T00:00:00+24:00"),
    ("attributes", None), ("attributes", []), ("attributes", {"a": {"b": 1}}), ("attributes", {"a": 2**60}),
    ("attributes", {"a": 1.5}), ("unit", 5), ("fact_id", None), ("indicator", ["energy.raw_coal"]),
    ("evidence_hash", 7), ("department", ""), ("extra_field", "ignored"),
]  # fmt: skip


@pytest.mark.parametrize(("field", "value"), MUTATIONS)
def test_fast_path_never_disagrees_with_the_full_decode(field: str, value: Any) -> None:
    record = to_record(Envelope(data=event(), source="/ingest"))
    payload = orjson.loads(record.value or b"")
    payload[field] = value
    mutated = with_payload(record, payload)
    expected = full(mutated)
    fast = _fast_fact(mutated)
    assert fast is None or fast == expected
    if isinstance(expected, ContractError):
        with pytest.raises(ContractError) as got:
            decode_record(mutated)
        assert got.value.reason == expected.reason
    else:
        assert decode_record(mutated) == expected


@pytest.mark.parametrize("missing", ["fact_id", "fact_key", "credit_code", "value", "recorded_at", "period"])
def test_a_missing_field_is_a_contract_error_naming_it(missing: str) -> None:
    record = to_record(Envelope(data=event(), source="/ingest"))
    payload = orjson.loads(record.value or b"")
    del payload[missing]
    with pytest.raises(ContractError) as got:
        decode_record(with_payload(record, payload))
    assert got.value.field == missing


@pytest.mark.parametrize(
    "headers",
    [
        (("ce_specversion", b"0.3"),),
        (("ce_id", b""),),
        (("ce_time", b"yesterday"),),
        (("ce_type", b"cn.carbonbureau.nope.v1"),),
    ],
)
def test_bad_headers_still_reach_the_full_decode(headers: tuple[tuple[str, bytes], ...]) -> None:
    record = to_record(Envelope(data=event(), source="/ingest"))
    bad = Record(record.topic, record.key, record.value, record.headers + headers)  # later ones win
    assert _fast_fact(bad) is None
    with pytest.raises(ContractError):
        decode_record(bad)


def test_undecodable_bytes_are_a_contract_error() -> None:
    record = to_record(Envelope(data=event(), source="/ingest"))
    for value in (b"{not json", b"[]", None, b'"x"'):
        with pytest.raises(ContractError):
            decode_record(Record(record.topic, record.key, value, record.headers))


def test_what_accounting_keeps_of_each_record() -> None:
    record = to_record(Envelope(data=event(attributes={"grid_region": "shanxi"}), source="/ingest", id="e1"))
    assert _fast_fact(record) == full(record)  # what ingest writes takes the fast path
    fact = decode_record(record)
    assert fact.id == "e1" and fact.fact is not None and fact.unusable is None
    assert fact.fact.value == Decimal("1000") and fact.fact.fact_key == "stats-140400/r1"
    assert fact.fact.attributes == {"grid_region": "shanxi"} and fact.fact.revision == 1
    ignored = decode_record(to_record(Envelope(data=event(indicator="ets.surrendered"), source="/ingest")))
    assert ignored.fact is None and ignored.enterprise is None
    foreign = decode_record(to_record(Envelope(data=event(unit="GJ"), source="/ingest")))
    assert foreign.fact is not None and foreign.unusable is not None and "GJ" in foreign.unusable
    ent = EnterpriseRegistered(
        credit_code=CODE,
        name="长治",
        region_code="140400",
        industry_code="4411",
        size_class="large",
        transition_stage="mid",
        revision=3,
    )
    directory = decode_record(to_record(Envelope(data=ent, source="/ingest")))
    assert directory.enterprise is not None and directory.enterprise.revision == 3
    other = AccountUpdated(
        credit_code=CODE,
        period="2024-01",
        scope1_combustion_tco2=Decimal(1),
        total_tco2=Decimal(1),
        factor_set="x",
    )
    assert decode_record(to_record(Envelope(data=other, source="/accounting", id="k"))) == Inbound("k")
