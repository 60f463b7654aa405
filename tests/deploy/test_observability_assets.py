"""The alert rules and the dashboard under deploy/observability use metrics the code exports."""

from __future__ import annotations

import json
import re
from pathlib import Path

import yaml
from prometheus_client import REGISTRY

from carbon_common import http as _http  # noqa: F401 - registers the HTTP metrics
from carbon_common import metrics as _metrics  # noqa: F401 - registers the bus/outbox metrics

ROOT = Path(__file__).resolve().parents[2] / "deploy" / "observability"
METRIC = re.compile(r"\b([a-z_]+(?:_total|_seconds|_records|_check|_requests))(?:_bucket|_count|_sum)?\b")


def exported() -> set[str]:
    names: set[str] = set()
    for metric in REGISTRY.collect():
        names.add(metric.name)
        names.update(s.name for s in metric.samples)
        if metric.type == "counter":
            names.add(f"{metric.name}_total")
        if metric.type == "histogram":
            names.update(f"{metric.name}{suffix}" for suffix in ("_bucket", "_count", "_sum"))
    return names


def test_alert_rules_parse_and_use_exported_metrics() -> None:
    doc = yaml.safe_load((ROOT / "prometheus-rules.yaml").read_text())
    rules = [r for g in doc["groups"] for r in g["rules"]]
    assert {"ConsumerLagHigh", "DeadLettersGrowing", "OutboxOldEvents", "ReadinessFailing"} <= {
        r["alert"] for r in rules
    }
    names = exported()
    for r in rules:
        for m in METRIC.findall(r["expr"]):
            assert m in names, f"{r['alert']} uses {m}, which nothing exports"


def test_dashboard_queries_use_exported_metrics() -> None:
    dash = json.loads((ROOT / "grafana-dashboard.json").read_text())
    names = exported()
    exprs = [t["expr"] for p in dash["panels"] for t in p["targets"]]
    assert len(exprs) >= 6
    for e in exprs:
        for m in METRIC.findall(e):
            assert m in names or m.removesuffix("_bucket") in names, (
                f"dashboard uses {m}, which nothing exports"
            )


def test_every_shipped_alert_is_explained_in_the_runbook() -> None:
    doc = yaml.safe_load((ROOT / "prometheus-rules.yaml").read_text())
    runbook = (ROOT.parents[1] / "docs" / "operations.md").read_text()
    for rule in (r for g in doc["groups"] for r in g["rules"]):
        assert f"| {rule['alert']} |" in runbook, f"{rule['alert']} has no row in docs/operations.md §15"
