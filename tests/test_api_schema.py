"""Schemathesis against the gateway's own OpenAPI description, run as its CLI against a
real gateway and worker: generated requests (valid and invalid, single and chained
through the upload's links) never get a 5xx, and every response matches the schema.

`positive_data_acceptance` is left out: the schema can say "binary", not "decodable
audio", so a schema-valid upload of random bytes is rightly refused (415)."""

from __future__ import annotations

import subprocess
import sys
import urllib.request

import redis

from shared.processes import free_port
from tests.conftest import make_settings
from tests.service_helpers import Cluster, ServiceProcess, wait_until

SEED = "20261124"  # fixed: a CI failure can be replayed exactly


def _answers(url: str) -> bool:
    try:
        return urllib.request.urlopen(url, timeout=1).status == 200
    except OSError:
        return False


def test_schemathesis_finds_nothing(redis_server, tmp_path) -> None:
    settings = make_settings(redis_server, tmp_path / "storage", api_port=free_port())
    client = redis.Redis(host=redis_server.host, port=redis_server.port)
    cluster = Cluster(settings, tmp_path, client, TEST_ENGINE_SECONDS="0.1")
    cluster.start(1)  # so that /ready is 200, as in a healthy deployment
    gateway = ServiceProcess(["start"], settings, tmp_path / "gateway.log")
    url = f"http://127.0.0.1:{settings.api_port}"
    try:
        wait_until(lambda: _answers(f"{url}/ready"), 60, "a ready gateway")
        done = subprocess.run(
            [sys.executable, "-m", "schemathesis.cli", "run", f"{url}/openapi.json",
             "--checks", "all", "--exclude-checks", "positive_data_acceptance",
             "--max-examples", "60", "--seed", SEED],
            capture_output=True, text=True, timeout=600, check=False,
        )  # fmt: skip
    finally:
        gateway.stop()
        cluster.stop()
    assert done.returncode == 0, done.stdout[-6000:] + gateway.output()[-3000:]
    assert "Tested: 10" in done.stdout
