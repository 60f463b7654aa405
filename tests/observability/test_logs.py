"""JSON log lines carry the trace and span ids of the span they were written in."""

from __future__ import annotations

import io
import json
import logging
import subprocess
import sys
import textwrap

from opentelemetry import trace

from carbon_common.logging import log_handler
from carbon_common.telemetry import setup_telemetry


def test_a_line_written_inside_a_span_has_its_ids() -> None:
    setup_telemetry("tests")
    stream = io.StringIO()
    logger = logging.getLogger("tests.observability.logs")
    logger.propagate = False
    logger.addHandler(log_handler("ingest", json=True, stream=stream))
    logger.setLevel(logging.INFO)
    try:
        with trace.get_tracer("tests").start_as_current_span("work") as span:
            logger.info("inside 碳账户", extra={"group": "accounting"})
        logger.info("outside")
    finally:
        logger.handlers.clear()

    inside, outside = (json.loads(line) for line in stream.getvalue().splitlines())
    ctx = span.get_span_context()
    assert inside["trace_id"] == f"{ctx.trace_id:032x}" and inside["span_id"] == f"{ctx.span_id:016x}"
    assert (
        inside["message"] == "inside 碳账户"
        and inside["service"] == "ingest"
        and inside["group"] == "accounting"
    )
    assert inside["level"] == "INFO" and inside["logger"] == "tests.observability.logs" and inside["time"]
    assert outside["trace_id"] is None and outside["span_id"] is None


def test_uvicorn_and_library_logs_go_through_the_same_json_formatter() -> None:
    """``setup_logging`` runs after uvicorn's dictConfig (inside the app factory): it must win."""
    script = textwrap.dedent(
        """
        import logging, logging.config
        from uvicorn.config import LOGGING_CONFIG
        logging.config.dictConfig(LOGGING_CONFIG)
        from opentelemetry import trace
        from carbon_common.logging import setup_logging
        from carbon_common.telemetry import setup_telemetry
        setup_telemetry("rating")
        setup_logging("rating")
        with trace.get_tracer("t").start_as_current_span("s"):
            logging.getLogger("uvicorn.error").info("Application startup complete.")
            logging.getLogger("aiokafka").warning("library warning")
        """
    )
    out = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=60, check=True
    )
    lines = [json.loads(line) for line in out.stderr.splitlines() if line.strip()]
    assert [entry["logger"] for entry in lines] == ["uvicorn.error", "aiokafka"], out.stderr
    assert all(entry["service"] == "rating" and len(entry["trace_id"]) == 32 for entry in lines)
    assert out.stdout == ""  # uvicorn's own handlers (stdout/stderr, plain text) are gone
