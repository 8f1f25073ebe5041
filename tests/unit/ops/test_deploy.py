"""The compose file, checked as far as a machine without Docker allows: it parses, every command is a real
`hub` command, every HUB_* variable is a real setting, the Kafka numbers are consistent (replication <=
brokers, min.insync < replication, partitions >= worker replicas), and the security set-up is the local
stack's (hub/dev/kafka_node.py, hub/dev/idp.py): no plaintext listener, every hub process on SASL_SSL with a
CA file as a principal of the catalogue, its password from a secret file and never from the file itself, the
provisioning as the admin. The Kubernetes manifests: test_deploy_k8s.py."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
from pathlib import Path
from urllib.parse import urlparse

import pytest
import yaml

from hub.access import catalogue
from hub.cli import main as hub_cli
from hub.dev import idp
from hub.dev.kafka_node import KafkaNode, server_properties
from hub.dev.pki import TRUSTSTORE_PASSWORD, DevPki
from hub.settings import REPO_ROOT, Settings
from tests.deploy_tools import (
    DEPLOY,
    HUB_SECRETS,
    compose_value,
    holds_secret,
    hub_commands,
    kafka_properties,
    option_values,
    parse_properties,
    settings_of,
)
from tests.ops_tools import command_exists

COMPOSE_TEXT = (DEPLOY / "compose.yaml").read_text()
COMPOSE = yaml.safe_load(COMPOSE_TEXT)
SERVICES = COMPOSE["services"]
SETTINGS_ENV = {f"HUB_{name.upper()}" for name in Settings.model_fields}


def hub_services() -> dict[str, dict]:
    return {name: s for name, s in SERVICES.items() if hub_commands(s.get("command"))}


def client_services() -> dict[str, dict]:
    """Hub processes that talk to Kafka (every hub service but the `hub dev pki` step)."""
    return {name: s for name, s in hub_services().items()
            if hub_commands(s["command"])[0][:2] != ["hub", "dev"]}


def worker_services() -> dict[str, dict]:
    return {name: s for name, s in hub_services().items() if s["command"][:2] == ["hub", "worker"]}


def compose_env(service: dict) -> dict[str, str]:
    return {k: compose_value(v) for k, v in (service.get("environment") or {}).items()}


def kafka_services() -> dict[str, dict]:
    return {n: s for n, s in SERVICES.items() if s.get("image", "").startswith("apache/kafka:")}


def secret_file(service: dict, path: str) -> str:
    """The host file behind ``path`` (``/run/secrets/<name>``) if ``service`` mounts that compose secret."""
    name = path.removeprefix("/run/secrets/")
    assert path.startswith("/run/secrets/"), path
    assert name in service.get("secrets", []), (path, service.get("secrets"))
    return COMPOSE["secrets"][name]["file"]


def mounts(service: dict) -> dict[str, str]:
    """``{container path: source}`` of a service's volumes."""
    out = {}
    for mount in service.get("volumes", []):
        source, target = mount.split(":")[:2]
        out[target] = source
    return out


def compose_principals() -> set[str]:
    return {p.name for p in catalogue.principals(settings_of(compose_env(SERVICES["provision"])))}




# -- compose ---------------------------------------------------------------------------------------
def test_compose_has_the_whole_stack():
    kafka = kafka_services()
    assert len(kafka) == 3
    ids = {str(s["environment"]["KAFKA_NODE_ID"]) for s in kafka.values()}
    assert ids == {"1", "2", "3"}
    for name, service in kafka.items():
        env = service["environment"]
        assert "controller" in env["KAFKA_PROCESS_ROLES"] and "ZOOKEEPER" not in str(env).upper()  # KRaft
        voters = env["KAFKA_CONTROLLER_QUORUM_VOTERS"].split(",")
        assert sorted(v.split("@")[1].split(":")[0] for v in voters) == sorted(kafka)
        assert env["KAFKA_ADVERTISED_LISTENERS"] == f"CLIENT://{name}:9092,INTERNAL://{name}:9091"
    registry = SERVICES["registry"]
    assert registry["image"].startswith("apicurio/apicurio-registry:3.")
    assert registry["environment"]["APICURIO_STORAGE_KIND"] == "sql"  # its own database, no Kafka principal
    assert SERVICES["keycloak"]["image"].startswith("quay.io/keycloak/keycloak:26.")
    assert len(worker_services()) == 2
    assert any(s["command"][:2] == ["hub", "simulate"] for s in hub_services().values())  # a connector
    assert SERVICES["prometheus"]["image"].startswith("prom/prometheus:")
    assert SERVICES["grafana"]["image"].startswith("grafana/grafana:")


