"""The Grafana dashboard: every panel queries metrics the hub really exports."""

from __future__ import annotations

import json
import re
from pathlib import Path

import hub.metrics  # noqa: F401 - registers the catalogue of collectors
from hub.settings import REPO_ROOT
from tests.ops_tools import exported_sample_names, promql_metric_names, unknown_metrics

DASHBOARDS = sorted((REPO_ROOT / "deploy" / "grafana" / "dashboards").glob("*.json"))


def panel_exprs(path: Path) -> list[tuple[str, str]]:
    dashboard = json.loads(path.read_text())
    found = []
    for panel in dashboard["panels"]:
        for inner in [panel, *panel.get("panels", [])]:
            for target in inner.get("targets", []):
                found.append((inner["title"], target["expr"]))
    for variable in dashboard.get("templating", {}).get("list", []):
        if variable.get("type") == "query":
            query = variable["query"]
            query = query if isinstance(query, str) else query["query"]
            # Grafana's label_values(metric, label): the metric is the series selector
            query = re.sub(r"label_values\((.+),\s*\w+\)$", r"\1", query.strip())
            found.append((f"variable {variable['name']}", query))
    return found


def test_there_is_a_dashboard_covering_throughput_latency_lag_dead_letters_and_sla():
    assert DASHBOARDS, "no dashboard in deploy/grafana/dashboards"
    used = set().union(*(promql_metric_names(e) for path in DASHBOARDS for _, e in panel_exprs(path)))
    for needed in ("hub_events_routed_total", "hub_end_to_end_latency_seconds_bucket", "hub_consumer_lag",
                   "hub_dead_letters_total", "hub_sla_events_total", "hub_events_in_total",
                   "hub_open_requests",
                   "hub_connector_outbox_oldest_age_seconds", "hub_processing_seconds_bucket"):
        assert needed in used, f"no panel shows {needed}"


def test_every_panel_queries_an_exported_metric():
    exported = exported_sample_names()
    for path in DASHBOARDS:
        exprs = panel_exprs(path)
        assert all(promql_metric_names(e) for _, e in exprs), "a target selects no metric at all"
        assert unknown_metrics([e for _, e in exprs], exported) == {}, path.name


def test_the_check_can_fail():
    exported = exported_sample_names()
    assert unknown_metrics(['sum(rate(hub_events_in[5m]))'], exported)  # counter without _total
    assert unknown_metrics(['histogram_quantile(0.9, rate(hub_processing_seconds[5m]))'], exported)
    assert unknown_metrics(['rate(hub_no_such_thing_total{agency="$agency"}[$__rate_interval])'], exported)
    assert not unknown_metrics(['sum by (le) (rate(hub_processing_seconds_bucket{stage=~"$s"}[1m]))'],
                               exported)


def test_promql_names_are_read_correctly():
    assert promql_metric_names(
        'histogram_quantile(0.95, sum by (le, stage) (rate(hub_processing_seconds_bucket{stage="x"}[5m])))'
    ) == {"hub_processing_seconds_bucket"}
    assert promql_metric_names("sum(a_total) / on(job) group_left(instance) b offset 5m > bool 3") == \
        {"a_total", "b"}
    assert promql_metric_names('count(up{job=~"hub-.*"} == 1) < 2') == {"up"}
