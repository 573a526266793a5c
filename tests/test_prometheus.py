"""Prometheus, for real (Debian's `prometheus` package; .ci/run installs it): promtool checks
the shipped configurations and unit-tests the alert rules, then a Prometheus server scrapes
a running gateway and worker and the job counters read back through its HTTP API must
match what was done."""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import subprocess
import urllib.parse
import urllib.request
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
import yaml

from shared.errors import ErrorCode
from shared.processes import free_port
from tests.conftest import make_settings
from tests.monitoring import (
    PROMETHEUS_DIR,
    dashboard_expressions,
    exported_series,
    load_dashboard,
    referenced_metrics,
    rule_expressions,
    rules,
)
from tests.service_helpers import ROOT, Cluster, ServiceProcess, task, wait_until

TONE_SECONDS = 2.0


def require(tool: str) -> str:
    path = shutil.which(tool)
    if path is None:
        if os.environ.get("CI_REQUIRE_ALL"):
            pytest.fail(f"{tool} (Debian package prometheus) is required in CI")
        pytest.skip(f"{tool} is not installed here (.ci/run installs Debian's prometheus)")
    return path


def promtool(*args: str | Path) -> str:
    done = subprocess.run(
        [require("promtool"), *map(str, args)], capture_output=True, text=True, check=False
    )
    assert done.returncode == 0, done.stdout + done.stderr
    return done.stdout


def test_shipped_configurations_and_rules_pass_promtool() -> None:
    for config in ("prometheus.yml", "prometheus-local.yml"):
        promtool("check", "config", PROMETHEUS_DIR / config)
    promtool("check", "rules", PROMETHEUS_DIR / "alerts.yml")
    # Each alert fires on made-up series that should fire it, and stays quiet otherwise.
    promtool("test", "rules", PROMETHEUS_DIR / "alerts_test.yml")


def test_rules_use_exported_metrics_and_real_error_codes() -> None:
    exported = exported_series()
    for name, expression in rule_expressions().items():
        used = referenced_metrics(expression)
        assert used <= exported, f"{name}: {sorted(used - exported)} are not exported"
        for codes in re.findall(r'error_code!?=~"([^"]+)"', expression):
            assert set(codes.split("|")) <= set(ErrorCode), f"{name}: unknown error codes"


def test_every_alert_has_a_runbook_section() -> None:
    lines = (ROOT / "docs" / "operations.md").read_text().splitlines()
    sections = {line.removeprefix("### ") for line in lines if line.startswith("### ")}
    for rule in rules():
        if "alert" in rule:
            assert rule["alert"] in sections, f"docs/operations.md: no {rule['alert']} section"
            anchor = f"docs/operations.md#{rule['alert'].lower()}"
            assert rule["annotations"]["runbook"] == anchor


def local_scrape_config(gateway_port: int, worker_port: int) -> dict:
    """The local configuration with this test's targets and a 1 s interval: same jobs and
    same rules file as shipped, so the test config cannot drift from it."""
    config = yaml.safe_load((PROMETHEUS_DIR / "prometheus-local.yml").read_text())
    config["global"] = {"scrape_interval": "1s", "evaluation_interval": "1s"}
    config["rule_files"] = [str(PROMETHEUS_DIR / "alerts.yml")]
    ports = {"diarization-gateway": gateway_port, "diarization-worker": worker_port}
    jobs = {job["job_name"]: job for job in config["scrape_configs"]}
    assert jobs.keys() == ports.keys()
    for name, port in ports.items():
        jobs[name]["static_configs"] = [{"targets": [f"127.0.0.1:{port}"]}]
    return config


class PrometheusApi:
    def __init__(self, port: int) -> None:
        self.base = f"http://127.0.0.1:{port}"

    def get(self, path: str, **query: str) -> dict:
        url = f"{self.base}{path}?{urllib.parse.urlencode(query)}"
        with urllib.request.urlopen(url, timeout=5) as reply:
            body = json.load(reply)
        assert body["status"] == "success", body
        return body["data"]

    def ready(self) -> bool:
        try:
            with urllib.request.urlopen(f"{self.base}/-/ready", timeout=2) as reply:
                return reply.status == 200
        except OSError:
            return False

    def value(self, query: str) -> float | None:
        """The value of a query that yields one sample (None: no sample yet)."""
        result = self.get("/api/v1/query", query=query)["result"]
        return float(result[0]["value"][1]) if len(result) == 1 else None


def upload(port: int, audio: Path) -> str:
    reply = subprocess.run(
        ["curl", "-sS", "-F", f"audio_file=@{audio}",
         f"http://127.0.0.1:{port}/api/v1/diarize/upload"],
        capture_output=True, text=True, check=True,
    )  # fmt: skip
    return json.loads(reply.stdout)["task_id"]


