"""Operational CLI commands that need no running worker."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from shared.redis_client import masked_url
from tests.service_helpers import MAIN, environment

PASSWORD = "pw-Secret-123"


def run_main(settings, tmp_path, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, str(MAIN), *args], cwd=tmp_path, env=environment(settings, **env),
        capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip


@pytest.fixture
def acl_user(redis_client):
    redis_client.execute_command("ACL", "SETUSER", "svc", "on", f">{PASSWORD}", "~*", "&*", "+@all")
    yield "svc"
    redis_client.execute_command("ACL", "DELUSER", "svc")


def test_passwords_are_masked_everywhere(settings, tmp_path, acl_user) -> None:
    secured = settings.model_copy(update={"redis_username": acl_user, "redis_password": PASSWORD})
    for command in (["check-external-service"], ["status", "--json"], ["status"]):
        done = run_main(secured, tmp_path, *command)
        assert done.returncode == 0, done.stdout + done.stderr
        assert PASSWORD not in done.stdout + done.stderr
        assert f"redis://{acl_user}:***@127.0.0.1:{settings.redis_port}/0" in done.stdout
    wrong = settings.model_copy(update={"redis_username": acl_user, "redis_password": "nope-123"})
    failed = run_main(wrong, tmp_path, "check-external-service")
    assert failed.returncode == 1 and "nope-123" not in failed.stdout + failed.stderr


def test_redis_url_wins_and_is_masked(settings, tmp_path, acl_user) -> None:
    url = f"redis://{acl_user}:{PASSWORD}@127.0.0.1:{settings.redis_port}/0"
    done = run_main(settings, tmp_path, "status", "--json", REDIS_URL=url, REDIS_HOST="203.0.113.1")
    report = json.loads(done.stdout)
    assert report["redis"] == "reachable" and report["redis_mode"] == "external"
    assert report["redis_url"] == masked_url(url) and PASSWORD not in done.stdout


def test_init_storage_and_export_openapi(settings, tmp_path) -> None:
    done = run_main(settings, tmp_path, "init-storage")
    assert done.returncode == 0
    assert {p.name for p in settings.storage_base_path.iterdir()} >= {"uploads", "results", "tmp"}
    exported = run_main(settings, tmp_path, "export-openapi", "--output", "openapi.json")
    spec = json.loads((tmp_path / "openapi.json").read_text())
    assert exported.returncode == 0 and spec["openapi"].startswith("3.1")
    assert "/api/v1/diarize/status/{task_id}" in spec["paths"]


def test_status_without_redis_fails_clearly(settings, tmp_path) -> None:
    from shared.processes import free_port

    down = settings.model_copy(update={"redis_port": free_port(), "redis_socket_timeout": 1.0})
    done = run_main(down, tmp_path, "status")
    assert done.returncode == 1 and "unreachable" in done.stdout
