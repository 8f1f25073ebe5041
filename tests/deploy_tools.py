"""Helpers for the static checks of deploy/ (tests/unit/ops/test_deploy.py): the compose file and the
manifests read as the engines would read them, the hub commands they run, the principals and secrets they
name."""

from __future__ import annotations

import re
import shlex
from pathlib import Path
from typing import Any

import yaml

from hub.settings import REPO_ROOT, Settings

DEPLOY = REPO_ROOT / "deploy"
#: The variables the apache/kafka image does not turn into server properties
#: (kafka.docker.KafkaDockerWrapper's ExcludeServerPropsEnv); deploy/kafka/start.sh skips the same.
KAFKA_IMAGE_EXCLUDED = {"KAFKA_VERSION", "KAFKA_HEAP_OPTS", "KAFKA_LOG4J_OPTS", "KAFKA_OPTS",
                        "KAFKA_JMX_OPTS", "KAFKA_JVM_PERFORMANCE_OPTS", "KAFKA_GC_LOG_OPTS",
                        "KAFKA_LOG4J_ROOT_LOGLEVEL", "KAFKA_LOG4J_LOGGERS", "KAFKA_TOOLS_LOG4J_LOGLEVEL",
                        "KAFKA_JMX_HOSTNAME"}
#: Third-party variables that hold a secret when they hold a value (the hub's own: its SecretStr settings).
SECRET_NAME = re.compile(r"PASSWORD|SECRET|(^|_)KEY$", re.I)
HUB_SECRETS = {f"HUB_{name.upper()}" for name, field in Settings.model_fields.items()
               if "SecretStr" in str(field.annotation)}


def holds_secret(variable: str) -> bool:
    """Whether ``variable`` (or, for ``NAME_FILE`` / ``NAME__FILE``, ``NAME``) is a secret's variable."""
    name = variable.removesuffix("__FILE").removesuffix("_FILE")
    return name in HUB_SECRETS or bool(SECRET_NAME.search(name))


def compose_value(value: object) -> str:
    """A compose environment value as the container sees it (``$$`` is compose's escaped ``$``)."""
    return str(value).replace("$$", "$")


def kafka_properties(env: dict[str, object]) -> dict[str, str]:
    """The server properties the apache/kafka image makes of ``KAFKA_*`` variables
    (KafkaDockerWrapper.getServerConfigsFromEnv: drop ``KAFKA_``, lower case, ``_`` -> ``.``, then
    ``...`` -> ``-`` and ``..`` -> ``_``)."""
    out = {}
    for name, value in env.items():
        if name.startswith("KAFKA_") and name not in KAFKA_IMAGE_EXCLUDED:
            key = name.removeprefix("KAFKA_").lower().replace("_", ".").replace("...", "-").replace("..", "_")
            out[key] = compose_value(value)
    return out


def parse_properties(text: str) -> dict[str, str]:
    return dict(line.split("=", 1) for line in text.splitlines() if line and not line.startswith("#"))


def hub_commands(command: list[str] | None) -> list[list[str]]:
    """The ``hub`` invocations of a container command: ``["hub", ...]`` itself, or each step of
    ``["sh", "-ec", "hub a && hub b"]``; empty for anything else."""
    if not command:
        return []
    if command[0] == "hub":
        return [list(command)]
    if command[:2] == ["sh", "-ec"]:
        steps = [shlex.split(step) for step in command[2].split("&&")]
        return steps if all(step and step[0] == "hub" for step in steps) else []
    return []


def settings_of(env: dict[str, object]) -> Settings:
    """``Settings`` from a manifest's ``HUB_*`` variables, without reading a password file (none exists here;
    :func:`secret_file` checks where it points)."""
    values = {k[4:].lower(): compose_value(v) for k, v in env.items()
              if k.startswith("HUB_") and k != "HUB_KAFKA_PASSWORD_FILE"}
    return Settings(**values)  # type: ignore[arg-type]


def option_values(argv: list[str], option: str) -> list[str]:
    return [argv[i + 1] for i, arg in enumerate(argv[:-1]) if arg == option]


# -- kubernetes --------------------------------------------------------------------------------------------
def k8s_secret_name(principal: str) -> str:
    """The Secret holding a principal's password (kustomization.yaml's secretGenerator): DNS-1123 names
    have no ``_``, some agency codes do."""
    return "principal-" + principal.replace("_", "-")


def pod_spec(obj: dict[str, Any]) -> dict[str, Any]:
    return obj["spec"]["template"]["spec"]


def env_map(container: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {e["name"]: e for e in container.get("env", [])}


def referenced_secrets(obj: dict[str, Any]) -> set[str]:
    """Every Secret a workload names: env ``secretKeyRef``, ``secret`` and ``projected`` volumes."""
    spec = pod_spec(obj)
    names = set()
    for container in spec.get("initContainers", []) + spec["containers"]:
        for entry in container.get("env", []):
            ref = entry.get("valueFrom", {}).get("secretKeyRef")
            if ref:
                names.add(ref["name"])
    for volume in spec.get("volumes", []):
        if "secret" in volume:
            names.add(volume["secret"]["secretName"])
        for source in volume.get("projected", {}).get("sources", []):
            if "secret" in source:
                names.add(source["secret"]["name"])
    return names


def projected_store(obj: dict[str, Any], mount_path: str) -> dict[str, str]:
    """``{file name: Secret}`` of the projected volume a workload mounts at ``mount_path``."""
    spec = pod_spec(obj)
    [volume_name] = {m["name"] for c in spec["containers"] for m in c.get("volumeMounts", [])
                     if m["mountPath"] == mount_path}
    [volume] = [v for v in spec["volumes"] if v["name"] == volume_name]
    out = {}
    for source in volume["projected"]["sources"]:
        secret = source["secret"]
        for item in secret["items"]:
            out[item["path"]] = secret["name"]
    return out


def load_yaml_docs(path: Path) -> list[dict[str, Any]]:
    return [doc for doc in yaml.safe_load_all(path.read_text()) if doc]
