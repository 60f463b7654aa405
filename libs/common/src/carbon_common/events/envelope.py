"""CloudEvents 1.0 binary-mode envelope over Kafka headers.

The payload is the event's JSON (``content-type: application/json``); the attributes travel as
``ce_*`` headers, plus the W3C ``traceparent``/``tracestate`` so a consumer's span is a child of
the producer's. The Kafka key is the event subject (the enterprise credit code), which gives
per-enterprise ordering.

Events are strict when written (producers build typed models, validated on construction) and
tolerant when read (unknown fields are ignored, so producers may add fields within a version).
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, ClassVar, Generic, TypeVar

from pydantic import BaseModel, ConfigDict, ValidationError

SPEC_VERSION = "1.0"
CONTENT_TYPE = "application/json"


class ContractError(ValueError):
    """A record that cannot be decoded into a known contract. It belongs in the dead-letter topic."""

    def __init__(self, reason: str, *, field: str | None = None) -> None:
        super().__init__(reason)
        self.reason = reason
        self.field = field


class Event(BaseModel):
    """Base for all published events. Subclasses set ``ce_type`` and ``topic``."""

    model_config = ConfigDict(extra="ignore", frozen=True)

    ce_type: ClassVar[str]
    topic: ClassVar[str]

    @property
    def subject(self) -> str:
        """The Kafka key and ``ce_subject``: the enterprise credit code for every v1 event."""
        return str(self.__dict__["credit_code"])


E = TypeVar("E", bound=Event)


def _new_id() -> str:
    return str(uuid.uuid4())


def _now() -> datetime:
    return datetime.now(UTC)


@dataclass(frozen=True, slots=True)
class Envelope(Generic[E]):
    """One event with its CloudEvents attributes."""

    data: E
    source: str
    id: str = field(default_factory=_new_id)
    time: datetime = field(default_factory=_now)
    traceparent: str | None = None
    tracestate: str | None = None

    @property
    def type(self) -> str:
        return self.data.ce_type

    @property
    def subject(self) -> str:
        return self.data.subject

    @property
    def topic(self) -> str:
        return self.data.topic

    @property
    def key(self) -> bytes:
        return self.subject.encode()


Headers = list[tuple[str, bytes]]


def encode(envelope: Envelope[Any]) -> tuple[bytes, bytes, Headers]:
    """Envelope → (key, value, headers) in CloudEvents Kafka binary mode."""
    headers: Headers = [
        ("ce_specversion", SPEC_VERSION.encode()),
        ("ce_id", envelope.id.encode()),
        ("ce_type", envelope.type.encode()),
        ("ce_source", envelope.source.encode()),
        ("ce_time", envelope.time.isoformat().encode()),
        ("ce_subject", envelope.subject.encode()),
        ("content-type", CONTENT_TYPE.encode()),
    ]
    if envelope.traceparent:
        headers.append(("traceparent", envelope.traceparent.encode()))
    if envelope.tracestate:
        headers.append(("tracestate", envelope.tracestate.encode()))
    return envelope.key, envelope.data.model_dump_json().encode(), headers


def header_map(headers: Any) -> dict[str, str]:
    """Kafka headers (sequence of (str, bytes)) → dict of decoded strings; later duplicates win."""
    out: dict[str, str] = {}
    for k, v in headers or ():
        out[k] = v.decode("utf-8", "replace") if isinstance(v, bytes | bytearray) else str(v)
    return out


def core_headers(headers: Any) -> tuple[Any, Any, Any, Any]:
    """The raw ``ce_type``, ``ce_specversion``, ``ce_id`` and ``ce_time`` header values (None when
    absent; later duplicates win, as in :func:`header_map`), without decoding anything: for a
    consumer's fast path that recognises a record before deciding to decode it."""
    ce_type = spec = ce_id = ce_time = None
    for k, v in headers or ():
        if k == "ce_type":
            ce_type = v
        elif k == "ce_specversion":
            spec = v
        elif k == "ce_id":
            ce_id = v
        elif k == "ce_time":
            ce_time = v
    return ce_type, spec, ce_id, ce_time


def decode(value: bytes | None, headers: Any, registry: dict[str, type[Event]]) -> Envelope[Event]:
    """Kafka record → Envelope, or ``ContractError`` naming what is wrong."""
    h = header_map(headers)
    ce_type = h.get("ce_type")
    if not ce_type:
        raise ContractError("missing CloudEvents header ce_type", field="ce_type")
    if h.get("ce_specversion") != SPEC_VERSION:
        raise ContractError(f"unsupported ce_specversion {h.get('ce_specversion')!r}", field="ce_specversion")
    model = registry.get(ce_type)
    if model is None:
        raise ContractError(f"unknown event type {ce_type!r}", field="ce_type")
    if value is None:
        raise ContractError("empty record value", field="value")
    try:
        data = model.model_validate_json(value)
    except ValidationError as exc:
        first = exc.errors()[0]
        loc = ".".join(str(p) for p in first.get("loc", ())) or "value"
        raise ContractError(f"{ce_type}: {loc}: {first.get('msg')}", field=loc) from exc
    try:
        time = datetime.fromisoformat(h["ce_time"]) if "ce_time" in h else _now()
    except ValueError as exc:
        raise ContractError(f"bad ce_time {h.get('ce_time')!r}", field="ce_time") from exc
    ce_id = h.get("ce_id")
    if not ce_id:
        raise ContractError("missing CloudEvents header ce_id", field="ce_id")
    return Envelope(
        data=data,
        source=h.get("ce_source", "unknown"),
        id=ce_id,
        time=time,
        traceparent=h.get("traceparent"),
        tracestate=h.get("tracestate"),
    )
