"""The Grafana dashboard and its provisioning: a sane dashboard whose every query uses metrics
the service really exports (read from its registries, so a renamed metric fails here), and
provisioning that points at what docker-compose.yml mounts and runs. That each query returns
data from a live service is checked in test_prometheus.py."""

from __future__ import annotations

import yaml

from tests.monitoring import (
    dashboard_expressions,
    dashboard_panels,
    exported_series,
    load_dashboard,
    referenced_metrics,
)
from tests.service_helpers import ROOT

GRAFANA_DIR = ROOT / "ops" / "grafana"
PANEL_TYPES = {"timeseries", "stat", "bargauge", "gauge", "table", "text", "heatmap"}
GRID_COLUMNS = 24


def test_dashboard_is_a_sane_grafana_dashboard() -> None:
    dashboard = load_dashboard()
    assert dashboard["uid"] and dashboard["title"]
    assert isinstance(dashboard["schemaVersion"], int) and dashboard["schemaVersion"] >= 36
    variables = {variable["name"]: variable for variable in dashboard["templating"]["list"]}
    assert variables["datasource"]["type"] == "datasource"
    assert variables["datasource"]["query"] == "prometheus"

    rows = [panel for panel in dashboard["panels"] if panel["type"] == "row"]
    everything = [*rows, *dashboard_panels(dashboard)]
    ids = [panel["id"] for panel in everything]
    assert len(ids) == len(set(ids)), "panel ids must be unique"
    occupied: dict[tuple[int, int], str] = {}
    for panel in everything:
        grid = panel["gridPos"]
        assert all(isinstance(grid[k], int) for k in ("x", "y", "w", "h")), panel["title"]
        assert grid["w"] > 0 and grid["h"] > 0 and grid["x"] >= 0
        assert grid["x"] + grid["w"] <= GRID_COLUMNS, f"{panel['title']} is off the grid"
        for x in range(grid["x"], grid["x"] + grid["w"]):
            for y in range(grid["y"], grid["y"] + grid["h"]):
                assert (x, y) not in occupied, f"{panel['title']} overlaps {occupied[x, y]}"
                occupied[x, y] = panel["title"]

    for panel in dashboard_panels(dashboard):
        assert panel["type"] in PANEL_TYPES, panel["title"]
        assert panel["datasource"] == {"type": "prometheus", "uid": "${datasource}"}
        assert panel["targets"], f"{panel['title']} has no query"
        ref_ids = [target["refId"] for target in panel["targets"]]
        assert len(ref_ids) == len(set(ref_ids)), f"{panel['title']}: repeated refId"
        assert all(target["expr"].strip() for target in panel["targets"])


def test_dashboard_queries_metrics_the_service_exports() -> None:
    exported = exported_series()
    expressions = dashboard_expressions(load_dashboard())
    for where, expression in expressions.items():
        used = referenced_metrics(expression)
        assert used, f"{where} queries no diarization metric"
        assert used <= exported, f"{where}: {sorted(used - exported)} are not exported"

    used = set().union(*map(referenced_metrics, expressions.values()))
    # what an operator looks at first: backlog, lag, throughput, speed, failures, latency
    for metric in (
        "diarization_queue_waiting",
        "diarization_queue_length",
        "diarization_audio_seconds_processed_total",
        "diarization_real_time_factor_bucket",
        "diarization_jobs_failed_total",
        "diarization_http_request_duration_seconds_bucket",
    ):
        assert metric in used, f"no panel shows {metric}"
    assert any("by (error_code)" in e for e in expressions.values()), "failures by code"


def test_provisioning_matches_compose() -> None:
    compose = yaml.safe_load((ROOT / "docker-compose.yml").read_text())["services"]
    mounts = dict(volume.rsplit(":", 2)[:2] for volume in compose["grafana"]["volumes"])

    assert mounts["./ops/grafana/provisioning"] == "/etc/grafana/provisioning"
    provisioning = GRAFANA_DIR / "provisioning"
    (datasource,) = yaml.safe_load((provisioning / "datasources/prometheus.yml").read_text())[
        "datasources"
    ]
    assert datasource["type"] == "prometheus" and datasource["isDefault"] is True
    assert datasource["url"] == "http://prometheus:9090"
    assert "9090:9090" in compose["prometheus"]["ports"]

    (provider,) = yaml.safe_load((provisioning / "dashboards/diarization.yml").read_text())[
        "providers"
    ]
    assert provider["type"] == "file"
    assert mounts["./ops/grafana/dashboards"] == provider["options"]["path"]
