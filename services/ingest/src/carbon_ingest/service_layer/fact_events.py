"""The ``FactRecorded`` outbox rows of a submission's new facts: encoded once, before the chain lock.

Each fact's event is encoded in two parts around its ``evidence_hash`` (known only under the chain
lock): the JSON up to that value (``head``) and the JSON after it (``tail``, the same for every
fact of a submission with the same authority). ``FactEvents.rows`` joins them with the entry
hashes. The bytes are exactly what ``carbon_common.events.encode`` makes of the validated
``FactRecorded`` model (``tests/test_fact_events.py`` checks them against it on generated
content), but the model is built and serialised once per *submission*, not once per fact: its
output gives the submission's tails and the headers' template, and checks the fast encoding of its
first fact. Every other fact's head is one ``orjson.dumps`` of its fields in the model's order
(``value`` as ``str(Decimal)``, as pydantic writes it). A fact whose attributes are not plain JSON
(floats, integers beyond 64 bits: the two encoders may spell them differently) takes the model's
path, as does every fact of a submission whose first fact's fast bytes differ from the model's, and
a value outside the contract's bounds (the model refuses it: the transaction fails, as before).

A fact of an indicator that an extra stream carries (the catalogue's ``streams``: ``credit`` →
``ingest.credit-facts.v1``) is also written to that topic: the same id, key, value and headers,
in the same transaction (``FactEvents.copies``; the repository writes the copies from the same
arrays, so nothing is encoded or sent twice).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import orjson

from carbon_common.db import new_id
from carbon_common.events import Envelope, FactRecorded, Topics, encode
from carbon_ingest.domain.evidence import plain_json
from carbon_ingest.domain.facts import Fact
from carbon_ingest.domain.records import MAX_MAGNITUDE
from carbon_ingest.service_layer.ports import FactEventRows

#: the topic of each extra fact stream the catalogue may declare (``domain.catalogue.STREAMS``)
STREAM_TOPICS: Mapping[str, str] = {"credit": Topics.CREDIT_FACTS}

#: the evidence hash of an event encoded before its chain entry exists
UNCHAINED = "0" * 64
_HASH_KEY = b'"evidence_hash":"'
#: ``FactRecorded`` serialises ``evidence_hash`` after every submitted (user) field, so the *last*
#: occurrence of this in the encoded value is the field itself, whatever the attributes hold
_HASH_FIELD = _HASH_KEY + UNCHAINED.encode() + b'"'
_TRUE, _FALSE = b'"authoritative":true', b'"authoritative":false'
#: placeholders of the per-event header values in a submission's header template
_ID_MARK, _SUBJECT_MARK = "@@ce_id@@", "@@ce_subject@@"


@dataclass(slots=True)
class FactEvents:
    """Encoded ``FactRecorded`` events of some facts (in order), the evidence hash still left out."""

    ids: list[str] = field(default_factory=list)
    #: each event's JSON up to its evidence hash value, and after it
    heads: list[bytes] = field(default_factory=list)
    tails: list[bytes] = field(default_factory=list)
    headers: list[str] = field(default_factory=list)
    #: per extra topic, the (0-based) positions of the events it carries too
    copies: dict[str, list[int]] = field(default_factory=dict)

    def extend(self, other: FactEvents) -> None:
        offset = len(self.ids)
        self.ids += other.ids
        self.heads += other.heads
        self.tails += other.tails
        self.headers += other.headers
        for topic, positions in other.copies.items():
            self.copies.setdefault(topic, []).extend(p + offset for p in positions)

    def rows(self, hashes: Sequence[str]) -> FactEventRows:
        """The outbox rows, each event carrying its entry's hash (``hashes``: one per event)."""
        if len(hashes) != len(self.heads):
            raise AssertionError(f"{len(hashes)} entry hashes for {len(self.heads)} events")
        values = [h + x.encode() + t for h, x, t in zip(self.heads, hashes, self.tails, strict=True)]
        return FactEventRows(FactRecorded.topic, self.ids, values, self.headers, self.copies)


def model(f: Fact, evidence_hash: str) -> FactRecorded:
    """The validated contract model of ``f``'s event (the reference the fast path must equal)."""
    return FactRecorded(
        fact_id=f.fact_id,
        fact_key=f.fact_key,
        revision=f.revision,
        credit_code=f.credit_code,
        department=f.department,
        record_id=f.record_id,
        indicator=f.indicator,
        period=f.period,
        value=f.value,
        unit=f.unit,
        attributes=dict(f.attributes),
        evidence_hash=evidence_hash,
        authoritative=f.authoritative,
        recorded_at=f.recorded_at,
    )


