"""The Kubernetes manifests of `services/k8s`, checked offline: every built-in resource
against the Kubernetes schemas (kubernetes-validate, strict: no unknown field), the KEDA
ScaledObject against what its scaler reads, and the manifests against each other and the
code (the streams named are the queue's, probes hit real routes, the grace periods fit)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import kubernetes_validate
import pytest
import yaml

from streamq import Settings
from streamq.api.routes import ROUTES
from streamq.keys import PRIORITIES, QueueKeys
from streamq.shards import Layout

K8S = Path(__file__).resolve().parents[2] / "services" / "k8s"
KUBERNETES_VERSION = "1.30.0"


def _documents(name: str) -> list[dict[str, Any]]:
    return [d for d in yaml.safe_load_all((K8S / name).read_text()) if d]


def _all() -> dict[tuple[str, str], dict[str, Any]]:
    docs = [d for path in sorted(K8S.glob("*.yaml")) if path.name != "kustomization.yaml"
            for d in _documents(path.name)]
    return {(d["kind"], d["metadata"]["name"]): d for d in docs}


def _container(deployment: dict[str, Any]) -> dict[str, Any]:
    [container] = deployment["spec"]["template"]["spec"]["containers"]
    return container


def _option(args: list[str], name: str) -> str:
    return args[args.index(name) + 1]


@pytest.mark.parametrize("name", sorted(p.name for p in K8S.glob("*.yaml")
                                        if p.name != "kustomization.yaml"))
def test_built_in_resources_match_the_kubernetes_schemas(name: str) -> None:
    for doc in _documents(name):
        if doc["apiVersion"].startswith("keda.sh/"):
            continue  # a custom resource: checked below
        kubernetes_validate.validate(doc, KUBERNETES_VERSION, strict=True)


def test_the_kustomization_lists_every_manifest() -> None:
    [kustomization] = _documents("kustomization.yaml")
    listed = set(kustomization["resources"])
    on_disk = {p.name for p in K8S.glob("*.yaml")} - {"kustomization.yaml"}
    assert listed == on_disk - {"secret.example.yaml"}


def test_selectors_match_the_pods_they_select() -> None:
    resources = _all()
    api = resources[("Deployment", "streamq-api")]
    worker = resources[("Deployment", "streamq-worker")]
    api_labels = api["spec"]["template"]["metadata"]["labels"]
    worker_labels = worker["spec"]["template"]["metadata"]["labels"]
    assert resources[("Service", "streamq-api")]["spec"]["selector"].items() <= \
        api_labels.items()
    for name, labels in (("streamq-api", api_labels), ("streamq-worker", worker_labels)):
        pdb = resources[("PodDisruptionBudget", name)]
        assert pdb["spec"]["selector"]["matchLabels"].items() <= labels.items()
    assert api_labels != worker_labels


def test_probes_hit_routes_of_the_api() -> None:
    api = _container(_all()[("Deployment", "streamq-api")])
    paths = {route.path for route in ROUTES}
    assert api["readinessProbe"]["httpGet"]["path"] == "/readyz"
    for probe in ("readinessProbe", "livenessProbe"):
        assert api[probe]["httpGet"]["path"] in paths


def test_a_stopping_worker_gets_its_whole_grace_period() -> None:
    resources = _all()
    config = resources[("ConfigMap", "streamq")]["data"]
    settings = Settings(**{k.removeprefix("STREAMQ_").lower(): v for k, v in config.items()})
    worker = resources[("Deployment", "streamq-worker")]["spec"]["template"]["spec"]
    assert settings.grace_period_s >= settings.job_timeout_s
    assert worker["terminationGracePeriodSeconds"] >= settings.grace_period_s + 5


def test_the_scaled_object_sums_the_length_of_every_priority_stream() -> None:
    resources = _all()
    scaled = resources[("ScaledObject", "streamq-worker")]
    worker = resources[("Deployment", "streamq-worker")]
    spec = scaled["spec"]
    assert scaled["apiVersion"] == "keda.sh/v1alpha1"
    assert spec["scaleTargetRef"] == {"name": worker["metadata"]["name"]}
    assert 1 <= spec["minReplicaCount"] <= spec["maxReplicaCount"]
    triggers = {t["name"]: t for t in spec["triggers"]}
    assert set(triggers) == set(PRIORITIES)
    env = {e["name"] for e in _container(worker)["env"]}
    keys = QueueKeys("streamq", "default")
    for priority, trigger in triggers.items():
        metadata = trigger["metadata"]
        assert trigger["type"] == "redis-streams"
        assert all(isinstance(v, str) for v in metadata.values())  # KEDA reads strings
        assert metadata["stream"] == keys.stream(priority)
        assert "streamLength" in metadata and "lagCount" not in metadata
        assert {metadata["addressFromEnv"], metadata["passwordFromEnv"]} <= env
    modifiers = spec["advanced"]["scalingModifiers"]
    assert sorted(t.strip() for t in modifiers["formula"].split("+")) == sorted(PRIORITIES)
    concurrency = _option(_container(worker)["args"], "--concurrency")
    assert modifiers["target"] == concurrency  # one worker per `concurrency` jobs
    assert modifiers["metricType"] in {"AverageValue", "Value"}


def test_the_sharded_example_sums_every_stream_of_every_shard() -> None:
    """`examples/worker-scaledobject-sharded.yaml`, for `default` with 3 shards: one
    `streamLength` trigger per priority stream of each shard, exactly the streams the
    code's shard layout names, all summed by the formula; otherwise like the built-in one."""
    [scaled] = _documents("examples/worker-scaledobject-sharded.yaml")
    built_in = _all()[("ScaledObject", "streamq-worker")]["spec"]
    spec = scaled["spec"]
    assert spec["scaleTargetRef"] == built_in["scaleTargetRef"]
    assert spec["advanced"]["scalingModifiers"]["target"] == \
        built_in["advanced"]["scalingModifiers"]["target"]
    expected = {QueueKeys("streamq", name).stream(p)
                for name in Layout(3).names("default") for p in PRIORITIES}
    triggers = spec["triggers"]
    assert {t["metadata"]["stream"] for t in triggers} == expected
    assert len(triggers) == len(expected) == 9
    for trigger in triggers:
        metadata = trigger["metadata"]
        assert trigger["type"] == "redis-cluster-streams"
        assert all(isinstance(v, str) for v in metadata.values())  # KEDA reads strings
        assert "streamLength" in metadata and "lagCount" not in metadata
        assert metadata["addresses"] and metadata["passwordFromEnv"] == "REDIS_PASSWORD"
    formula = spec["advanced"]["scalingModifiers"]["formula"]
    assert sorted(t.strip() for t in formula.split("+")) == sorted(t["name"] for t in triggers)
