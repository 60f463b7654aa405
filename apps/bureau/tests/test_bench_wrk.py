"""The bench's reading of ``wrk --latency`` output (a real run's text, against a server that answered 501)."""

from __future__ import annotations

import pytest

from carbon_bureau.bench.quotes import parse_wrk

WRK_OUTPUT = """\
Running 1s test @ http://127.0.0.1:18777/
  1 threads and 4 connections
  Thread Stats   Avg      Stdev     Max   +/- Stdev
    Latency     2.14ms    2.52ms  21.61ms   87.62%
    Req/Sec     2.56k   591.72     3.42k    60.00%
  Latency Distribution
     50%    1.06ms
     75%    2.53ms
     90%    5.22ms
     99%   12.32ms
  2551 requests in 1.00s, 1.35MB read
  Socket errors: connect 0, read 2, write 0, timeout 1
  Non-2xx or 3xx responses: 2551
Requests/sec:   2549.68
Transfer/sec:      1.35MB
"""


def test_parse_wrk_reads_counts_rate_and_percentiles() -> None:
    got = parse_wrk(WRK_OUTPUT)
    assert got == {
        "requests": 2551,
        "non_2xx": 2551,
        "transport_errors": 3,
        "requests_per_s": 2549.68,
        "p50_ms": 1.06,
        "p99_ms": 12.32,
    }


def test_parse_wrk_converts_microseconds_and_seconds() -> None:
    out = WRK_OUTPUT.replace("1.06ms", "850.00us").replace("12.32ms", "1.20s")
    got = parse_wrk(out.replace("  Non-2xx or 3xx responses: 2551\n", ""))
    assert (got["p50_ms"], got["p99_ms"], got["non_2xx"]) == (0.85, 1200.0, 0)


def test_parse_wrk_refuses_output_without_latency_distribution() -> None:
    with pytest.raises(KeyError):
        parse_wrk(WRK_OUTPUT.replace("     50%    1.06ms\n", ""))
