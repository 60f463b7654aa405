"""OpenTelemetry set-up from the standard ``OTEL_*`` variables, and trace context over Kafka.

Producers put the current W3C ``traceparent`` into the envelope (``UnitOfWork.emit``); consumers
start each record's processing span from it (``consume_span``), so the database work a consumer
does is a child of the producer's span: one trace from the HTTP request to the last service.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from opentelemetry import context as otel_context
from opentelemetry import trace
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor, SpanExporter
from opentelemetry.trace.propagation.tracecontext import TraceContextTextMapPropagator

_propagator = TraceContextTextMapPropagator()
_configured = False


def setup_telemetry(service_name: str, exporter: SpanExporter | None = None) -> TracerProvider | None:
    """Install a tracer provider once per process (first caller names the service).

    Spans are exported over OTLP/HTTP when ``OTEL_EXPORTER_OTLP_ENDPOINT`` is set, or to the
    given exporter (tests pass an in-memory one). ``OTEL_SDK_DISABLED=true`` turns it off.
    """
    global _configured
    if _configured or os.environ.get("OTEL_SDK_DISABLED", "").lower() == "true":
        return None
    resource = Resource.create({"service.name": os.environ.get("OTEL_SERVICE_NAME", service_name)})
    provider = TracerProvider(resource=resource)
    if exporter is not None:
        from opentelemetry.sdk.trace.export import SimpleSpanProcessor

        provider.add_span_processor(SimpleSpanProcessor(exporter))
    elif os.environ.get("OTEL_EXPORTER_OTLP_ENDPOINT") or os.environ.get(
        "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT"
    ):
        from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter

        provider.add_span_processor(BatchSpanProcessor(OTLPSpanExporter()))
    trace.set_tracer_provider(provider)
    _configured = True
    return provider


def tracer(name: str) -> trace.Tracer:
    return trace.get_tracer(name)


def current_traceparent() -> str | None:
    """The W3C ``traceparent`` of the current span (formatted directly: this runs per event)."""
    ctx = trace.get_current_span().get_span_context()
    if not ctx.is_valid:
        return None
    return f"00-{ctx.trace_id:032x}-{ctx.span_id:016x}-{int(ctx.trace_flags):02x}"


@contextmanager
def consume_span(name: str, traceparent: str | None, **attributes: Any) -> Iterator[trace.Span]:
    """A CONSUMER span whose parent is the producer's span carried in ``traceparent``."""
    ctx = _propagator.extract({"traceparent": traceparent} if traceparent else {})
    token = otel_context.attach(ctx)
    try:
        with trace.get_tracer("carbon_common.bus").start_as_current_span(
            name, kind=trace.SpanKind.CONSUMER, attributes=attributes
        ) as span:
            yield span
    finally:
        otel_context.detach(token)


def instrument_engine(engine: Any) -> None:
    """Database spans for every statement (children of the current span)."""
    try:
        from opentelemetry.instrumentation.sqlalchemy import SQLAlchemyInstrumentor

        SQLAlchemyInstrumentor().instrument(engine=engine.sync_engine)
    except Exception:  # instrumentation must never take a service down
        pass
