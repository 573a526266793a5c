"""What the monitoring files (ops/prometheus, ops/grafana) query, and what the service really
exports, read from the gateway's and the worker's own registries: a metric renamed in the
code breaks the tests of the dashboard and the alert rules."""

from __future__ import annotations

import json
import re

import yaml

from consumer.metrics import WorkerMetrics
from producer.metrics import GatewayMetrics
from shared.taskstore import QueueStats
from tests.service_helpers import ROOT

PROMETHEUS_DIR = ROOT / "ops" / "prometheus"
DASHBOARD = ROOT / "ops" / "grafana" / "dashboards" / "diarization.json"

# Series names Prometheus stores for each kind of metric family (prometheus_client names a
# counter family without its _total suffix).
_SERIES_SUFFIXES = {
    "counter": ("_total",),
    "gauge": ("",),
    "histogram": ("_bucket", "_count", "_sum"),
    "summary": ("", "_count", "_sum"),
}
_METRIC = re.compile(r"\bdiarization_[a-z0-9_]+\b")


def exported_series() -> set[str]:
    """Every series name the gateway and a worker export."""
    names: set[str] = set()
    for metrics in (GatewayMetrics(), WorkerMetrics()):
        # the queue gauges appear once a process has read the queue: give them figures
        metrics.queue.latest = QueueStats(0, 0, 0, 0, 0, 0)
        for family in metrics.registry.collect():
            names.update(family.name + suffix for suffix in _SERIES_SUFFIXES[family.type])
    return names


def referenced_metrics(expression: str) -> set[str]:
    return set(_METRIC.findall(expression))


def rules() -> list[dict]:
    """Every alerting and recording rule of alerts.yml."""
    groups = yaml.safe_load((PROMETHEUS_DIR / "alerts.yml").read_text())["groups"]
    return [rule for group in groups for rule in group["rules"]]


def rule_expressions() -> dict[str, str]:
    """Alert or record name -> expression."""
    return {rule.get("alert") or rule["record"]: rule["expr"] for rule in rules()}


def load_dashboard() -> dict:
    return json.loads(DASHBOARD.read_text())


def dashboard_panels(dashboard: dict) -> list[dict]:
    """Every panel, also those nested in collapsed rows; rows themselves left out."""
    panels = []
    for panel in dashboard["panels"]:
        if panel["type"] == "row":
            panels.extend(panel.get("panels", []))
        else:
            panels.append(panel)
    return panels


def dashboard_expressions(dashboard: dict) -> dict[str, str]:
    """'panel title / refId' -> PromQL expression of every target."""
    return {
        f"{panel['title']} / {target['refId']}": target["expr"]
        for panel in dashboard_panels(dashboard)
        for target in panel["targets"]
    }