def test_compose_commands_and_variables_are_real():
    assert hub_services()
    for name, service in hub_services().items():
        for argv in hub_commands(service["command"]):
            assert command_exists(hub_cli, argv[1:]) is None, name
        env = compose_env(service)
        assert set(k for k in env if k.startswith("HUB_")) <= SETTINGS_ENV, name
        settings_of(env)  # values validate


def test_compose_kafka_numbers_are_consistent():
    brokers = list(kafka_services().values())
    bootstrap = {f"{s['hostname']}:9092" for s in brokers}
    for name, service in client_services().items():
        settings = settings_of(compose_env(service))
        assert set(settings.bootstrap_list) == bootstrap, name
        assert settings.replication_factor <= len(brokers)
        assert settings.min_insync_replicas < settings.replication_factor
        assert settings.topic_partitions >= len(worker_services())
    for broker in brokers:
        env = broker["environment"]
        replication = int(env["KAFKA_DEFAULT_REPLICATION_FACTOR"])
        assert int(env["KAFKA_MIN_INSYNC_REPLICAS"]) < replication <= len(brokers)
        assert int(env["KAFKA_OFFSETS_TOPIC_REPLICATION_FACTOR"]) <= len(brokers)


def test_compose_prometheus_scrapes_every_hub_process_and_loads_the_alerts():
    config = yaml.safe_load((DEPLOY / "prometheus" / "prometheus.yml").read_text())
    targets = {t for job in config["scrape_configs"] for sc in job["static_configs"] for t in sc["targets"]}
    workers = {f"{name}:{compose_env(s)['HUB_METRICS_PORT']}" for name, s in worker_services().items()}
    assert workers <= targets
    for target in targets:
        assert target.split(":")[0] in SERVICES
    mounted = SERVICES["prometheus"]["volumes"]
    assert "./prometheus/alerts.yml:/etc/prometheus/alerts.yml:ro" in mounted
    assert config["rule_files"] == ["/etc/prometheus/alerts.yml"]
    provider = yaml.safe_load((DEPLOY / "grafana/provisioning/dashboards/hub.yml").read_text())
    assert provider["providers"][0]["options"]["path"] == "/var/lib/grafana/dashboards"
    assert any(m.endswith(":/var/lib/grafana/dashboards:ro") for m in SERVICES["grafana"]["volumes"])


def test_compose_mounted_files_exist_and_volumes_are_declared():
    for name, service in SERVICES.items():
        for source in mounts(service).values():
            if source.startswith("./"):
                if source != "./secrets/credentials":  # the operator's credential store, made before start
                    assert (DEPLOY / source).exists(), (name, source)
            else:
                assert source in COMPOSE["volumes"], (name, source)


def test_the_image_builds_from_files_that_exist_and_holds_what_the_tools_import():
    dockerfile = (DEPLOY / "hub.Dockerfile").read_text()
    for source in re.findall(r"^COPY (.+) \S+$", dockerfile, re.M):
        for item in source.split():
            assert (REPO_ROOT / item).exists(), item
    cmd = re.search(r'^CMD \[(.+)\]$', dockerfile, re.M).group(1)
    assert command_exists(hub_cli, [a.strip(' "') for a in cmd.split(",")][1:]) is None
    build = SERVICES["hub-worker-1"]["build"]
    built = (DEPLOY / build["context"] / build["dockerfile"]).resolve()
    assert built == (DEPLOY / "hub.Dockerfile").resolve()
    # `hub access` (provision) imports confluent_kafka, `hub dev pki` (certs) cryptography
    [install] = re.findall(r"^RUN pip install (.+?) &&", dockerfile, re.M)
    runtime = (REPO_ROOT / "pyproject.toml").read_text().split("[project.optional-dependencies]")[0]
    for package in ("confluent-kafka", "cryptography"):
        assert package in install or f'"{package}' in runtime, package


