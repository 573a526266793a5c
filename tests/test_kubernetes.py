"""ops/k8s: every core object validated against the Kubernetes JSON schemas shipped by the
PyPI package kubernetes-validate (strict: unknown fields fail), the KEDA ScaledObject
against what its redis-streams scaler accepts, and the manifests against the service's
own settings, key names and ports."""

from __future__ import annotations

import kubernetes_validate
import pytest
import yaml

from shared.keys import RedisKeys
from shared.settings import Settings
from tests.service_helpers import ROOT

K8S_DIR = ROOT / "ops" / "k8s"
KUBERNETES_VERSION = "1.30"
# Metadata keys of KEDA's redis-streams trigger (keda.sh/docs/latest/scalers/redis-streams).
REDIS_STREAMS_KEYS = {
    "address", "host", "port", "addressFromEnv", "hostFromEnv", "portFromEnv",
    "usernameFromEnv", "passwordFromEnv", "databaseIndex", "enableTLS", "unsafeSsl",
    "stream", "consumerGroup", "pendingEntriesCount", "streamLength", "lagCount",
    "activationLagCount",
}  # fmt: skip


@pytest.fixture(scope="module")
def manifests() -> dict[tuple[str, str], dict]:
    """(kind, name) -> object, of every file kustomization.yaml lists."""
    kustomization = yaml.safe_load((K8S_DIR / "kustomization.yaml").read_text())
    listed = set(kustomization["resources"])
    assert listed == {p.name for p in K8S_DIR.glob("*.yaml")} - {"kustomization.yaml"}
    found = {}
    for name in sorted(listed):
        for document in yaml.safe_load_all((K8S_DIR / name).read_text()):
            key = (document["kind"], document["metadata"]["name"])
            assert key not in found, f"{key} defined twice"
            found[key] = document
    return found


def test_core_objects_match_the_kubernetes_schemas(manifests) -> None:
    validated = set()
    for (kind, name), document in manifests.items():
        if document["apiVersion"].startswith("keda.sh/"):
            continue  # a custom resource: checked below
        try:
            kubernetes_validate.validate(document, KUBERNETES_VERSION, strict=True)
        except kubernetes_validate.ValidationError as error:
            path = ".".join(map(str, error.path))
            pytest.fail(f"{kind}/{name}: {path}: {error.message}")
        validated.add(kind)
    assert validated == {
        "Namespace", "ConfigMap", "Secret", "PersistentVolumeClaim", "Deployment", "Service",
        "PodDisruptionBudget",
    }  # fmt: skip


def environment_keys(manifests) -> set[str]:
    config = manifests["ConfigMap", "diarization-config"]["data"]
    secret = manifests["Secret", "diarization-secrets"]["stringData"]
    return set(config) | set(secret)


def test_configuration_holds_real_settings(manifests) -> None:
    for key in environment_keys(manifests):
        assert key.lower() in Settings.model_fields, f"{key} is no setting of the service"
    for document in manifests.values():
        if document["kind"] != "Deployment":
            continue
        for container in document["spec"]["template"]["spec"]["containers"]:
            for variable in container.get("env", []):
                assert variable["name"].lower() in Settings.model_fields, variable["name"]


def container(manifests, deployment: str) -> dict:
    spec = manifests["Deployment", deployment]["spec"]["template"]["spec"]
    (only,) = spec["containers"]
    return only


def test_gateway_serves_on_its_port_with_health_probes(manifests) -> None:
    config = manifests["ConfigMap", "diarization-config"]["data"]
    gateway = container(manifests, "diarization-gateway")
    (port,) = gateway["ports"]
    assert str(port["containerPort"]) == config["API_PORT"]
    assert gateway["livenessProbe"]["httpGet"] == {"path": "/health", "port": port["name"]}
    assert gateway["readinessProbe"]["httpGet"] == {"path": "/ready", "port": port["name"]}
    service = manifests["Service", "diarization-gateway"]["spec"]
    assert service["ports"][0]["targetPort"] == port["name"]
    labels = manifests["Deployment", "diarization-gateway"]["spec"]["template"]["metadata"]
    assert service["selector"].items() <= labels["labels"].items()


def test_workers_drain_before_they_are_killed(manifests) -> None:
    config = manifests["ConfigMap", "diarization-config"]["data"]
    pod = manifests["Deployment", "diarization-worker"]["spec"]["template"]
    # draining (DRAIN_SECONDS) plus the hand-back grace must fit in the pod's grace period
    assert pod["spec"]["terminationGracePeriodSeconds"] >= float(config["DRAIN_SECONDS"]) + 15
    worker = container(manifests, "diarization-worker")
    (port,) = worker["ports"]
    assert port["name"] == "metrics"
    assert str(port["containerPort"]) == config["WORKER_METRICS_PORT"]
    assert pod["metadata"]["annotations"]["prometheus.io/port"] == config["WORKER_METRICS_PORT"]
    assert worker["livenessProbe"]["httpGet"]["port"] == "metrics"
    resources = worker["resources"]
    assert resources["requests"]["cpu"] and resources["requests"]["memory"]
    assert resources["limits"]["memory"]
    for deployment in ("diarization-gateway", "diarization-worker"):
        spec = manifests["Deployment", deployment]["spec"]["template"]["spec"]
        assert spec["securityContext"]["runAsNonRoot"] is True
        (volume,) = spec["volumes"]
        claim = volume["persistentVolumeClaim"]["claimName"]
        assert "ReadWriteMany" in manifests["PersistentVolumeClaim", claim]["spec"]["accessModes"]


def test_keda_scales_workers_on_the_consumer_group_lag(manifests) -> None:
    scaled = manifests["ScaledObject", "diarization-worker"]
    assert scaled["apiVersion"] == "keda.sh/v1alpha1"
    spec = scaled["spec"]
    target = spec["scaleTargetRef"]
    assert target.get("kind", "Deployment") == "Deployment"
    assert ("Deployment", target["name"]) in manifests
    # the gateway's readiness needs a live worker: never scale to zero
    assert 1 <= spec["minReplicaCount"] < spec["maxReplicaCount"]

    (trigger,) = spec["triggers"]
    assert trigger["type"] == "redis-streams"
    metadata = trigger["metadata"]
    assert set(metadata) <= REDIS_STREAMS_KEYS, set(metadata) - REDIS_STREAMS_KEYS
    assert all(isinstance(value, str) for value in metadata.values()), "KEDA takes strings"
    keys = RedisKeys(Settings(_env_file=None).redis_key_prefix)
    assert metadata["stream"] == keys.jobs and metadata["consumerGroup"] == keys.group
    assert int(metadata["lagCount"]) > 0 and int(metadata["activationLagCount"]) >= 0

    # the *FromEnv variables are read from the scale target's container: they must be there
    worker = container(manifests, target["name"])
    declared = {variable["name"] for variable in worker.get("env", [])}
    for key in ("hostFromEnv", "portFromEnv", "passwordFromEnv"):
        assert metadata[key] in declared, f"{metadata[key]} is not in the worker's env"
