"""The pre-encoded ``FactRecorded`` events (service_layer/fact_events.py): joined with their entry
hashes under the chain lock, they must be exactly what encoding the finished, validated model gives
(value bytes and headers), whatever the submitted content; the canonical bytes of a submission's
facts must be the reference ones; the extra stream gets the facts of its families."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from decimal import Decimal
from typing import Any

import orjson
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from carbon_common.events import Envelope, FactRecorded, Topics, encode
from carbon_ingest.adapters.catalogue_files import load_catalogue
from carbon_ingest.domain.catalogue import CatalogueError, parse_catalogue
from carbon_ingest.domain.evidence import canonical_fact
from carbon_ingest.domain.facts import Fact
from carbon_ingest.service_layer.fact_events import UNCHAINED, encode_facts, model
from carbon_ingest.service_layer.submissions import _canonical

CATALOGUE = load_catalogue()
INDICATORS = sorted(CATALOGUE.indicators)

json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(-(2**70), 2**70)
    | st.floats(allow_nan=False)
    | st.text(max_size=30),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=10), inner, max_size=3),
    max_leaves=8,
)
#: an attribute that mimics the evidence_hash field itself
PLACEHOLDER = {"evidence_hash": UNCHAINED, "authoritative": True}

facts_strategy = st.lists(
    st.fixed_dictionaries(
        {
            "record_id": st.one_of(
                st.text(min_size=1, max_size=60), st.just(f'"evidence_hash":"{UNCHAINED}"')
            ),
            "indicator": st.sampled_from(INDICATORS),
            "value": st.one_of(
                st.decimals(
                    allow_nan=False, allow_infinity=False, places=6, min_value=-(10**14), max_value=10**14
                ),
                st.sampled_from([Decimal("1E-7"), Decimal("0.00000012"), Decimal("0"), Decimal("1250")]),
            ),
            "attributes": st.one_of(
                st.just({}),
                st.just(PLACEHOLDER),
                st.dictionaries(st.text(max_size=12), json_values, max_size=3),
            ),
            "authoritative": st.booleans(),
            "revision": st.integers(1, 5),
        }
    ),
    min_size=1,
    max_size=6,
)
times = st.one_of(
    # hypothesis takes naive bounds and attaches the zone itself
    st.datetimes(min_value=datetime(2000, 1, 1), max_value=datetime(2100, 1, 1), timezones=st.just(UTC)),  # noqa: DTZ001
    st.just(datetime(2024, 4, 1, 8, 30, 15, tzinfo=timezone(timedelta(hours=8)))),
)


def make(i: int, spec: dict[str, Any], at: datetime) -> Fact:
    ind = CATALOGUE.indicators[spec["indicator"]]
    return Fact(fact_id=f"f-{i}", department="stats-140400", record_id=spec["record_id"],
                revision=spec["revision"], credit_code="91140400MA0000001X", indicator=ind.code,
                period="2024-03", value=spec["value"], unit=ind.unit, original_value=str(spec["value"]),
                original_unit=ind.unit, attributes=spec["attributes"], authoritative=spec["authoritative"],
                content_hash="c" * 64, recorded_at=at)  # fmt: skip


@settings(max_examples=300, deadline=None)
@given(
    specs=facts_strategy,
    at=times,
    traceparent=st.one_of(st.none(), st.just("00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01")),
    source=st.sampled_from(["ingest", 'in"gest@@ce_id@@']),
    hash_chars=st.text(alphabet="0123456789abcdef", min_size=64, max_size=64),
)
def test_events_are_the_encoded_finished_models(
    specs: list[dict[str, Any]], at: datetime, traceparent: str | None, source: str, hash_chars: str
) -> None:
    facts = [make(i, s, at) for i, s in enumerate(specs)]
    events = encode_facts(facts, source, traceparent, CATALOGUE.stream_indicators)
    hashes = [hash_chars[i:] + hash_chars[:i] for i in range(len(facts))]
    rows = events.rows(hashes)
    assert rows.topic == Topics.FACTS
    assert len(set(rows.ids)) == len(facts)
    times_seen = set()
    for f, h, event_id, value, headers in zip(
        facts, hashes, rows.ids, rows.values, rows.headers, strict=True
    ):
        finished = model(f, h)
        assert value == finished.model_dump_json().encode()
        decoded = dict(orjson.loads(headers))
        times_seen.add(decoded["ce_time"])
        env = Envelope(finished, source, id=event_id, time=datetime.fromisoformat(decoded["ce_time"]),
                       traceparent=traceparent)  # fmt: skip
        key, reference_value, reference_headers = encode(env)
        assert reference_value == value
        assert orjson.loads(headers) == [[k, v.decode()] for k, v in reference_headers]
        assert key == f.credit_code.encode()
    assert len(times_seen) == 1  # one ce_time per submission
    credit = CATALOGUE.stream_indicators["credit"]
    expected = [i for i, f in enumerate(facts) if f.indicator in credit]
    assert rows.copies == ({Topics.CREDIT_FACTS: expected} if expected else {})


@settings(max_examples=200, deadline=None)
@given(specs=facts_strategy, at=times)
def test_a_submissions_canonical_bytes_are_the_reference_bytes(
    specs: list[dict[str, Any]], at: datetime
) -> None:
    facts = [make(i, s, at) for i, s in enumerate(specs)]
    reference = []
    for f in facts:
        try:
            reference.append(
                canonical_fact(
                    fact_id=f.fact_id,
                    department=f.department,
                    record_id=f.record_id,
                    revision=f.revision,
                    credit_code=f.credit_code,
                    indicator=f.indicator,
                    period=f.period,
                    value=f.value,
                    unit=f.unit,
                    original_value=f.original_value,
                    original_unit=f.original_unit,
                    attributes=f.attributes,
                    authoritative=f.authoritative,
                    recorded_at=f.recorded_at,
                )
            )
        except UnicodeEncodeError:
            return  # a lone surrogate: both paths fail (test_chain_append)
    assert _canonical(facts) == reference


def test_the_credit_families_are_catalogue_data_in_both_versions() -> None:
    from pathlib import Path

    import carbon_ingest.catalogue

    for name in ("indicators-v1.yaml", "indicators-v2.yaml"):
        cat = load_catalogue(Path(carbon_ingest.catalogue.__file__).parent / name)
        assert cat.streams == {"credit": ("compliance.", "ets.", "transition.", "finance.")}
        credit = cat.stream_indicators["credit"]
        assert (
            "finance.revenue" in credit and "ets.surrendered" in credit and "compliance.env_penalty" in credit
        )
        assert "energy.raw_coal" not in credit and "electricity.purchased" not in credit
        assert "emissions.verified" not in credit


def test_the_model_is_validated_on_the_fast_path_too() -> None:
    """The first fact of every submission is built as the validated model: a fact the contract
    refuses (here a credit code of the wrong length) fails loudly instead of being published."""
    bad = make(0, {"record_id": "r", "indicator": "energy.raw_coal", "value": Decimal(1), "attributes": {},
                   "authoritative": True, "revision": 1}, datetime(2024, 4, 1, tzinfo=UTC))  # fmt: skip
    bad = bad._replace(credit_code="short")
    try:
        encode_facts([bad], "ingest", None)
    except ValueError:
        return
    raise AssertionError("an invalid FactRecorded was encoded")


def test_an_unplain_attribute_takes_the_models_path() -> None:
    at = datetime(2024, 4, 1, tzinfo=UTC)
    f = make(0, {"record_id": "r", "indicator": "electricity.green_purchased", "value": Decimal("3.5"),
                 "attributes": {"certificates": 1e16}, "authoritative": False, "revision": 2}, at)  # fmt: skip
    rows = encode_facts([f, f], "ingest", None).rows(["a" * 64, "b" * 64])
    assert rows.values[1] == model(f, "b" * 64).model_dump_json().encode()
    assert FactRecorded.model_validate_json(rows.values[0]).attributes == {"certificates": 1e16}


@pytest.mark.parametrize(
    ("streams", "message"),
    [
        ({"credit": ["finanse."]}, r"streams\.credit: family 'finanse\.' matches no indicator"),
        ({"rating": ["finance."]}, r"streams\.rating: unknown stream"),
        ({"credit": "finance."}, r"streams\.credit: must be a non-empty list"),
        ({"credit": []}, r"streams\.credit: must be a non-empty list"),
        ({"credit": ["finance.", ""]}, r"streams\.credit: '' is not an indicator family"),
        ({"credit": ["ets.", "ets."]}, r"streams\.credit: a family appears twice"),
        (["credit"], r"streams: must map a stream name"),
    ],
)
def test_a_bad_stream_declaration_fails_at_load_naming_the_field(streams: Any, message: str) -> None:
    data = {"version": 9, "indicators": {"finance.revenue": {"unit": "10k CNY", "kinds": ["tax"]},
                                         "ets.allocated": {"unit": "t", "kinds": ["ets"]}},
            "streams": streams}  # fmt: skip
    with pytest.raises(CatalogueError, match=message):
        parse_catalogue(data)


def test_a_catalogue_without_streams_publishes_only_the_main_stream() -> None:
    cat = parse_catalogue(
        {"version": 9, "indicators": {"finance.revenue": {"unit": "10k CNY", "kinds": ["tax"]}}}
    )
    assert cat.stream_indicators == {}
    f = make(0, {"record_id": "r", "indicator": "finance.revenue", "value": Decimal(1), "attributes": {},
                 "authoritative": True, "revision": 1}, datetime(2024, 4, 1, tzinfo=UTC))  # fmt: skip
    assert encode_facts([f], "ingest", None, cat.stream_indicators).copies == {}


def test_a_value_beyond_the_contracts_bound_is_refused_anywhere_in_a_submission() -> None:
    """The validator bounds the value as sent (5e14 kt passes); converted (5e17 t) the contract
    refuses it. Only the first fact of a submission is built as the model, so the fast path must
    not encode such a value: the model decides, and refuses, as it did for every fact before."""
    at = datetime(2024, 4, 1, tzinfo=UTC)
    ok = make(0, {"record_id": "a", "indicator": "energy.raw_coal", "value": Decimal(1), "attributes": {},
                  "authoritative": True, "revision": 1}, at)  # fmt: skip
    huge = ok._replace(record_id="b", value=Decimal("5E+17"))
    with pytest.raises(ValueError, match="value"):
        encode_facts([ok, huge], "ingest", None)