# -- compose: security -----------------------------------------------------------------------------------
SECURITY_PROPERTIES = (
    "listener.security.protocol.map", "inter.broker.listener.name", "controller.listener.names",
    "sasl.enabled.mechanisms", "listener.name.client.sasl.enabled.mechanisms",
    "listener.name.client.scram-sha-512.sasl.jaas.config", "connections.max.reauth.ms", "ssl.keystore.type",
    "ssl.truststore.type", "ssl.client.auth", "listener.name.internal.ssl.client.auth",
    "listener.name.controller.ssl.client.auth", "ssl.principal.mapping.rules", "authorizer.class.name",
    "allow.everyone.if.no.acl.found", "super.users",
)


def test_compose_brokers_are_secured_as_the_local_stack():
    pki = DevPki(*(Path(f"/pki/{n}") for n in ("ca", "server", "cert", "key", "truststore")))
    node = KafkaNode(1, 9092, 9091, 9093)
    reference = parse_properties(server_properties(node, [node], pki, Path("/data")))
    for name, service in kafka_services().items():
        props = kafka_properties(service["environment"])
        for key in SECURITY_PROPERTIES:
            assert props.get(key) == reference[key], (name, key)
        assert {pki_file.split("/")[2] for pki_file in (props["ssl.keystore.location"],
                                                        props["ssl.truststore.location"])} == {"broker", "ca"}
        assert mounts(service)["/pki/broker"] == "pki-broker" and mounts(service)["/pki/ca"] == "pki-ca"


def test_compose_kafka_has_no_plaintext_listener():
    for name, service in kafka_services().items():
        props = kafka_properties(service["environment"])
        protocols = dict(item.split(":") for item in props["listener.security.protocol.map"].split(","))
        assert set(protocols.values()) <= {"SASL_SSL", "SSL"}, name
        for key in ("listeners", "advertised.listeners"):
            for listener in props[key].split(","):
                assert listener.split("://")[0] in protocols, (name, listener)
        assert "PLAINTEXT" not in json.dumps(service["environment"]), name
        # every SSL listener without SASL demands a client certificate
        for listener, protocol in protocols.items():
            if protocol == "SSL":
                client_auth = props[f"listener.name.{listener.lower()}.ssl.client.auth"]
                assert client_auth == "required", (name, listener)


def test_compose_certificate_common_names_map_to_the_brokers_principal():
    rules = kafka_properties(kafka_services()["kafka-1"]["environment"])["ssl.principal.mapping.rules"]
    match = re.fullmatch(r"RULE:(.+)/(.+)/,DEFAULT", rules)
    pattern, replacement = match.group(1), match.group(2)
    assert re.sub(pattern, replacement.replace("$1", r"\1"), "CN=broker") == catalogue.BROKER
    assert catalogue.BROKER in option_values(SERVICES["certs"]["command"], "--server")[0].split("=")[0]


def test_compose_certs_cover_every_server_and_only_the_brokers_act_as_clients():
    command = SERVICES["certs"]["command"]
    assert command_exists(hub_cli, command[1:]) is None
    servers = dict(s.split("=") for s in option_values(command, "--server"))
    assert set(servers["broker"].split(",")) == set(kafka_services())
    provision = compose_env(SERVICES["provision"])
    assert urlparse(provision["HUB_REGISTRY_URL"]).hostname in servers["registry"].split(",")
    assert urlparse(provision["HUB_IDP_URL"]).hostname in servers["keycloak"].split(",")
    certs_mounts = mounts(SERVICES["certs"])
    for name in servers:  # each server's key in a volume of its own, mounted by that server alone
        volume = certs_mounts[f"/pki/{name}"]
        users = [s for s, service in SERVICES.items() if volume in mounts(service).values() and s != "certs"]
        assert users and all(u in kafka_services() if name == "broker" else u == name for u in users), users
    for name, service in SERVICES.items():  # a server starts once its certificate is there
        if name != "certs" and set(mounts(service).values()) & {f"pki-{server}" for server in servers}:
            assert service["depends_on"]["certs"]["condition"] == "service_completed_successfully", name


