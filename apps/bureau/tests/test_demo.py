"""`make demo --no-serve` on a reduced pilot: the summary must agree with the generator.

Runs the real command (embedded PostgreSQL from the wheel, in-process bus, the four services in
one process) in a subprocess, then checks every number of its summary that the generator can
predict: accepted, duplicate, corrected and rejected records, cross-validation flags, every
enterprise rated, and every monthly account equal to the generator's independent recomputation.
"""

from __future__ import annotations

import json
import socket
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.integration


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_demo_no_serve_summary_matches_the_generator(tmp_path: Path) -> None:
    out = tmp_path / "demo"
    proc = subprocess.run(
        [sys.executable, "-m", "carbon_bureau.cli", "demo", "--no-serve", "--enterprises", "40", "--months", "14",
         "--out", str(out), "--pg-port", str(free_port())],
        check=False, capture_output=True, text=True, timeout=900,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    assert "pilot replay summary" in proc.stdout
    summary = json.loads((out / "summary.json").read_text())
    rec, exp = summary["records"], summary["records"]["expected"]
    assert summary["enterprises"]["registered"] == exp["enterprises"] == 40
    assert summary["enterprises"]["rated"] == exp["enterprises"]
    assert rec["sent"] == exp["records"]
    assert rec["accepted"] == exp["expected_accepted"]
    assert rec["duplicates"] == exp["duplicates"]
    assert rec["corrections"] == exp["corrections"]
    assert rec["rejected"] == exp["rejected"] == sum(rec["rejected_by_field"].values())
    assert summary["cross_validation_flags"] == exp["electricity_flags"]
    assert summary["accounts_check"]["mismatches"] == 0, summary["accounts_check"]["examples"]
    assert summary["accounts_check"]["enterprise_months"] > 0
    assert exp["netted_enterprise_months"] > 0  # exported energy netted and checked end to end
    # PCAF: loans to borrowers that filed debt + equity use them, not the revenue fallback
    book = summary["portfolio"]
    assert book["loans_booked"] > 0 and not book["booking_errors"]
    by_method = book["financed_emissions"]["by_method"]
    assert by_method["debt_plus_equity"]["loans"] == book["expected_debt_plus_equity_loans"] > 0
    assert sum(summary["labels"].values()) == 40
    assert summary["reports"] and all(
        Path(p).read_text(encoding="utf-8").startswith("<!") for p in summary["reports"]
    )
