"""The Kubernetes manifests (deploy/k8s/), checked as far as a machine without a cluster allows: they parse
and are all listed, every command and HUB_* variable is real, the numbers fit the brokers, and the security
set-up is compose's and the local stack's: every container a principal of the catalogue on SASL_SSL with the
mounted CA, its password from its own Secret (generated from the credential store, never a manifest), the
provision Job as the admin over every principal's Secret; the Strimzi example's listeners."""

from __future__ import annotations

import json
from pathlib import Path
from urllib.parse import urlparse

import yaml

from hub.access import catalogue
from hub.cli import main as hub_cli
from hub.settings import Settings
from tests.deploy_tools import (
    DEPLOY,
    env_map,
    holds_secret,
    hub_commands,
    k8s_secret_name,
    load_yaml_docs,
    pod_spec,
    projected_store,
    referenced_secrets,
    settings_of,
)
from tests.ops_tools import command_exists

K8S = {path.name: list(yaml.safe_load_all(path.read_text()))
       for path in sorted((DEPLOY / "k8s").glob("*.yaml"))}
K8S_OBJECTS = [doc for docs in K8S.values() for doc in docs if doc and doc["kind"] != "Kustomization"]
[KUSTOMIZATION] = K8S["kustomization.yaml"]
SETTINGS_ENV = {f"HUB_{name.upper()}" for name in Settings.model_fields}
#: Secrets the operator creates by hand (deploy/k8s/mall.yaml's header), not generated.
OPERATOR_SECRETS = {"hub-mall", "hub-citizen-ref", "hub-delivery", "hub-delivery-api-tokens"}


def kind(k: str) -> list[dict]:
    return [o for o in K8S_OBJECTS if o["kind"] == k]


def containers(obj: dict) -> list[dict]:
    spec = obj["spec"]["template"]["spec"]
    return spec.get("initContainers", []) + spec["containers"]


def k8s_env() -> dict[str, str]:
    [config] = kind("ConfigMap")
    return dict(config["data"])


def k8s_principals() -> list[catalogue.Principal]:
    return catalogue.principals(settings_of(k8s_env()))


def test_k8s_manifests_are_listed_and_well_formed():
    manifests = set(K8S) - {"kustomization.yaml"}
    assert set(KUSTOMIZATION["resources"]) == manifests, "kustomization.yaml must list every manifest"
    for obj in K8S_OBJECTS:
        assert {"apiVersion", "kind", "metadata"} <= set(obj)
        if obj["kind"] != "Namespace":
            assert obj["metadata"]["namespace"] == "banyuwangi-hub"


def test_k8s_commands_and_variables_are_real_and_limits_set():
    env = k8s_env()
    assert set(env) <= SETTINGS_ENV
    settings_of(env)
    workloads = kind("Deployment") + kind("Job") + kind("StatefulSet")
    assert workloads
    for obj in workloads:
        for container in containers(obj):
            argvs = hub_commands(container["command"])
            assert argvs, obj["metadata"]["name"]
            for argv in argvs:
                assert command_exists(hub_cli, argv[1:]) is None, obj["metadata"]["name"]
            assert container["envFrom"] == [{"configMapRef": {"name": "hub-config"}}]
            assert {e["name"] for e in container.get("env", [])} <= SETTINGS_ENV
            limits, requests = container["resources"]["limits"], container["resources"]["requests"]
            assert {"cpu", "memory"} <= set(limits) and {"cpu", "memory"} <= set(requests)


def test_k8s_workers_have_probes_on_the_metrics_port_and_fit_the_partitions():
    env = k8s_env()
    settings = settings_of(env)
    [config] = kind("ConfigMap")
    brokers = int(config["metadata"]["annotations"]["hub.banyuwangikab.go.id/kafka-brokers"])
    assert len(settings.bootstrap_list) == brokers
    assert settings.min_insync_replicas < settings.replication_factor <= brokers
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
    mounted = {m["mountPath"] for m in container["volumeMounts"]}
    assert str(settings.worker_data_dir) in mounted