def encode_facts(
    facts: Sequence[Fact],
    source: str,
    traceparent: str | None,
    streams: Mapping[str, frozenset[str]] = {},
) -> FactEvents:
    """The events of one submission's new facts (which share their ``recorded_at``), with the
    ``ce_source``, ``traceparent`` and one ``ce_time`` for all; ``streams`` maps each extra stream
    to the indicators it carries (``Catalogue.stream_indicators``)."""
    out = FactEvents()
    if not facts:
        return out
    first = facts[0]
    template_env: Envelope[FactRecorded] = Envelope(
        data=model(first, UNCHAINED), source=source, id=_ID_MARK, traceparent=traceparent
    )
    _, reference, headers = encode(template_env)
    head, tail = _split(reference)
    template = orjson.dumps(
        [[k, _SUBJECT_MARK if k == "ce_subject" else v.decode()] for k, v in headers]
    ).decode()
    marks_ok = template.count(_ID_MARK) == 1 and template.count(_SUBJECT_MARK) == 1
    tails = {first.authoritative: tail, not first.authoritative: _flip(tail, first.authoritative)}
    fast = _fast_head(first) == head
    recorded_at = first.recorded_at
    ids = out.ids
    for f in facts:
        event_id = new_id()
        ids.append(event_id)
        h = _fast_head(f) if fast and f.recorded_at == recorded_at else None
        if h is None:  # the model's path: its exact bytes, split around the hash
            own = Envelope(
                data=model(f, UNCHAINED),
                source=source,
                id=event_id,
                time=template_env.time,
                traceparent=traceparent,
            )
            _, value, hs = encode(own)
            h, t = _split(value)
            out.heads.append(h)
            out.tails.append(t)
            out.headers.append(orjson.dumps([[k, v.decode()] for k, v in hs]).decode())
            continue
        out.heads.append(h)
        out.tails.append(tails[f.authoritative])
        if marks_ok:
            out.headers.append(template.replace(_ID_MARK, event_id).replace(_SUBJECT_MARK, f.credit_code))
        else:  # a source or traceparent that contains a mark: the plain way
            hs = encode(
                Envelope(
                    data=template_env.data,
                    source=source,
                    id=event_id,
                    time=template_env.time,
                    traceparent=traceparent,
                )
            )[2]
            out.headers.append(
                orjson.dumps(
                    [[k, f.credit_code if k == "ce_subject" else v.decode()] for k, v in hs]
                ).decode()
            )
    for stream, indicators in streams.items():
        positions = [i for i, f in enumerate(facts) if f.indicator in indicators]
        if positions:
            out.copies[STREAM_TOPICS[stream]] = positions
    return out


def _split(value: bytes) -> tuple[bytes, bytes]:
    """An encoded event with the placeholder hash → (JSON up to the hash value, JSON after it)."""
    at = value.rfind(_HASH_FIELD)
    if at < 0:
        raise AssertionError("encoded FactRecorded without its evidence_hash placeholder")
    return value[: at + len(_HASH_KEY)], value[at + len(_HASH_FIELD) - 1 :]


def _flip(tail: bytes, authoritative: bool) -> bytes:
    """The tail of a fact of the other authority (the tail holds only ``authoritative`` and
    ``recorded_at``: nothing else in it can look like the field)."""
    return tail.replace(_TRUE, _FALSE, 1) if authoritative else tail.replace(_FALSE, _TRUE, 1)


def _fast_head(f: Fact) -> bytes | None:
    """The event's JSON up to the evidence hash value, or None when only the model can say."""
    attributes = f.attributes
    if type(attributes) is not dict or (attributes and not plain_json(attributes)):
        return None
    if not -MAX_MAGNITUDE < f.value < MAX_MAGNITUDE:
        # the contract's bound (the validator checks it before conversion: 5e14 kt passes it and
        # is 5e17 t): only the model may decide, and it refuses, as it always did
        return None
    try:
        body = orjson.dumps(
            {
                "fact_id": f.fact_id,
                "fact_key": f"{f.department}/{f.record_id}",
                "revision": f.revision,
                "credit_code": f.credit_code,
                "department": f.department,
                "record_id": f.record_id,
                "indicator": f.indicator,
                "period": f.period,
                "value": str(f.value),
                "unit": f.unit,
                "attributes": attributes,
            }
        )
    except orjson.JSONEncodeError:
        return None  # e.g. a lone surrogate: the model's path decides (and fails the same way)
    return body[:-1] + b"," + _HASH_KEY
