"""OpenTelemetry set-up from the standard ``OTEL_*`` variables, and trace context over the bus.

Producers put the current W3C ``traceparent`` into the envelope (``UnitOfWork.emit``). The bus
starts one CONSUMER span per applied batch (``process_span``, called by ``bus.processing``)
whose parent is the first record's producer span (the others are span links), so the database
statements a consumer runs, and the events it emits, belong to the producer's trace: one trace
from the HTTP request to the last service. ``consume_span`` is the per-record variant services
may use around their own per-record work.

The tracer provider is global and installed once per process. Tests (and embedders) attach
extra span processors to it with ``add_span_processor`` or ``capture_spans``.
"""

from __future__ import annotations

import os
import threading
import weakref
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from typing import Any

from opentelemetry import context as otel_context
from opentelemetry import trace
from opentelemetry.context import Context
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import ReadableSpan, Span, SpanProcessor, TracerProvider, sampling
from opentelemetry.sdk.trace.export import BatchSpanProcessor, SimpleSpanProcessor, SpanExporter
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import Link, NonRecordingSpan, SpanContext, TraceFlags, TraceState
from opentelemetry.trace.propagation.tracecontext import TraceContextTextMapPropagator
from opentelemetry.util.types import Attributes

_propagator = TraceContextTextMapPropagator()
_lock = threading.Lock()
_provider: TracerProvider | None = None
#: a batch span links at most this many further producer spans (OTel's default link limit is 128)
MAX_LINKS = 64


class _FanOut(SpanProcessor):
    """A span processor whose children can be added and removed at run time (tests attach here)."""

    def __init__(self) -> None:
        self._children: tuple[SpanProcessor, ...] = ()

    def add(self, processor: SpanProcessor) -> None:
        self._children = (*self._children, processor)

    def remove(self, processor: SpanProcessor) -> None:
        self._children = tuple(p for p in self._children if p is not processor)

    def on_start(self, span: Span, parent_context: Context | None = None) -> None:
        for p in self._children:
            p.on_start(span, parent_context=parent_context)

    def on_end(self, span: ReadableSpan) -> None:
        for p in self._children:
            p.on_end(span)

    def shutdown(self) -> None:
        for p in self._children:
            p.shutdown()

    def force_flush(self, timeout_millis: int = 30000) -> bool:
        return all(p.force_flush(timeout_millis) for p in self._children)


_fanout = _FanOut()


class _NoOrphanClientSpans(sampling.Sampler):
    """Drops CLIENT spans that would start a trace: the outbox relay's polling, readiness pings.

    A SQL statement is worth tracing as part of a request or a consumed batch; on its own, every
    half second per service, it would only bury the traces that matter. Everything else goes to
    the configured sampler (``OTEL_TRACES_SAMPLER``, default parent-based always-on).
    """

    def __init__(self, delegate: sampling.Sampler) -> None:
        self._delegate = delegate

    def should_sample(
        self,
        parent_context: Context | None,
        trace_id: int,
        name: str,
        kind: trace.SpanKind | None = None,
        attributes: Attributes = None,
        links: Sequence[Link] | None = None,
        trace_state: TraceState | None = None,
    ) -> sampling.SamplingResult:
        if (
            kind is trace.SpanKind.CLIENT
            and not trace.get_current_span(parent_context).get_span_context().is_valid
        ):
            return sampling.SamplingResult(sampling.Decision.DROP)
        return self._delegate.should_sample(
            parent_context, trace_id, name, kind, attributes, links, trace_state
        )

    def get_description(self) -> str:
        return f"NoOrphanClientSpans{{{self._delegate.get_description()}}}"


def _disabled() -> bool:
    return os.environ.get("OTEL_SDK_DISABLED", "").lower() == "true"


def setup_telemetry(service_name: str, exporter: SpanExporter | None = None) -> TracerProvider | None:
    """Install the SDK tracer provider once per process (the first caller names the service).

    ``OTEL_SERVICE_NAME`` and ``OTEL_RESOURCE_ATTRIBUTES`` override the resource, ``OTEL_TRACES_SAMPLER``
    picks the sampler, spans are exported over OTLP/HTTP when ``OTEL_EXPORTER_OTLP_ENDPOINT`` (or
    ``..._TRACES_ENDPOINT``) is set, and ``OTEL_SDK_DISABLED=true`` turns tracing off (returns None).
    ``exporter`` is attached as well (synchronously; for tests and tools). Later calls return the
    provider already installed.
    """
    global _provider
    if _disabled():
        return None
    with _lock:
        if _provider is None:
            resource = Resource.create({"service.name": os.environ.get("OTEL_SERVICE_NAME", service_name)})
            sampler = _NoOrphanClientSpans(sampling._get_from_env_or_default())
            provider = TracerProvider(resource=resource, sampler=sampler)
            provider.add_span_processor(_fanout)
            if os.environ.get("OTEL_EXPORTER_OTLP_ENDPOINT") or os.environ.get(
                "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT"
            ):
                from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter

                provider.add_span_processor(BatchSpanProcessor(OTLPSpanExporter()))
            trace.set_tracer_provider(provider)
            _provider = provider
    if exporter is not None:
        _fanout.add(SimpleSpanProcessor(exporter))
    return _provider


