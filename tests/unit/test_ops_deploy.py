"""The deployment files, checked as far as a machine without Docker or Kubernetes allows: they parse,
every command is a real `hub` command, every HUB_* variable is a real setting, and the Kafka numbers
are consistent (replication <= brokers, min.insync < replication, partitions >= worker replicas)."""

from __future__ import annotations

import re

import pytest
import yaml

from hub.cli import main as hub_cli
from hub.settings import REPO_ROOT, Settings
from tests.ops_tools import command_exists

DEPLOY = REPO_ROOT / "deploy"
COMPOSE = yaml.safe_load((DEPLOY / "compose.yaml").read_text())
SERVICES = COMPOSE["services"]
K8S = {path.name: list(yaml.safe_load_all(path.read_text())) for path in sorted((DEPLOY / "k8s").glob("*.yaml"))}
K8S_OBJECTS = [doc for docs in K8S.values() for doc in docs if doc and doc["kind"] != "Kustomization"]
SETTINGS_ENV = {f"HUB_{name.upper()}" for name in Settings.model_fields}


def kind(k: str) -> list[dict]:
    return [o for o in K8S_OBJECTS if o["kind"] == k]


def containers(obj: dict) -> list[dict]:
    spec = obj["spec"]["template"]["spec"]
    return spec.get("initContainers", []) + spec["containers"]


def hub_services() -> dict[str, dict]:
    return {name: s for name, s in SERVICES.items() if (s.get("command") or [""])[0] == "hub"}


def worker_services() -> dict[str, dict]:
    return {name: s for name, s in hub_services().items() if s["command"][:2] == ["hub", "worker"]}


def compose_env(service: dict) -> dict[str, str]:
    return {k: str(v) for k, v in (service.get("environment") or {}).items()}


def k8s_env() -> dict[str, str]:
    [config] = kind("ConfigMap")
    return dict(config["data"])


# -- compose ---------------------------------------------------------------------------------------
def test_compose_has_the_whole_stack():
    kafka = {n: s for n, s in SERVICES.items() if s["image"].startswith("apache/kafka:")}
    assert len(kafka) == 3
    ids = {str(s["environment"]["KAFKA_NODE_ID"]) for s in kafka.values()}
    assert ids == {"1", "2", "3"}
    for name, service in kafka.items():
        env = service["environment"]
        assert "controller" in env["KAFKA_PROCESS_ROLES"] and "ZOOKEEPER" not in str(env).upper()  # KRaft
        voters = env["KAFKA_CONTROLLER_QUORUM_VOTERS"].split(",")
        assert sorted(v.split("@")[1].split(":")[0] for v in voters) == sorted(kafka)
        assert env["KAFKA_ADVERTISED_LISTENERS"] == f"PLAINTEXT://{name}:9092"
    registry = SERVICES["registry"]
    assert registry["image"].startswith("apicurio/apicurio-registry:3.")
    assert registry["environment"]["APICURIO_STORAGE_KIND"] == "kafkasql"
    assert len(worker_services()) == 2
    assert any(s["command"][:2] == ["hub", "simulate"] for s in hub_services().values())  # a connector
    assert SERVICES["prometheus"]["image"].startswith("prom/prometheus:")
    assert SERVICES["grafana"]["image"].startswith("grafana/grafana:")


def test_compose_commands_and_variables_are_real():
    assert hub_services()
    for name, service in hub_services().items():
        assert command_exists(hub_cli, service["command"][1:]) is None, name
        env = compose_env(service)
        assert set(k for k in env if k.startswith("HUB_")) <= SETTINGS_ENV, name
        Settings(**{k[4:].lower(): v for k, v in env.items() if k.startswith("HUB_")})  # values validate


def test_compose_kafka_numbers_are_consistent():
    brokers = [s for s in SERVICES.values() if s["image"].startswith("apache/kafka:")]
    bootstrap = {f"{s['hostname']}:9092" for s in brokers}
    for name, service in hub_services().items():
        settings = Settings(**{k[4:].lower(): v for k, v in compose_env(service).items() if k.startswith("HUB_")})
        assert set(settings.bootstrap_list) == bootstrap, name
        assert settings.replication_factor <= len(brokers)
        assert settings.min_insync_replicas < settings.replication_factor
        assert settings.topic_partitions >= len(worker_services())
    for broker in brokers:
        env = broker["environment"]
        assert int(env["KAFKA_MIN_INSYNC_REPLICAS"]) < int(env["KAFKA_DEFAULT_REPLICATION_FACTOR"]) <= len(brokers)
        assert int(env["KAFKA_OFFSETS_TOPIC_REPLICATION_FACTOR"]) <= len(brokers)