def test_k8s_every_container_is_a_principal_on_sasl_ssl_with_the_mounted_ca():
    env = k8s_env()
    assert env["HUB_KAFKA_SECURITY_PROTOCOL"] == "SASL_SSL"
    assert env["HUB_KAFKA_SASL_MECHANISM"] == "SCRAM-SHA-512"
    assert {urlparse(env[url]).scheme for url in ("HUB_REGISTRY_URL", "HUB_IDP_URL")} == {"https"}
    ca = Path(env["HUB_KAFKA_CA_FILE"])
    [ca_config] = [g for g in KUSTOMIZATION["configMapGenerator"] if g["name"] == "hub-ca"]
    assert ca_config["files"] == [f"{ca.name}=credentials/{ca.name}"]
    names = {p.name for p in k8s_principals()}
    for obj in kind("Deployment") + kind("Job"):
        volumes = {v["name"]: v for v in pod_spec(obj)["volumes"]}
        for container in containers(obj):
            own = env_map(container)
            user = own["HUB_KAFKA_USERNAME"]["value"]
            assert user in names, (obj["metadata"]["name"], user)
            assert own["HUB_KAFKA_PASSWORD"]["valueFrom"]["secretKeyRef"] == {"name": k8s_secret_name(user),
                                                                               "key": "password"}
            [mount] = [m for m in container["volumeMounts"] if m["mountPath"] == str(ca.parent)]
            assert volumes[mount["name"]]["configMap"]["name"] == "hub-ca" and mount["readOnly"]


def test_k8s_has_no_literal_secrets():
    assert not [key for key in k8s_env() if holds_secret(key)]
    for obj in K8S_OBJECTS:
        assert obj["kind"] != "Secret", "Secrets come from kustomization.yaml's generators, not manifests"
    for obj in kind("Deployment") + kind("Job"):
        for container in containers(obj):
            for entry in container.get("env", []):
                if holds_secret(entry["name"]):
                    assert "value" not in entry and "secretKeyRef" in entry["valueFrom"], entry["name"]
            assert "password" not in json.dumps(container["command"]).lower()


def test_k8s_secrets_come_from_the_credential_store_or_the_operator():
    generated = {g["name"]: g["files"] for g in KUSTOMIZATION["secretGenerator"]}
    assert generated == {k8s_secret_name(p.name): [f"password=credentials/{p.name}.password"]
                         for p in k8s_principals()}
    for obj in kind("Deployment") + kind("Job"):
        assert referenced_secrets(obj) <= set(generated) | OPERATOR_SECRETS, obj["metadata"]["name"]
    assert "credentials/" in (DEPLOY / "k8s" / ".gitignore").read_text().split()


def test_k8s_provision_job_runs_as_the_admin_over_every_principals_secret():
    [job] = [j for j in kind("Job") if j["metadata"]["name"] == "hub-provision"]
    [container] = containers(job)
    assert hub_commands(container["command"]) == [["hub", "topics", "create"], ["hub", "schemas", "register"],
                                                  ["hub", "access", "apply"]]
    own = env_map(container)
    assert own["HUB_KAFKA_USERNAME"]["value"] == catalogue.ADMIN
    store = own["HUB_ACCESS_CREDENTIALS_DIR"]["value"]
    assert {m["mountPath"]: m["readOnly"] for m in container["volumeMounts"]}[store] is True
    expected = {f"{p.name}.password": k8s_secret_name(p.name) for p in k8s_principals() if not p.super_user}
    assert projected_store(job, store) == expected


def test_k8s_simulator_holds_every_source_credential_and_only_those():
    [job] = [j for j in kind("Job") if j["metadata"]["name"] == "village-connector"]
    [container] = containers(job)
    store = env_map(container)["HUB_ACCESS_CREDENTIALS_DIR"]["value"]
    expected = {f"{p.name}.password": k8s_secret_name(p.name) for p in k8s_principals()
                if p.role in ("agency", "desk")}
    assert projected_store(job, store) == expected


def test_strimzi_example_has_only_scram_tls_listeners_and_the_admin_as_super_user():
    docs = {d["kind"]: d for d in load_yaml_docs(DEPLOY / "k8s" / "strimzi" / "kafka.example.yaml")}
    kafka = docs["Kafka"]["spec"]
    for listener in kafka["kafka"]["listeners"]:
        assert listener["tls"] is True and listener["authentication"] == {"type": "scram-sha-512"}, listener
    assert kafka["kafka"]["authorization"] == {"type": "simple", "superUsers": [catalogue.ADMIN]}
    assert kafka["kafka"]["config"]["allow.everyone.if.no.acl.found"] is False
    assert not {"topicOperator", "userOperator"} & set(kafka.get("entityOperator") or {})
    user = docs["KafkaUser"]
    assert user["metadata"]["name"] == catalogue.ADMIN and "authorization" not in user["spec"]
    assert "secretKeyRef" in user["spec"]["authentication"]["password"]["valueFrom"]
    bootstrap = settings_of(k8s_env()).bootstrap_list
    [tls] = [lst for lst in kafka["kafka"]["listeners"] if lst["type"] == "internal"]
    assert {int(server.rsplit(":", 1)[1]) for server in bootstrap} == {tls["port"]}
    pods = f"{docs['Kafka']['metadata']['name']}-{docs['KafkaNodePool']['metadata']['name']}-"
    assert all(server.startswith(pods) for server in bootstrap)
