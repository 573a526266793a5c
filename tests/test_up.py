"""`main.py up` on a fresh folder with no Redis configured: the README's curl sequence, the
operational commands against it, and a clean stop of all three processes."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from shared.processes import free_port
from tests.service_helpers import MAIN, wait_until


def curl(*args: str) -> str:
    return subprocess.run(["curl", "-sS", *args], capture_output=True, text=True, check=True).stdout


def listening(port: int) -> bool:
    with socket.socket() as probe:
        return probe.connect_ex(("127.0.0.1", port)) == 0


@pytest.fixture(scope="module")
def service(tmp_path_factory):
    folder = tmp_path_factory.mktemp("up")
    ports = {"API_PORT": free_port(), "REDIS_PORT": free_port(), "WORKER_METRICS_PORT": free_port()}
    env = {k: v for k, v in os.environ.items() if not k.startswith(("REDIS_", "API_"))}
    env.update({key: str(value) for key, value in ports.items()})
    env.update(STORAGE_BASE_PATH=str(folder / "storage"), MODEL_PATH=str(folder / "models"))
    log = (folder / "up.log").open("wb")
    process = subprocess.Popen(
        [sys.executable, str(MAIN), "up"], cwd=folder, env=env, stdout=log, stderr=subprocess.STDOUT
    )
    base = f"http://127.0.0.1:{ports['API_PORT']}"
    try:
        wait_until(lambda: _ready(base), 180, "the service to be ready")
        yield base, ports, env, folder, process
    finally:
        if process.poll() is None:
            process.kill()
        log.close()


def _ready(base: str) -> bool:
    done = subprocess.run(["curl", "-s", "-o", "/dev/null", "-w", "%{http_code}", f"{base}/ready"],
                          capture_output=True, text=True, check=False)  # fmt: skip
    return done.stdout == "200"


def test_readme_curl_sequence(service, sample_wav) -> None:
    base, ports, _, folder, _ = service
    queued = json.loads(curl("-F", f"audio_file=@{sample_wav}", f"{base}/api/v1/diarize/upload"))
    assert queued["status"] == "queued"
    task_id = queued["task_id"]

    def finished() -> dict | None:
        status = json.loads(curl(f"{base}/api/v1/diarize/status/{task_id}"))
        return status if status["status"] in ("completed", "failed") else None

    status = wait_until(finished, 300, "the task to finish")
    assert status["status"] == "completed" and status["metadata"]["num_speakers"] == 2
    curl("-o", str(folder / "result.zip"), f"{base}/api/v1/diarize/download/{task_id}")
    listing = subprocess.run(
        ["unzip", "-l", str(folder / "result.zip")], capture_output=True, text=True, check=True
    ).stdout
    assert "speaker_0/segment_001.wav" in listing and "speaker_1.wav" in listing

    gateway_metrics = curl(f"{base}/metrics")
    assert "diarization_jobs_submitted_total 1.0" in gateway_metrics
    worker_metrics = curl(f"http://127.0.0.1:{ports['WORKER_METRICS_PORT']}/metrics")
    assert "diarization_jobs_completed_total 1.0" in worker_metrics
    assert "diarization_audio_seconds_processed_total 30.0" in worker_metrics


def run_main(env: dict[str, str], folder: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, str(MAIN), *args], cwd=folder, env=env,
                          capture_output=True, text=True, timeout=300, check=False)  # fmt: skip


def test_operational_commands(service) -> None:
    base, _, env, folder, _ = service
    status = run_main(env, folder, "status", "--json")
    assert status.returncode == 0, status.stderr
    report = json.loads(status.stdout)
    assert report["redis"] == "reachable" and report["redis_mode"] == "embedded"
    assert report["workers_alive"] == 1 and "bundled" in report["engines"][0]

    checked = run_main(env, folder, "check-service", "--url", base)
    assert checked.returncode == 0, checked.stdout + checked.stderr
    assert "completed: 2 speaker(s)" in checked.stdout

    cleared = run_main(env, folder, "clear-tasks")
    assert cleared.returncode == 0 and "removed 2 task(s)" in cleared.stdout
    assert not list((folder / "storage" / "uploads").iterdir())


def test_sigterm_stops_everything(service) -> None:
    _, ports, _, _, process = service
    process.send_signal(signal.SIGTERM)
    assert process.wait(90) == 0
    time.sleep(0.5)
    assert not any(listening(port) for port in ports.values())
