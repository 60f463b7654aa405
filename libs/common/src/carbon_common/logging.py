"""JSON logs that carry trace ids, so ops can jump from a log line to its trace.

One line per event on stderr: ``time level logger message service trace_id span_id`` plus any
``extra`` fields. Uvicorn's and the libraries' loggers are routed through the same handler
(their own handlers are removed and they propagate to the root).
"""

from __future__ import annotations

import logging
import sys
from typing import IO

from opentelemetry import trace
from pythonjsonlogger.json import JsonFormatter

#: loggers that install their own handlers (uvicorn's dictConfig); they are sent to the root instead
ROUTED = ("uvicorn", "uvicorn.error", "uvicorn.access", "fastapi", "alembic")
#: chatty below WARNING
QUIET = ("aiokafka", "kafka", "sqlalchemy.engine", "uvicorn.access")


class TraceIds(logging.Filter):
    """Adds ``service``, ``trace_id`` and ``span_id`` (of the current span, or None) to a record."""

    def __init__(self, service: str) -> None:
        super().__init__()
        self.service = service

    def filter(self, record: logging.LogRecord) -> bool:
        ctx = trace.get_current_span().get_span_context()
        record.trace_id = format(ctx.trace_id, "032x") if ctx.is_valid else None
        record.span_id = format(ctx.span_id, "016x") if ctx.is_valid else None
        if not hasattr(record, "service"):
            record.service = self.service
        return True


def json_formatter() -> logging.Formatter:
    return JsonFormatter(
        "%(asctime)s %(levelname)s %(name)s %(message)s %(service)s %(trace_id)s %(span_id)s",
        rename_fields={"asctime": "time", "levelname": "level", "name": "logger"},
        json_ensure_ascii=False,
    )


def log_handler(service: str, json: bool = True, stream: IO[str] | None = None) -> logging.Handler:
    """The handler ``setup_logging`` installs: JSON lines (or plain text) with the trace ids."""
    handler = logging.StreamHandler(stream if stream is not None else sys.stderr)
    if json:
        handler.setFormatter(json_formatter())
    else:
        handler.setFormatter(
            logging.Formatter("%(asctime)s %(levelname)-7s %(name)s [%(trace_id)s]: %(message)s")
        )
    handler.addFilter(TraceIds(service))
    return handler


def setup_logging(service: str, level: str = "INFO", json: bool = True) -> None:
    """Configure the root logger once: JSON lines on stderr with service, trace_id, span_id."""
    root = logging.getLogger()
    if getattr(root, "_carbon_configured", False):
        return
    root.handlers[:] = [log_handler(service, json)]
    root.setLevel(level)
    for name in ROUTED:
        routed = logging.getLogger(name)
        routed.handlers.clear()
        routed.propagate = True
    for noisy in QUIET:
        logging.getLogger(noisy).setLevel("WARNING")
    root._carbon_configured = True  # type: ignore[attr-defined]