def add_span_processor(processor: SpanProcessor) -> Callable[[], None]:
    """Attach ``processor`` to the process's provider (installing it if needed); returns a remover."""
    if setup_telemetry("carbon-bureau") is None:
        raise RuntimeError("tracing is disabled (OTEL_SDK_DISABLED=true)")
    _fanout.add(processor)
    return lambda: _fanout.remove(processor)


@contextmanager
def capture_spans() -> Iterator[InMemorySpanExporter]:
    """Collect every span ended inside the block in memory (``exporter.get_finished_spans()``)."""
    exporter = InMemorySpanExporter()
    remove = add_span_processor(SimpleSpanProcessor(exporter))
    try:
        yield exporter
    finally:
        remove()


def tracer(name: str) -> trace.Tracer:
    return trace.get_tracer(name)


def current_traceparent() -> str | None:
    """The W3C ``traceparent`` of the current span (formatted directly: this runs per event)."""
    ctx = trace.get_current_span().get_span_context()
    if not ctx.is_valid:
        return None
    return f"00-{ctx.trace_id:032x}-{ctx.span_id:016x}-{int(ctx.trace_flags):02x}"


def parse_traceparent(value: str | bytes | None) -> SpanContext | None:
    """The remote span context in a W3C ``traceparent`` (``00-<trace>-<span>-<flags>``), or None."""
    if not value:
        return None
    text = value.decode(errors="replace") if isinstance(value, bytes) else value
    parts = text.strip().split("-")
    if len(parts) != 4 or len(parts[1]) != 32 or len(parts[2]) != 16:
        return None
    try:
        ctx = SpanContext(
            int(parts[1], 16),
            int(parts[2], 16),
            is_remote=True,
            trace_flags=TraceFlags(int(parts[3], 16) & 0xFF),
        )
    except ValueError:
        return None
    return ctx if ctx.is_valid else None


def header_traceparent(headers: Sequence[tuple[str, bytes]]) -> bytes | None:
    for k, v in headers:
        if k == "traceparent":
            return v
    return None


@contextmanager
def process_span(
    group: str,
    topic: str,
    traceparents: Iterable[str | bytes | None],
    message_count: int,
    **attributes: Any,
) -> Iterator[trace.Span]:
    """The CONSUMER span around one batch of ``message_count`` records that a group applies.

    Its parent is the producer span of the first record that carries a ``traceparent``; the
    other distinct producers are span links (up to ``MAX_LINKS``). A batch without any context
    starts a new trace. Everything the handler does (SQL, emitted events) is its child.
    ``traceparents`` is read lazily and only until the links are full: a batch of thousands of
    records from as many producer spans does not pay a header scan per record.
    """
    parent: SpanContext | None = None
    links: list[Link] = []
    seen: set[str | bytes] = set()
    for tp in traceparents:
        if not tp or tp in seen:
            continue
        seen.add(tp)
        ctx = parse_traceparent(tp)
        if ctx is None:
            continue
        if parent is None:
            parent = ctx
        else:
            links.append(Link(ctx))
            if len(links) >= MAX_LINKS:
                break
    base = trace.set_span_in_context(NonRecordingSpan(parent)) if parent is not None else Context()
    attrs: dict[str, Any] = {
        "messaging.operation.type": "process",
        "messaging.destination.name": topic,
        "messaging.consumer.group.name": group,
        "messaging.batch.message_count": message_count,
        **attributes,
    }
    with trace.get_tracer("carbon_common.bus").start_as_current_span(
        f"process {topic}", context=base, kind=trace.SpanKind.CONSUMER, links=links, attributes=attrs
    ) as span:
        yield span


@contextmanager
def consume_span(name: str, traceparent: str | None, **attributes: Any) -> Iterator[trace.Span]:
    """A per-record CONSUMER span whose parent is the producer's span carried in ``traceparent``."""
    ctx = _propagator.extract({"traceparent": traceparent} if traceparent else {})
    token = otel_context.attach(ctx)
    try:
        with trace.get_tracer("carbon_common.bus").start_as_current_span(
            name, kind=trace.SpanKind.CONSUMER, attributes=attributes
        ) as span:
            yield span
    finally:
        otel_context.detach(token)


_instrumented: weakref.WeakSet[Any] = weakref.WeakSet()


def instrument_engine(engine: Any) -> None:
    """A CLIENT span for every SQL statement of ``engine``, child of the current span.

    ``SQLAlchemyInstrumentor().instrument(engine=...)`` instruments only the first engine of a
    process (a second call is ignored), and the embedded mode has four: so the engine tracer is
    attached to each engine directly.
    """
    sync_engine = getattr(engine, "sync_engine", engine)
    if sync_engine in _instrumented or _disabled():
        return
    try:
        from opentelemetry.instrumentation.sqlalchemy.engine import EngineTracer
        from opentelemetry.instrumentation.sqlalchemy.version import __version__
        from opentelemetry.metrics import get_meter

        meter = get_meter("opentelemetry.instrumentation.sqlalchemy", __version__)
        usage = meter.create_up_down_counter(
            "db.client.connections.usage", unit="connections", description="Connections by state"
        )
        EngineTracer(  # type: ignore[no-untyped-call]
            trace.get_tracer("opentelemetry.instrumentation.sqlalchemy", __version__), sync_engine, usage
        )
        _instrumented.add(sync_engine)
    except Exception:  # instrumentation must never take a service down
        import logging

        logging.getLogger("carbon_common.telemetry").warning(
            "SQLAlchemy instrumentation failed", exc_info=True
        )