def test_compose_every_hub_process_is_a_principal_on_sasl_ssl_with_a_ca_file():
    principals = compose_principals()
    assert len(client_services()) >= 5
    for name, service in client_services().items():
        env = compose_env(service)
        assert env["HUB_KAFKA_SECURITY_PROTOCOL"] == "SASL_SSL"
        assert env["HUB_KAFKA_SASL_MECHANISM"] == "SCRAM-SHA-512"
        ca = Path(env["HUB_KAFKA_CA_FILE"])
        assert mounts(service)[str(ca.parent)] == "pki-ca", name
        user = env["HUB_KAFKA_USERNAME"]
        assert user in principals, (name, user)
        assert "HUB_KAFKA_PASSWORD" not in env, name
        own = secret_file(service, env["HUB_KAFKA_PASSWORD_FILE"])
        assert own == f"./secrets/credentials/{user}.password", name
        assert urlparse(env["HUB_REGISTRY_URL"]).scheme == "https"
    users = {compose_env(s)["HUB_KAFKA_USERNAME"] for s in client_services().values()}
    assert {catalogue.ADMIN, catalogue.WORKER, catalogue.MALL} <= users


def test_compose_has_no_literal_secrets():
    for name, service in SERVICES.items():
        for key, value in compose_env(service).items():
            if holds_secret(key):
                assert key.endswith("_FILE"), (name, key)  # HUB_*_FILE, Postgres' *_FILE, the *__FILE wrapper
                if value.startswith("/run/secrets/"):
                    secret_file(service, value)
                else:  # a TLS key: made by `certs` into a volume, never a file of the repository
                    assert mounts(service)[str(Path(value).parent)].startswith("pki-"), (name, key)
        text = json.dumps([service.get("environment"), service.get("command"), service.get("entrypoint")])
        for found in re.findall(r"(?i)[\w.]*password[\w.]*=([^\s\"]*)", text):
            assert found == TRUSTSTORE_PASSWORD, (name, found)  # the public CA's trust store only
    for name, secret in COMPOSE["secrets"].items():
        assert set(secret) == {"file"} and secret["file"].startswith("./secrets/"), name
    assert "deploy/secrets/" in (REPO_ROOT / ".gitignore").read_text().split()


def test_compose_secrets_of_the_store_are_made_by_the_first_step():
    header = COMPOSE_TEXT.split("\nname:")[0]
    [first_step] = re.findall(r"hub dev credentials .+?(?=\n#\s+sudo)", header, re.S)
    extras = set(re.findall(r"--extra (\S+)", first_step))
    made = compose_principals() | extras
    for name, secret in COMPOSE["secrets"].items():
        if secret["file"].startswith("./secrets/credentials/"):
            assert name == Path(secret["file"]).name and name.removesuffix(".password") in made, name
    assert "--file-mode 644" in first_step


def test_compose_provision_runs_as_the_admin_before_every_hub_process():
    provision = SERVICES["provision"]
    assert hub_commands(provision["command"]) == [["hub", "topics", "create"], ["hub", "schemas", "register"],
                                                  ["hub", "access", "apply"]]
    env = compose_env(provision)
    assert env["HUB_KAFKA_USERNAME"] == catalogue.ADMIN
    assert mounts(provision)[env["HUB_ACCESS_CREDENTIALS_DIR"]] == "./secrets/credentials"
    assert urlparse(env["HUB_IDP_URL"]).scheme == "https"
    assert env["HUB_IDP_URL"] == compose_env(SERVICES["registry"])["QUARKUS_OIDC_AUTH_SERVER_URL"]
    for name, service in client_services().items():
        if name != "provision":
            assert service["depends_on"]["provision"]["condition"] == "service_completed_successfully", name
    for dependency in [*kafka_services(), "keycloak", "registry"]:
        assert provision["depends_on"][dependency]["condition"] == "service_healthy"


