"""The sample Grafana dashboard and the alerting rules in docs/monitoring/ read only metrics we emit: every
``songtrack_*`` name in their expressions is in docs/metrics.md's table, which tests/http_api/ops checks
against a real scrape. Both files parse, and each rule has what Prometheus needs."""

from __future__ import annotations

import json
import re
from pathlib import Path

import yaml

DOCS = Path(__file__).parents[2] / "docs"
_NAME = re.compile(r"\bsongtrack_[a-z_]+")
_SERIES_SUFFIXES = ("_bucket", "_sum", "_count")  # a histogram's series in PromQL


def _documented() -> set[str]:
    table = (DOCS / "metrics.md").read_text()
    return set(re.findall(r"^\| `(songtrack_[a-z_]+)`", table, flags=re.MULTILINE))


def _metrics(expression: str) -> set[str]:
    names = set()
    for name in _NAME.findall(expression):
        for suffix in _SERIES_SUFFIXES:
            if name.endswith(suffix) and name.removesuffix(suffix) in _documented():
                name = name.removesuffix(suffix)
        names.add(name)
    return names


def test_the_alerting_rules_read_documented_metrics_and_are_complete() -> None:
    rules = [rule for group in yaml.safe_load((DOCS / "monitoring" / "alerts.yml").read_text())["groups"]
             for rule in group["rules"]]
    assert len(rules) >= 8
    used: set[str] = set()
    for rule in rules:
        assert {"alert", "expr", "labels", "annotations"} <= set(rule), rule
        assert rule["labels"]["severity"] in ("page", "ticket") and rule["annotations"]["summary"]
        used |= _metrics(rule["expr"])
    assert used and used <= _documented(), used - _documented()


def test_the_dashboard_reads_documented_metrics_only() -> None:
    dashboard = json.loads((DOCS / "monitoring" / "grafana-dashboard.json").read_text())
    expressions = [target["expr"] for panel in dashboard["panels"] for target in panel["targets"]]
    used = set().union(*(_metrics(e) for e in expressions))
    assert used <= _documented(), used - _documented()
    assert len(used) >= 12  # nearly every metric has a panel
    ids = [panel["id"] for panel in dashboard["panels"]]
    assert len(ids) == len(set(ids))
