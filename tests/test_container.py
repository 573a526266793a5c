"""docker-compose.yml and the Dockerfile, checked statically (no container engine runs in CI):
the compose file against the Compose Specification's JSON schema (as vendored by the PyPI
package check-jsonschema) plus what the deployment relies on; the Dockerfile parsed with
dockerfile-parse."""

from __future__ import annotations

import fnmatch
import json
import re
import shlex
from importlib import resources

import jsonschema
import pytest
import yaml
from dockerfile_parse import DockerfileParser

from shared.settings import Settings
from tests.monitoring import PROMETHEUS_DIR
from tests.service_helpers import ROOT

MONITORING = {"prometheus", "grafana"}


@pytest.fixture(scope="module")
def compose() -> dict:
    return yaml.safe_load((ROOT / "docker-compose.yml").read_text())


def seconds(duration: str) -> float:
    """A compose duration such as "1m30s" or "60s"."""
    units = {"h": 3600, "m": 60, "s": 1}
    parts = re.findall(r"(\d+(?:\.\d+)?)(h|m|s)", duration)
    assert "".join(n + u for n, u in parts) == duration, f"unexpected duration {duration}"
    return sum(float(number) * units[unit] for number, unit in parts)


def test_compose_file_follows_the_compose_specification(compose) -> None:
    schema_file = resources.files("check_jsonschema.builtin_schemas.vendor") / "compose-spec.json"
    schema = json.loads(schema_file.read_text())
    validator = jsonschema.validators.validator_for(schema)(schema)
    errors = [f"{list(e.absolute_path)}: {e.message}" for e in validator.iter_errors(compose)]
    assert not errors, "\n".join(errors)


def test_compose_runs_a_durable_redis_and_scalable_workers(compose) -> None:
    services = compose["services"]
    redis = services["redis"]
    command = " ".join(redis["command"])
    for option in ("--appendonly yes", "--appendfsync everysec", "--maxmemory-policy noeviction"):
        assert option in command
    assert "healthcheck" in redis and any(v.endswith(":/data") for v in redis["volumes"])

    defaults = Settings(_env_file=None)
    for name in ("gateway", "worker"):
        assert services[name]["depends_on"]["redis"]["condition"] == "service_healthy"
        assert services[name]["environment"]["REDIS_HOST"] == "redis"
    worker = services["worker"]
    # `--scale worker=N`: no fixed host port or container name that replicas would share
    assert "ports" not in worker and "container_name" not in worker
    assert seconds(worker["stop_grace_period"]) > defaults.drain_seconds
    metrics_port = worker["environment"]["WORKER_METRICS_PORT"]
    assert f":{metrics_port}/metrics" in " ".join(worker["healthcheck"]["test"])
    assert f"{defaults.api_port}:{defaults.api_port}" in services["gateway"]["ports"]

    for name, service in services.items():
        monitoring = name in MONITORING
        assert (service.get("profiles") == ["monitoring"]) == monitoring, name
        assert "healthcheck" in service or name == "gateway", f"{name} has no health check"
        for volume in service.get("volumes", []):
            source = volume.split(":")[0]
            if source.startswith("."):
                assert (ROOT / source).exists(), f"{name} mounts missing {source}"


def test_prometheus_scrapes_what_compose_runs(compose) -> None:
    services = compose["services"]
    config = yaml.safe_load((PROMETHEUS_DIR / "prometheus.yml").read_text())
    jobs = {job["job_name"]: job for job in config["scrape_configs"]}
    (gateway,) = jobs["diarization-gateway"]["static_configs"][0]["targets"]
    assert gateway == f"gateway:{Settings(_env_file=None).api_port}"
    (discovery,) = jobs["diarization-worker"]["dns_sd_configs"]
    assert discovery["names"] == ["worker"] and "worker" in services
    assert str(discovery["port"]) == services["worker"]["environment"]["WORKER_METRICS_PORT"]
    assert "./ops/prometheus:/etc/prometheus:ro" in services["prometheus"]["volumes"]


# --- Dockerfile ---------------------------------------------------------------------------
def stages() -> list[list[dict]]:
    """The Dockerfile's instructions, one list per build stage."""
    parsed = DockerfileParser(path=str(ROOT / "Dockerfile"))
    found: list[list[dict]] = []
    for instruction in parsed.structure:
        if instruction["instruction"] == "FROM":
            found.append([])
        if found and instruction["instruction"] != "COMMENT":
            found[-1].append(instruction)
    return found


def values(stage: list[dict], kind: str) -> list[str]:
    return [i["value"] for i in stage if i["instruction"] == kind]


def dockerignored(path: str) -> bool:
    patterns = (ROOT / ".dockerignore").read_text().splitlines()
    patterns = [p.strip() for p in patterns if p.strip() and not p.startswith("#")]
    return any(fnmatch.fnmatch(path, p) or path.startswith(p.rstrip("/") + "/") for p in patterns)


def test_dockerfile_builds_in_two_stages_and_runs_unprivileged() -> None:
    build, runtime = stages()
    assert values(build, "FROM")[0].endswith(" AS build")
    assert values(runtime, "FROM")[0].endswith(" AS runtime")
    assert any("uv sync --frozen" in run for run in values(build, "RUN"))
    build_args = {arg.split("=")[0] for arg in values(build, "ARG")}
    assert {"DOWNLOAD_MODEL", "HUGGINGFACE_TOKEN"} <= build_args
    # the token stays in the build stage: the runtime image neither declares nor stores it
    assert not any("HUGGINGFACE_TOKEN" in i["value"] for i in runtime)

    users = values(runtime, "USER")
    assert users and users[-1].split(":")[0] not in ("root", "0")
    (healthcheck,) = values(runtime, "HEALTHCHECK")
    assert healthcheck.upper() != "NONE" and "/health" in healthcheck
    assert any(v.startswith("--from=build") for v in values(runtime, "COPY"))
    defaults = Settings(_env_file=None)
    ports = {str(defaults.api_port), str(defaults.worker_metrics_port)}
    assert set(values(runtime, "EXPOSE")[0].split()) == ports
    assert json.loads(values(runtime, "CMD")[0])[:2] == ["python", "main.py"]


def test_every_copy_source_is_in_the_build_context() -> None:
    copied = []
    for stage in stages():
        for value in values(stage, "COPY"):
            words = [w for w in shlex.split(value) if not w.startswith("--")]
            if value.startswith("--from") or " --from=" in value:
                continue  # copied from another stage or image, not from the repository
            copied.extend(words[:-1])
    assert copied
    for source in copied:
        assert list(ROOT.glob(source)), f"COPY {source}: not in the repository"
        assert not dockerignored(source), f"COPY {source}: excluded by .dockerignore"
    assert dockerignored(".venv") and dockerignored(".env")