def test_compose_simulator_holds_every_source_credential_and_only_those():
    service = SERVICES["village-connector"]
    env = compose_env(service)
    store = env["HUB_ACCESS_CREDENTIALS_DIR"]
    settings = settings_of(env)
    sources = {p.name for p in catalogue.principals(settings) if p.role in ("agency", "desk")}
    mounted = {f"/run/secrets/{secret}" for secret in service["secrets"]}
    assert {f"{store}/{name}.password" for name in sources} == mounted


def test_compose_kafka_formats_storage_with_the_admins_credential(tmp_path):
    """deploy/kafka/start.sh, run in bash with the compose environment (the image's tools replaced by
    recorders): it writes the same properties as the image and formats with the admin's SCRAM credential."""
    service = kafka_services()["kafka-1"]
    env = {k: compose_value(v) for k, v in service["environment"].items()}
    password = tmp_path / "hub-admin.password"
    password.write_text("Zm9v_YmFy-123\n")
    script = (DEPLOY / "kafka" / "start.sh").read_text()
    script = script.replace("/opt/kafka/bin/kafka-storage.sh", f"bash {tmp_path}/storage.sh")
    script = script.replace("exec /etc/kafka/docker/run", "echo RUN")
    (tmp_path / "start.sh").write_text(script)
    (tmp_path / "storage.sh").write_text('printf "%s\\n" "$@" > "$ARGS"; cp "$5" "$PROPS"\n')
    assert service["entrypoint"] == ["/bin/bash", "/opt/hub/kafka-start.sh"]
    assert mounts(service)["/opt/hub/kafka-start.sh"] == "./kafka/start.sh"
    secret_file(service, env["HUB_ADMIN_PASSWORD_FILE"])
    env.update(KAFKA_LOG_DIRS=str(tmp_path / "data"), HUB_ADMIN_PASSWORD_FILE=str(password),
               PATH=os.environ["PATH"], ARGS=str(tmp_path / "args"), PROPS=str(tmp_path / "props"))

    def start() -> subprocess.CompletedProcess:
        return subprocess.run(["bash", str(tmp_path / "start.sh")], env=env, capture_output=True, text=True,
                              timeout=30)

    done = start()
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip().endswith("RUN")
    args = (tmp_path / "args").read_text().split("\n")
    assert args[:3] == ["format", "--cluster-id", env["CLUSTER_ID"]]
    assert args[5:7] == ["--add-scram", f"SCRAM-SHA-512=[name={catalogue.ADMIN},password=Zm9v_YmFy-123]"]
    expected = kafka_properties({**service["environment"], "KAFKA_LOG_DIRS": str(tmp_path / "data")})
    assert parse_properties((tmp_path / "props").read_text()) == expected
    (tmp_path / "data").mkdir()
    (tmp_path / "data" / "meta.properties").write_text("formatted")  # formatted: straight to the image
    (tmp_path / "args").unlink()
    done = start()
    assert done.returncode == 0 and not (tmp_path / "args").exists()
    password.write_text("no,commas]\n")  # the --add-scram syntax has no quoting: refused, not mangled
    shutil.rmtree(tmp_path / "data")
    done = start()
    assert done.returncode != 0 and "URL-safe" in done.stderr


def test_secrets_env_wrapper_exports_file_contents_and_drops_the_file_variables(tmp_path):
    secret = tmp_path / "db"
    secret.write_text("  s3cr3t\n")
    done = subprocess.run(["bash", str(DEPLOY / "bin" / "secrets-env.sh"), "sh", "-c",
                           'echo "[$KC_DB_PASSWORD] ${KC_DB_PASSWORD__FILE:-gone}"'],
                          env={"PATH": os.environ["PATH"], "KC_DB_PASSWORD__FILE": str(secret)},
                          capture_output=True, text=True, timeout=30)
    assert done.stdout.strip() == "[s3cr3t] gone", done.stderr
    for name in ("keycloak", "registry"):
        entrypoint = SERVICES[name]["entrypoint"]
        assert entrypoint[:2] == ["/bin/bash", "/opt/hub/secrets-env.sh"]
        assert mounts(SERVICES[name])["/opt/hub/secrets-env.sh"] == "./bin/secrets-env.sh"


