"""The bench's correctness checker and report writer on small synthetic inputs (no stack needed)."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path
from typing import Any

import orjson

from carbon_bureau.bench.report import evaluate, write_report
from carbon_bureau.bench.stats import percentile
from carbon_bureau.bench.verify import Observed, verify

A, B = "91140400MA0000000A", "91140400MA0000000B"


def _expectations() -> dict[str, Any]:
    return {
        "counts": {"expected_accepted": 5, "facts": 4},
        "emissions": {
            "total": {
                "scope1_combustion": "150.000000",
                "scope1_process": "0.000000",
                "scope2_location": "30.000000",
                "total": "180.000000",
            },
            "by_enterprise": {
                A: {"2024-01": ["100.000000", "0.000000", "20.000000", "120.000000"]},
                B: {"2024-01": ["50.000000", "0.000000", "10.000000", "60.000000"]},
            },
        },
    }


def _observed(**changes: Any) -> Observed:
    d = Decimal
    base: dict[str, Any] = {
        "ingest_accepted": 5,
        "ingest_facts": 4,
        "ingest_accounted_revisions": 4,
        "ingest_accounted_facts": 3,
        "accounted_revisions": 4,
        "accounted_facts": 3,
        "ingest_accounted_revision_sum": 4,  # three facts, one of them corrected once
        "accounted_revision_sum": 4,
        "accounts": {
            A: {"2024-01": (d("100.0000001"), d(0), d(20), d("120.0000001")), "2024-02": (d(0),) * 4},
            B: {"2024-01": (d(50), d(0), d(10), d(60))},
        },
        "rating_current": {A: "r-a", B: "r-b"},
        "lending_current": {A: "r-a", B: "r-b"},
    }
    base.update(changes)
    return Observed(**base)


def _failed(observed: Observed) -> set[str]:
    return {c.name for c in verify(_expectations(), [A, B], observed) if not c.ok}


def test_right_results_pass_every_check() -> None:
    assert _failed(_observed()) == set()


def test_a_wrong_total_is_flagged() -> None:
    d = Decimal
    wrong = {
        A: {"2024-01": (d(100), d(0), d(20), d("120.5"))},
        B: {"2024-01": (d(50), d(0), d(10), d(60))},
    }
    assert _failed(_observed(accounts=wrong)) == {
        "account totals = independent recomputation",
        "grand total tCO2",
    }


def test_missing_account_double_counted_fact_unrated_and_stale_lending_are_flagged() -> None:
    failed = _failed(
        _observed(
            accounted_revisions=5,
            accounts={A: {"2024-01": (Decimal(100), Decimal(0), Decimal(20), Decimal(120))}},
            rating_current={A: "r-a"},
            lending_current={A: "r-old"},
        )
    )
    assert failed == {
        "every accepted fact accounted once",
        "account totals = independent recomputation",
        "grand total tCO2",
        "every enterprise rated",
        "lending read model = current ratings",
    }


def test_a_revision_superseded_within_its_batch_is_not_a_missing_fact() -> None:
    # the fact and its correction arrived in one batch: accounting applied only the correction
    assert _failed(_observed(accounted_revisions=3)) == set()


def test_a_fact_held_at_an_older_revision_or_missing_is_flagged() -> None:
    assert _failed(_observed(accounted_revision_sum=3)) == {"every accepted fact accounted once"}
    assert _failed(_observed(accounted_facts=2, accounted_revision_sum=3)) == {
        "every accepted fact accounted once",
        "accounting holds every distinct fact",
    }


def _run(label: str, e2e: float, ok: bool = True) -> dict[str, Any]:
    return {
        "label": label,
        "ok": ok,
        "params": {"enterprises": 2, "months": 1, "seed": 1, "transport": "HTTP", "records": 6,
                   "expected_accepted": 5, "facts": 4},
        "machine": {"date": "2026-01-01 00:00 UTC", "commit": "abc1234 dirty", "nproc": 2, "memory_gb": 4.0,
                    "cpu_model": "Test CPU", "python": "3.11.7", "kafka": "4.1.1", "aiokafka": "0.14.0",
                    "postgresql": "17.2"},
        "replay": {"end_to_end_s": e2e, "facts_per_s": 5 / e2e},
        "ratio": 0.3,
        "latency": {"fact_to_rating_p99_s": 2.5},
        "resources": {"peak_rss_mb": {"ingest": 120.0, "rating": 310.5}},
        "checks": [{"name": "every enterprise rated", "ok": ok, "detail": "2/2 rated"}],
    }  # fmt: skip


def test_targets_are_evaluated_against_issue_6() -> None:
    rows = {r["metric"]: r for r in evaluate(_run("quick", 50.0))}
    assert rows["pilot replay end to end"]["target_met"] is True
    assert rows["pilot replay end to end"]["goal_met"] is False
    assert rows["sustained throughput"]["target_met"] is False
    assert rows["pipeline ÷ raw pass-through"]["target_met"] is True
    assert rows["fact-to-rating p99 at the paced load"]["target_met"] is False
    assert rows["peak RSS per service (max)"]["value"] == 310.5
    assert rows["peak RSS per service (max)"]["target_met"] is False


def test_report_keeps_one_run_per_label_and_renders_both(tmp_path: Path) -> None:
    write_report(_run("quick", 50.0), tmp_path)
    write_report(_run("full", 70.0, ok=False), tmp_path)
    md, js = write_report(_run("quick", 40.0), tmp_path)
    runs = orjson.loads(js.read_bytes())["runs"]
    assert list(runs) == ["full", "quick"]
    assert runs["quick"]["replay"]["end_to_end_s"] == 40.0
    assert runs["full"]["targets"][0]["target_met"] is False
    text = md.read_text(encoding="utf-8")
    assert "## full:" in text and "## quick:" in text
    assert "**FAIL**" in text and "**PASS**" in text
    assert "abc1234 dirty" in text and "Test CPU" in text


def test_nearest_rank_percentile() -> None:
    values = [float(x) for x in range(1, 101)]
    assert percentile(values, 50) == 50.0
    assert percentile(values, 99) == 99.0
    assert percentile([], 99) is None


def test_infrastructure_cpu_is_reported_but_not_held_to_the_service_rss_target(tmp_path: Path) -> None:
    run = _run("quick", 50.0)
    use = {"cpu_s": 10.0, "cores": 0.2}
    run["resources"] = {
        "replay": {"ingest": {**use, "peak_rss_mb": 120.0}, "postgresql": {**use, "peak_rss_mb": None}},
        "peak_rss_mb": {"ingest": 120.0},
    }
    rows = {r["metric"]: r for r in evaluate(run)}
    assert rows["peak RSS per service (max)"]["value"] == 120.0
    md, _ = write_report(run, tmp_path)
    text = md.read_text(encoding="utf-8")
    assert "| postgresql | 10.0 s / 0.2 | — |" in text
    assert "| ingest | 10.0 s / 0.2 / 120.0 MB | 120.0 MB |" in text
