"""CloudEvents binary-mode envelope: round trip, tolerant reading, precise errors."""

from __future__ import annotations

import json
from decimal import Decimal

import pytest

from carbon_common.events import EVENT_TYPES, ContractError, Envelope, FactRecorded, decode, encode
from carbon_common.events.examples import EXAMPLES


@pytest.mark.parametrize("event", list(EXAMPLES.values()), ids=lambda e: type(e).__name__)
def test_every_example_round_trips_with_cloudevents_headers(event: object) -> None:
    env = Envelope(data=event, source="test", traceparent="00-" + "1" * 32 + "-" + "2" * 16 + "-01")  # type: ignore[arg-type]
    key, value, headers = encode(env)
    h = dict(headers)
    for name in ("ce_id", "ce_type", "ce_source", "ce_time", "ce_subject", "ce_specversion", "content-type"):
        assert name in h
    assert key == h["ce_subject"] == env.subject.encode()
    back = decode(value, headers, EVENT_TYPES)
    assert back.data == event and back.id == env.id and back.traceparent == env.traceparent


def test_every_contract_has_an_example() -> None:
    assert set(EXAMPLES) == set(EVENT_TYPES.values())


def test_decimals_travel_as_strings_and_unknown_fields_are_ignored() -> None:
    env = Envelope(data=EXAMPLES[FactRecorded], source="test")
    _, value, headers = encode(env)
    payload = json.loads(value)
    assert payload["value"] == "1000"
    payload["added_in_a_later_minor_version"] = {"x": 1}
    back = decode(json.dumps(payload).encode(), headers, EVENT_TYPES)
    assert back.data.value == Decimal("1000")  # type: ignore[attr-defined]


def test_invalid_payload_names_the_field() -> None:
    env = Envelope(data=EXAMPLES[FactRecorded], source="test")
    _, value, headers = encode(env)
    payload = json.loads(value)
    payload["period"] = "2024-13"
    with pytest.raises(ContractError) as err:
        decode(json.dumps(payload).encode(), headers, EVENT_TYPES)
    assert err.value.field == "period"


@pytest.mark.parametrize(
    ("headers", "field"),
    [
        ([], "ce_type"),
        ([("ce_type", b"x"), ("ce_specversion", b"1.0")], "ce_type"),
        ([("ce_type", b"x")], "ce_specversion"),
    ],
)
def test_missing_or_unknown_headers_are_contract_errors(headers: list[tuple[str, bytes]], field: str) -> None:
    with pytest.raises(ContractError) as err:
        decode(b"{}", headers, EVENT_TYPES)
    assert err.value.field == field


@pytest.mark.parametrize("bad", ["9e400", "1e15", "NaN", "Infinity"])
def test_fact_values_out_of_range_are_contract_errors(bad: str) -> None:
    env = Envelope(data=EXAMPLES[FactRecorded], source="test")
    _, value, headers = encode(env)
    payload = json.loads(value)
    payload["value"] = bad
    with pytest.raises(ContractError) as err:
        decode(json.dumps(payload).encode(), headers, EVENT_TYPES)
    assert err.value.field == "value"
