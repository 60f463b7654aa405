"""JSON logs that carry trace ids, so ops can jump from a log line to its trace."""

from __future__ import annotations

import logging
import sys

from opentelemetry import trace
from pythonjsonlogger.json import JsonFormatter


class _TraceIds(logging.Filter):
    def __init__(self, service: str) -> None:
        super().__init__()
        self.service = service

    def filter(self, record: logging.LogRecord) -> bool:
        ctx = trace.get_current_span().get_span_context()
        record.trace_id = format(ctx.trace_id, "032x") if ctx.is_valid else None
        record.span_id = format(ctx.span_id, "016x") if ctx.is_valid else None
        record.service = self.service
        return True


def setup_logging(service: str, level: str = "INFO", json: bool = True) -> None:
    """Configure the root logger once: JSON lines on stderr with service, trace_id, span_id."""
    root = logging.getLogger()
    if getattr(root, "_carbon_configured", False):
        return
    handler = logging.StreamHandler(sys.stderr)
    if json:
        handler.setFormatter(
            JsonFormatter(
                "%(asctime)s %(levelname)s %(name)s %(message)s %(service)s %(trace_id)s %(span_id)s",
                rename_fields={"asctime": "time", "levelname": "level", "name": "logger"},
            )
        )
    else:
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)-7s %(name)s: %(message)s"))
    handler.addFilter(_TraceIds(service))
    root.handlers[:] = [handler]
    root.setLevel(level)
    for noisy in ("aiokafka", "kafka", "sqlalchemy.engine", "uvicorn.access"):
        logging.getLogger(noisy).setLevel("WARNING")
    root._carbon_configured = True  # type: ignore[attr-defined]