def test_compose_prometheus_scrapes_every_hub_process_and_loads_the_alerts():
    config = yaml.safe_load((DEPLOY / "prometheus" / "prometheus.yml").read_text())
    targets = {t for job in config["scrape_configs"] for sc in job["static_configs"] for t in sc["targets"]}
    workers = {f"{name}:{compose_env(s)['HUB_METRICS_PORT']}" for name, s in worker_services().items()}
    assert workers <= targets
    for target in targets:
        assert target.split(":")[0] in SERVICES
    mounts = SERVICES["prometheus"]["volumes"]
    assert "./prometheus/alerts.yml:/etc/prometheus/alerts.yml:ro" in mounts
    assert config["rule_files"] == ["/etc/prometheus/alerts.yml"]
    for mount in mounts + SERVICES["grafana"]["volumes"]:
        source = mount.split(":")[0]
        if source.startswith("./"):
            assert (DEPLOY / source).exists(), mount
    provider = yaml.safe_load((DEPLOY / "grafana/provisioning/dashboards/hub.yml").read_text())
    assert provider["providers"][0]["options"]["path"] == "/var/lib/grafana/dashboards"
    assert any(m.endswith(":/var/lib/grafana/dashboards:ro") for m in SERVICES["grafana"]["volumes"])


def test_the_image_builds_from_files_that_exist():
    dockerfile = (DEPLOY / "hub.Dockerfile").read_text()
    for source in re.findall(r"^COPY (.+) \S+$", dockerfile, re.M):
        for item in source.split():
            assert (REPO_ROOT / item).exists(), item
    cmd = re.search(r'^CMD \[(.+)\]$', dockerfile, re.M).group(1)
    assert command_exists(hub_cli, [a.strip(' "') for a in cmd.split(",")][1:]) is None
    build = SERVICES["hub-worker-1"]["build"]
    assert (DEPLOY / build["context"] / build["dockerfile"]).resolve() == (DEPLOY / "hub.Dockerfile").resolve()


# -- kubernetes ------------------------------------------------------------------------------------
def test_k8s_manifests_are_listed_and_well_formed():
    [kustomization] = K8S["kustomization.yaml"]
    manifests = set(K8S) - {"kustomization.yaml"}
    assert set(kustomization["resources"]) == manifests, "kustomization.yaml must list every manifest"
    for obj in K8S_OBJECTS:
        assert {"apiVersion", "kind", "metadata"} <= set(obj)
        if obj["kind"] != "Namespace":
            assert obj["metadata"]["namespace"] == "banyuwangi-hub"


def test_k8s_commands_and_variables_are_real_and_limits_set():
    env = k8s_env()
    assert set(env) <= SETTINGS_ENV
    Settings(**{k[4:].lower(): v for k, v in env.items()})
    workloads = kind("Deployment") + kind("Job") + kind("StatefulSet")
    assert workloads
    for obj in workloads:
        for container in containers(obj):
            assert command_exists(hub_cli, container["command"][1:]) is None, obj["metadata"]["name"]
            assert container["envFrom"] == [{"configMapRef": {"name": "hub-config"}}]
            assert {e["name"] for e in container.get("env", [])} <= SETTINGS_ENV
            limits, requests = container["resources"]["limits"], container["resources"]["requests"]
            assert {"cpu", "memory"} <= set(limits) and {"cpu", "memory"} <= set(requests)


def test_k8s_workers_have_probes_on_the_metrics_port_and_fit_the_partitions():
    env = k8s_env()
    settings = Settings(**{k[4:].lower(): v for k, v in env.items()})
    [config] = kind("ConfigMap")
    brokers = int(config["metadata"]["annotations"]["hub.banyuwangikab.go.id/kafka-brokers"])
    assert len(settings.bootstrap_list) == brokers
    assert settings.replication_factor <= brokers and settings.min_insync_replicas < settings.replication_factor
    workers = [d for d in kind("Deployment") if containers(d)[0]["command"][:2] == ["hub", "worker"]]
    assert len(workers) == 1
    [worker] = workers
    assert 2 <= worker["spec"]["replicas"] <= settings.topic_partitions
    [container] = containers(worker)
    ports = {p["name"]: p["containerPort"] for p in container["ports"]}
    assert ports["metrics"] == settings.metrics_port
    assert container["livenessProbe"]["httpGet"] == {"path": "/healthz", "port": "metrics"}
    assert container["readinessProbe"]["httpGet"] == {"path": "/readyz", "port": "metrics"}
    annotations = worker["spec"]["template"]["metadata"]["annotations"]
    assert annotations["prometheus.io/port"] == str(settings.metrics_port)
    mounts = {m["mountPath"] for m in container["volumeMounts"]}
    assert str(settings.worker_data_dir) in mounts


@pytest.mark.parametrize("argv, problem", [(["wroker"], "does not exist"), (["topics"], "is a group"),
                                           (["publish", "--cuont", "5"], "No such option")])
def test_the_command_check_can_fail(argv, problem):
    assert problem in (command_exists(hub_cli, argv) or "")