def test_prometheus_scrapes_the_service(redis_server, redis_client, tmp_path) -> None:
    binary = require("prometheus")
    gateway_port, worker_port, prometheus_port = free_port(), free_port(), free_port()
    settings = make_settings(
        redis_server, tmp_path / "storage",
        api_host="127.0.0.1", api_port=gateway_port, worker_metrics_port=worker_port,
    )  # fmt: skip
    config = tmp_path / "prometheus.yml"
    config.write_text(yaml.safe_dump(local_scrape_config(gateway_port, worker_port)))
    promtool("check", "config", config)
    tone = tmp_path / "tone.wav"
    samples = int(16000 * TONE_SECONDS)
    sf.write(str(tone), 0.1 * np.sin(np.arange(samples) / 5.0).astype(np.float32), 16000)

    gateway = ServiceProcess(["start"], settings, tmp_path / "gateway.log")
    worker = ServiceProcess(
        ["worker", "--engine-factory", Cluster.ENGINE], settings, tmp_path / "worker.log",
        TEST_ENGINE_SECONDS="0.2",
    )  # fmt: skip
    prometheus = subprocess.Popen(
        [binary, f"--config.file={config}", f"--storage.tsdb.path={tmp_path / 'tsdb'}",
         f"--web.listen-address=127.0.0.1:{prometheus_port}", "--log.level=warn"],
        stdout=(tmp_path / "prometheus.log").open("wb"), stderr=subprocess.STDOUT,
    )  # fmt: skip
    api = PrometheusApi(prometheus_port)
    try:
        wait_until(api.ready, 30, "prometheus to be ready")
        wait_until(lambda: api.value('sum(up{job=~"diarization-.*"})') == 2, 60,
                   "prometheus to scrape the gateway and the worker")  # fmt: skip

        uploaded = [upload(gateway_port, tone) for _ in range(3)]
        keys = Cluster(settings, tmp_path, redis_client).keys
        # A job whose audio is not there fails on the worker (INVALID_JOB).
        broken = redis_client.xadd(keys.jobs, {"audio": "missing.wav"}).decode()

        def ended(task_id: str) -> bool:
            record = task(redis_client, settings, task_id)
            return record is not None and record.status in ("completed", "failed")

        wait_until(lambda: all(map(ended, [*uploaded, broken])), 60, "the jobs to end")
        assert task(redis_client, settings, broken).error_code == "INVALID_JOB"

        expected = {
            "diarization_jobs_submitted_total": 3,
            "diarization_upload_bytes_total": 3 * tone.stat().st_size,
            'diarization_http_requests_total{route="/api/v1/diarize/upload",status="202"}': 3,
            "diarization_jobs_completed_total": 3,
            'diarization_jobs_failed_total{error_code="INVALID_JOB"}': 1,
            "diarization_audio_seconds_processed_total": 3 * TONE_SECONDS,
            "diarization_real_time_factor_count": 3,
            # the queue gauges come from both processes: both must see the empty queue
            "count(diarization_queue_waiting == 0)": 2,
            "count(diarization_workers_alive == 1)": 2,
        }
        for query, value in expected.items():
            wait_until(lambda q=query, v=value: api.value(q) == v, 15, f"{query} == {value}")
        wait_until(lambda: (api.value("diarization:jobs_ended:increase15m") or 0) > 0, 15,
                   "the recording rule of ended jobs")  # fmt: skip
        # Every dashboard query parses and shows data from the live service.
        for where, expression in dashboard_expressions(load_dashboard()).items():
            query = expression.replace("$__range", "5m")  # Grafana fills that one in
            wait_until(lambda q=query: api.get("/api/v1/query", query=q)["result"], 15,
                       f"data for the dashboard's {where}")  # fmt: skip

        def loaded() -> list[dict]:
            groups = api.get("/api/v1/rules")["groups"]
            return [rule for group in groups for rule in group["rules"]]

        assert {rule["name"] for rule in loaded()} == set(rule_expressions())
        wait_until(lambda: all(rule["health"] == "ok" for rule in loaded()), 15,
                   "every rule to be evaluated without error")  # fmt: skip

        # The worker leaves: the gateway reports 0 live workers and the worker's target is
        # down, so both alerts go pending on real metrics (their `for` keeps them there).
        worker.signal(signal.SIGTERM)
        assert worker.process.wait(30) == 0

        def pending() -> set[str]:
            alerts = api.get("/api/v1/alerts")["alerts"]
            return {a["labels"]["alertname"] for a in alerts if a["state"] == "pending"}

        wait_until(lambda: {"DiarizationNoLiveWorkers", "DiarizationTargetDown"} <= pending(),
                   15, "the no-live-workers and target-down alerts to go pending")  # fmt: skip
    except AssertionError:
        print(worker.output()[-3000:], gateway.output()[-3000:])
        print((tmp_path / "prometheus.log").read_text()[-3000:])
        raise
    finally:
        prometheus.terminate()
        prometheus.wait(30)
        worker.stop()
        gateway.stop()