def test_compose_realm_is_the_dev_bootstrap_with_the_admin_secret_from_a_file():
    realm = json.loads((DEPLOY / "keycloak" / "realm-hub.json").read_text())
    assert realm["realm"] == idp.REALM and realm["enabled"] and realm["sslRequired"] == "all"
    assert {r["name"] for r in realm["roles"]["realm"]} == {"sr-admin", "sr-developer", "sr-readonly"}
    [client] = realm["clients"]
    assert client["clientId"] == catalogue.ADMIN and client["serviceAccountsEnabled"]
    flows = ("publicClient", "standardFlowEnabled", "directAccessGrantsEnabled")
    assert not any(client[flow] for flow in flows)  # a confidential client with its service account only
    placeholder = re.fullmatch(r"\$\{(\w+)\}", client["secret"]).group(1)
    [account] = realm["users"]
    assert account["serviceAccountClientId"] == catalogue.ADMIN and account["realmRoles"] == ["sr-admin"]
    assert account["clientRoles"] == {"realm-management": idp.ADMIN_RIGHTS}
    keycloak = SERVICES["keycloak"]
    env = compose_env(keycloak)
    admin_file = secret_file(keycloak, env[f"{placeholder}__FILE"])
    assert admin_file == f"./secrets/credentials/{catalogue.ADMIN}.password"
    assert "--import-realm" in keycloak["command"]
    assert mounts(keycloak)["/opt/keycloak/data/import/realm-hub.json"] == "./keycloak/realm-hub.json"
    assert env["KC_HTTP_ENABLED"] == "false" and env["KC_HOSTNAME"].startswith("https://")


def test_compose_registry_answers_https_only_and_authenticates_at_the_identity_provider():
    env = compose_env(SERVICES["registry"])
    assert env["QUARKUS_HTTP_INSECURE_REQUESTS"] == "disabled"
    assert env["QUARKUS_OIDC_TENANT_ENABLED"] == "true"
    assert env["APICURIO_AUTHN_BASIC_CLIENT_CREDENTIALS_ENABLED"] == "true"
    assert env["APICURIO_AUTH_ROLE_BASED_AUTHORIZATION"] == "true"
    assert env["APICURIO_AUTH_ROLE_SOURCE"] == "token"
    url = urlparse(compose_env(SERVICES["provision"])["HUB_REGISTRY_URL"])
    assert url.scheme == "https" and url.port == int(env["QUARKUS_HTTP_SSL_PORT"])
    assert "-Dquarkus.tls.idp.trust-store.pem.certs=/pki/ca/ca.pem" in env["JAVA_OPTS_APPEND"].split()


@pytest.mark.parametrize("argv, problem", [(["wroker"], "does not exist"), (["topics"], "is a group"),
                                           (["publish", "--cuont", "5"], "No such option")])
def test_the_command_check_can_fail(argv, problem):
    assert problem in (command_exists(hub_cli, argv) or "")


def test_the_secret_name_check_can_fail():
    assert {"HUB_KAFKA_PASSWORD", "HUB_REGISTRY_PASSWORD", "HUB_CITIZEN_REF_KEY"} <= HUB_SECRETS
    assert holds_secret("HUB_KAFKA_PASSWORD_FILE") and holds_secret("KC_DB_PASSWORD__FILE")
    assert holds_secret("HUB_MALL_DATABASE") and not holds_secret("HUB_KAFKA_CA_FILE")
    with pytest.raises(AssertionError):
        secret_file(SERVICES["mall"], "/run/secrets/hub-admin.password")  # not mounted there
