"""The Redis ACL user of ops/redis/users.acl (what docs/operations.md tells an external Redis
to create) allows everything the service does, against the test valkey-server: uploads,
jobs, a crashed worker's job reclaimed and dead-lettered, cancel, delete, and the
operational commands. A missing command shows up as NOPERM in a log or a failed step."""

from __future__ import annotations

import json
import secrets
import subprocess
import sys
import urllib.request

import numpy as np
import pytest
import soundfile as sf

from shared.processes import free_port
from shared.redis_client import sync_client
from tests.conftest import make_settings
from tests.service_helpers import (
    MAIN,
    ROOT,
    Cluster,
    ServiceProcess,
    environment,
    task,
    wait_until,
)

ACL_FILE = ROOT / "ops" / "redis" / "users.acl"


def acl_rules(prefix: str, password: str) -> list[str]:
    """The shipped rules with this deployment's key prefix, enabled with a password."""
    (line,) = [line for line in ACL_FILE.read_text().splitlines() if line.strip()]
    words = line.split()
    assert words[:2] == ["user", "diarization"] and "~diarization:*" in words
    rules = [f"~{prefix}:*" if word == "~diarization:*" else word for word in words[2:]]
    return ["reset", *rules, "on", f">{password}"]


@pytest.fixture
def restricted(redis_server, redis_client, tmp_path):
    """Settings that log in as a fresh user holding exactly the shipped ACL rules."""
    user, password = f"acl-{secrets.token_hex(4)}", secrets.token_hex(16)
    settings = make_settings(
        redis_server, tmp_path / "storage", redis_username=user, redis_password=password,
        api_host="127.0.0.1", api_port=free_port(), lease_seconds=2.0, max_deliveries=1,
    )  # fmt: skip
    redis_client.execute_command("ACL", "SETUSER", user, *acl_rules(settings.redis_key_prefix,
                                                                     password))  # fmt: skip
    yield settings
    redis_client.execute_command("ACL", "DELUSER", user)


def http(method: str, url: str) -> tuple[int, dict]:
    request = urllib.request.Request(url, method=method)
    try:
        with urllib.request.urlopen(request, timeout=10) as reply:
            return reply.status, json.load(reply)
    except urllib.error.HTTPError as error:
        return error.code, json.load(error)


def test_the_acl_user_can_run_the_service(restricted, redis_client, tmp_path) -> None:
    settings = restricted
    base = f"http://127.0.0.1:{settings.api_port}"
    for name in ("crash.wav", "ok.wav", "slow.wav"):
        sf.write(str(tmp_path / name), 0.1 * np.sin(np.arange(16000) / 5.0), 16000)
    cluster = Cluster(settings, tmp_path, redis_client, TEST_ENGINE_SECONDS="1",
                      TEST_ENGINE_CRASH_ON="crash")  # fmt: skip
    gateway = ServiceProcess(["start"], settings, tmp_path / "gateway.log")

    def upload(name: str) -> str:
        form = f"audio_file=@{tmp_path / name}"
        reply = subprocess.run(
            ["curl", "-sS", "-F", form, f"{base}/api/v1/diarize/upload"],
            capture_output=True, text=True, check=True,
        )  # fmt: skip
        return json.loads(reply.stdout)["task_id"]

    def status(task_id: str) -> str | None:
        record = task(redis_client, settings, task_id)
        return record.status if record else None

    try:
        cluster.start(2)
        wait_until(lambda: http("GET", f"{base}/ready")[0] == 200, 30, "the gateway")

        # kills the worker that runs it; the other one reclaims it and, past
        # MAX_DELIVERIES=1, moves it to the dead letters
        crashing = upload("crash.wav")
        wait_until(lambda: status(crashing) == "failed", 60, "the crashing job to fail")
        assert task(redis_client, settings, crashing).error_code == "MAX_DELIVERIES_EXCEEDED"
        assert redis_client.xlen(cluster.keys.dead_letters) == 1

        done = upload("ok.wav")
        wait_until(lambda: status(done) == "completed", 30, "a job to complete")
        assert http("GET", f"{base}/api/v1/diarize/status/{done}")[1]["status"] == "completed"

        cancelled = upload("slow.wav")
        assert http("DELETE", f"{base}/api/v1/diarize/{cancelled}")[0] in (200, 202)
        wait_until(lambda: status(cancelled) == "cancelled", 30, "the cancel")
        assert http("DELETE", f"{base}/api/v1/diarize/{done}")[0] == 200
        assert status(done) is None

        # what check-external-service asks Redis (the command as a whole also loads pyannote
        # to report on the model, which takes long and needs nothing from Redis)
        client = sync_client(settings)
        assert client.info("server") and client.config_get("maxmemory-policy")
        client.close()
        env = environment(settings)
        for command in (["status", "--json"], ["clear-tasks"]):
            ran = subprocess.run(
                [sys.executable, str(MAIN), *command], env=env, cwd=tmp_path,
                capture_output=True, text=True, timeout=120, check=False,
            )  # fmt: skip
            assert ran.returncode == 0, f"{command}: {ran.stdout}{ran.stderr}"
            assert "NOPERM" not in ran.stdout + ran.stderr
    finally:
        cluster.stop()
        gateway.stop()
    logs = cluster.logs() + gateway.output()
    assert "NOPERM" not in logs and "no permissions" not in logs.lower(), logs
