"""The local real stack, secured as production is: Kafka (KRaft), Apicurio Registry and Keycloak, on loopback.

All three come from Maven Central through ``deploy/stack/pom.xml`` into a cache outside git
(``$HUB_STACK_HOME``, default ``~/.cache/hub-stack``). Used by ``hub dev up|down``, the demo and the
test suite (random free ports, temporary folders). Production runs a real multi-broker cluster.

Nothing listens in plaintext or unauthenticated: a development CA is made at each start
(``hub.dev.pki``); Kafka's clients connect with SASL_SSL / SCRAM-SHA-512 and brokers among themselves
with mutual TLS (``hub.dev.kafka_node``); the registry answers HTTPS only and authenticates HTTP basic
credentials at Keycloak (``hub.dev.idp``): anonymous requests get 401, principals other than the admin
may only read. The hub admin's password is made at start and kept, with every other principal's, in
the stack's credential store (``<workdir>/credentials``, ``hub.access.credentials``); :meth:`env` and
:meth:`settings` hand them to the hub's processes.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import time
import uuid
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path

import httpx

from hub.access.catalogue import ADMIN
from hub.access.credentials import CredentialStore
from hub.dev import idp
from hub.dev.kafka_node import KafkaNode, prepare
from hub.dev.pki import TRUSTSTORE_PASSWORD, DevPki, make_dev_pki
from hub.settings import REPO_ROOT, Settings

POM = REPO_ROOT / "deploy" / "stack" / "pom.xml"
KAFKA_JAVA = 17
REGISTRY_JAVA = 21  # Apicurio Registry 3.3 and Keycloak 26 are built for Java 21


class StackError(RuntimeError):
    """The stack cannot be fetched or started; the message says what is missing and how to fix it."""


def stack_home() -> Path:
    return Path(os.environ.get("HUB_STACK_HOME", Path.home() / ".cache" / "hub-stack"))


def versions() -> dict[str, str]:
    """Kafka and Apicurio versions, from the pom (their one home)."""
    text = POM.read_text(encoding="utf-8")
    return {name: re.search(rf"<{name}.version>([^<]+)<", text).group(1)  # type: ignore[union-attr]
            for name in ("kafka", "apicurio", "keycloak")}


def _java_major(java: str) -> int | None:
    try:
        out = subprocess.run([java, "-version"], capture_output=True, text=True, timeout=30).stderr
    except (OSError, subprocess.SubprocessError):
        return None
    match = re.search(r'version "(\d+)(?:\.(\d+))?', out)
    if not match:
        return None
    major = int(match.group(1))
    return int(match.group(2) or 0) if major == 1 else major


def find_java(minimum: int) -> str:
    """A java binary of at least ``minimum``: $JAVA_HOME, PATH, then /usr/lib/jvm/*."""
    candidates = []
    if os.environ.get("JAVA_HOME"):
        candidates.append(str(Path(os.environ["JAVA_HOME"]) / "bin" / "java"))
    on_path = shutil.which("java")
    if on_path:
        candidates.append(on_path)
    candidates += sorted(str(p) for p in Path("/usr/lib/jvm").glob("*/bin/java"))
    seen = []
    for java in dict.fromkeys(candidates):
        major = _java_major(java)
        seen.append(f"{java} ({major or 'unusable'})")
        if major and major >= minimum:
            return java
    raise StackError(f"Java {minimum}+ is needed and was not found "
                     f"(looked at: {', '.join(seen) or 'nothing'}). "
                     f"Install it (Debian: apt-get install openjdk-17-jre-headless; Java 21+ for the "
                     f"registry, e.g. Temurin) or set JAVA_HOME.")


@dataclass(frozen=True)
class Distribution:
    kafka_libs: Path
    apicurio_dir: Path
    keycloak_dir: Path


def fetch(home: Path | None = None, *, quiet: bool = True) -> Distribution:
    """Fetch Kafka and Apicurio with Maven into ``home`` unless already there."""
    home = home or stack_home()
    v = versions()
    dist = Distribution(home / f"kafka-{v['kafka']}" / "libs", home / f"apicurio-{v['apicurio']}",
                        home / f"keycloak-{v['keycloak']}")
    if ((dist.apicurio_dir / "quarkus-run.jar").exists() and any(dist.kafka_libs.glob("kafka_2.13-*.jar"))
            and (dist.keycloak_dir / "bin" / "kc.sh").exists()):
        idp.build(dist.keycloak_dir, _java_home(find_java(REGISTRY_JAVA)))
        return dist
    mvn = shutil.which("mvn")
    if not mvn:
        raise StackError("Maven (mvn) is needed to fetch Kafka and Apicurio from Maven Central "
                         "(Debian: apt-get install maven).")
    java = find_java(KAFKA_JAVA)
    env = {**os.environ, "JAVA_HOME": str(_java_home(java))}
    cmd = [mvn, "-B", *(["-q"] if quiet else []), "-f", str(POM), f"-DoutputDir={home}", "package"]
    print(f"fetching Kafka {v['kafka']}, Apicurio Registry {v['apicurio']} and Keycloak {v['keycloak']} "
          f"from Maven Central into {home}", flush=True)
    done = subprocess.run(cmd, env=env, capture_output=True, text=True)
    if done.returncode != 0:
        raise StackError(f"Maven could not fetch the stack (exit {done.returncode}):\n{done.stdout[-3000:]}"
                         f"{done.stderr[-2000:]}")
    print("building Keycloak's optimized server once (about 20 s)", flush=True)
    idp.build(dist.keycloak_dir, _java_home(find_java(REGISTRY_JAVA)))
    return dist


def _java_home(java: str) -> Path:
    return Path(java).resolve().parent.parent


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@dataclass(frozen=True)
class Ports:
    kafka: int  # SASL_SSL, the clients' listener
    internal: int  # broker to broker, mutual TLS
    controller: int  # KRaft, mutual TLS
    registry: int  # HTTPS
    registry_management: int  # registry health, HTTPS
    idp: int  # Keycloak, HTTPS
    idp_management: int  # Keycloak health, HTTPS

    @classmethod
    def random(cls) -> Ports:
        return cls(*(free_port() for _ in range(7)))


class LocalStack:
    """One Kafka node (KRaft, broker + controller), Apicurio Registry and Keycloak, all on 127.0.0.1."""

    def __init__(self, workdir: Path, ports: Ports | None = None, dist: Distribution | None = None,
                 kafka_heap: str = os.environ.get("HUB_KAFKA_HEAP", "1g")):
        self.workdir = Path(workdir)
        self.ports = ports or Ports.random()
        self.dist = dist
        self.kafka_heap = kafka_heap
        self.logs = self.workdir / "logs"
        self.credentials = CredentialStore(self.workdir / "credentials")
        self.pki: DevPki | None = None
        self.pids: dict[str, int] = {}
        self.timings: dict[str, float] = {}  # seconds from start until each component answered
        self._cluster_id: str | None = None  # the KRaft cluster id every node's storage is formatted with

    @property
    def bootstrap(self) -> str:
        return ",".join(node.bootstrap for node in self.nodes)

    @property
    def nodes(self) -> list[KafkaNode]:
        """The Kafka nodes (broker + controller each): one here, several in
        ``hub.dev.cluster.LocalCluster``."""
        p = self.ports
        return [KafkaNode(1, p.kafka, p.internal, p.controller)]

    def node_name(self, node: KafkaNode) -> str:
        """The node's key in :attr:`pids` and the name of its folder and log."""
        return "kafka" if len(self.nodes) == 1 else f"kafka-{node.node_id}"

    @property
    def registry_url(self) -> str:
        return f"https://127.0.0.1:{self.ports.registry}/apis/ccompat/v7"

    @property
    def idp_url(self) -> str:
        return idp.realm_url(self.ports.idp)

    @property
    def ca_file(self) -> Path:
        return self.workdir / "pki" / "ca.pem"

    def env(self, principal: str = ADMIN) -> dict[str, str]:
        """Environment for a hub process of this stack, as ``principal`` (the admin by default)."""
        return {"HUB_BOOTSTRAP_SERVERS": self.bootstrap, "HUB_REGISTRY_URL": self.registry_url,
                "HUB_KAFKA_SECURITY_PROTOCOL": "SASL_SSL", "HUB_KAFKA_SASL_MECHANISM": "SCRAM-SHA-512",
                "HUB_KAFKA_USERNAME": principal, "HUB_KAFKA_PASSWORD": self.credentials.password(principal),
                "HUB_KAFKA_CA_FILE": str(self.ca_file), "HUB_IDP_URL": self.idp_url,
                "HUB_ACCESS_CREDENTIALS_DIR": str(self.credentials.folder)}

    def settings(self, principal: str = ADMIN, **overrides: object) -> Settings:
        """Settings for this stack as ``principal`` (``overrides``: any other field)."""
        values: dict[str, object] = dict(
            bootstrap_servers=self.bootstrap, registry_url=self.registry_url,
            kafka_security_protocol="SASL_SSL", kafka_username=principal,
            kafka_password=self.credentials.password(principal), kafka_ca_file=self.ca_file,
            idp_url=self.idp_url, access_credentials_dir=self.credentials.folder)
        values.update(overrides)
        return Settings(**values)  # type: ignore[arg-type]

    # -- lifecycle -------------------------------------------------------------------------------
    def start(self, timeout: float = 180.0) -> LocalStack:
        self.dist = self.dist or fetch()
        kafka_java, registry_java = find_java(KAFKA_JAVA), find_java(REGISTRY_JAVA)
        self.logs.mkdir(parents=True, exist_ok=True)
        started = time.monotonic()
        try:
            self.pki = make_dev_pki(self.workdir / "pki")
            admin_password = self.credentials.password(ADMIN)
            bootstrap_secret = self.credentials.password("idp-bootstrap")
            # The three start side by side; the registry waits for its identity provider on first use.
            self._spawn("idp", idp.command(self.dist.keycloak_dir, self.pki, self.ports.idp,
                                           self.ports.idp_management, bootstrap_secret),
                        self.workdir, env={"JAVA_HOME": str(_java_home(registry_java))})
            self._start_kafka(kafka_java, admin_password)
            self._start_registry(registry_java)
            self._save()
            self._wait("idp", lambda: idp.ready(self.ports.idp, self.ca_file), started + timeout)
            idp.bootstrap_realm(self.ports.idp, self.ca_file, bootstrap_secret, admin_password)
            self.timings["idp"] = time.monotonic() - started
            self._wait_kafka(started + timeout)
            self.timings["kafka"] = time.monotonic() - started
            self._wait("registry", self._registry_ready, started + timeout)
            self.timings["registry"] = time.monotonic() - started
        except BaseException:
            self.stop()
            raise
        return self

    def _spawn(self, name: str, cmd: list[str], cwd: Path, env: dict[str, str] | None = None) -> None:
        log = open(self.logs / f"{name}.log", "ab")
        self.pids[name] = subprocess.Popen(cmd, cwd=cwd, stdout=log, stderr=subprocess.STDOUT,
                                           stdin=subprocess.DEVNULL, start_new_session=True,
                                           env={**os.environ, **(env or {})}).pid

    def _start_kafka(self, java: str, admin_password: str) -> None:
        for node in self.nodes:
            self._start_node(node, java, admin_password)

    def _start_node(self, node: KafkaNode, java: str, admin_password: str) -> None:
        """Start one node on its data and ports (its storage is formatted on its first start only)."""
        assert self.dist and self.pki
        name = self.node_name(node)
        self._cluster_id = self._cluster_id or _cluster_id()
        cmd = prepare(node, self.nodes, self.pki, self.workdir / name, java=java, libs=self.dist.kafka_libs,
                      heap=self.kafka_heap, cluster_id=self._cluster_id, admin_password=admin_password)
        self._spawn(name, cmd, self.workdir / name)

    def _start_registry(self, java: str) -> None:
        assert self.dist and self.pki
        p, pki = self.ports, self.pki
        self._spawn("registry", [
            java, "-Xmx512m",
            # its calls to the identity provider verify the dev CA
            f"-Djavax.net.ssl.trustStore={pki.truststore}", "-Djavax.net.ssl.trustStoreType=PKCS12",
            f"-Djavax.net.ssl.trustStorePassword={TRUSTSTORE_PASSWORD}",
            # HTTPS only; the health endpoints on a second HTTPS listener (Quarkus' management interface)
            "-Dquarkus.http.host=127.0.0.1", "-Dquarkus.http.port=0", f"-Dquarkus.http.ssl-port={p.registry}",
            "-Dquarkus.http.insecure-requests=disabled",
            "-Dquarkus.management.host=127.0.0.1", f"-Dquarkus.management.port={p.registry_management}",
            f"-Dquarkus.management.ssl.certificate.files={pki.server_cert}",
            f"-Dquarkus.management.ssl.certificate.key-files={pki.server_key}",
            f"-Dquarkus.tls.key-store.pem.0.cert={pki.server_cert}",
            f"-Dquarkus.tls.key-store.pem.0.key={pki.server_key}",
            "-Dquarkus.oidc.tls.tls-configuration-name=idp",
            f"-Dquarkus.tls.idp.trust-store.pem.certs={pki.ca}",
            # authentication at Keycloak (HTTP basic = client credentials), roles from the token
            "-Dquarkus.oidc.tenant-enabled=true", f"-Dquarkus.oidc.auth-server-url={self.idp_url}",
            "-Dquarkus.oidc.client-id=registry-api",
            "-Dapicurio.authn.basic-client-credentials.enabled=true",
            "-Dapicurio.auth.role-based-authorization=true", "-Dapicurio.auth.role-source=token",
            "-Dquarkus.log.level=WARN", "-Dapicurio.logging.audit.enabled=false",
            "-Dquarkus.http.access-log.enabled=false",
            "-jar", str(self.dist.apicurio_dir / "quarkus-run.jar"),
        ], self.workdir)

    def _check_alive(self, name: str) -> None:
        pid = self.pids.get(name)
        try:
            waited, status = os.waitpid(pid, os.WNOHANG) if pid else (0, 0)
        except ChildProcessError:
            waited = 0
        if waited:
            tail = (self.logs / f"{name}.log").read_text(errors="replace")[-3000:]
            raise StackError(f"{name} exited during start-up (status {status}); "
                             f"log {self.logs}/{name}.log:\n{tail}")

    def _wait(self, name: str, ready: Callable[[], bool], deadline: float) -> None:
        while time.monotonic() < deadline:
            self._check_alive(name)
            if ready():
                return
            time.sleep(0.3)
        raise StackError(f"{name} did not become ready in time; see {self.logs}/{name}.log")

    def _wait_kafka(self, deadline: float) -> None:
        """Until every node is alive and the cluster's metadata lists every broker."""
        from aiokafka.admin import AIOKafkaAdminClient

        from hub.wire.clients import kafka_options

        options = kafka_options(self.settings())
        expected = len(self.nodes)

        async def metadata_answers() -> bool:
            admin = AIOKafkaAdminClient(request_timeout_ms=3000, **options)
            try:
                await admin.start()
                described = await admin.describe_cluster()
                return len(described.get("brokers") or ()) >= expected
            except Exception:
                return False
            finally:
                await admin.close()

        def ready() -> bool:
            for node in self.nodes:
                self._check_alive(self.node_name(node))
            return all(_port_open(node.client) for node in self.nodes) and asyncio.run(metadata_answers())

        self._wait(self.node_name(self.nodes[0]), ready, deadline)

    def _registry_ready(self) -> bool:
        try:
            health = httpx.get(f"https://127.0.0.1:{self.ports.registry_management}/health/ready",
                               verify=str(self.ca_file), timeout=2)
            if health.status_code != 200:
                return False
            # authenticated through the identity provider: the whole chain works
            answer = httpx.get(f"{self.registry_url}/subjects", verify=str(self.ca_file), timeout=5,
                               auth=(ADMIN, self.credentials.password(ADMIN)))
            return answer.status_code == 200
        except httpx.HTTPError:
            return False

    def kill_kafka(self, sig: int = signal.SIGKILL, *, node_id: int | None = None) -> None:
        """Stop the broker abruptly (tests and drills); :meth:`restart_kafka` brings it back. In a cluster,
        ``node_id`` names one node (None: every node)."""
        for node in self.nodes:
            if node_id is not None and node.node_id != node_id:
                continue
            pid = self.pids.pop(self.node_name(node), None)
            if not pid:
                continue
            if sig == signal.SIGKILL:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(pid, signal.SIGKILL)
                with contextlib.suppress(ChildProcessError):
                    os.waitpid(pid, 0)
            else:
                _terminate(pid, 30)

    def restart_kafka(self, timeout: float = 120.0, *, node_id: int | None = None) -> None:
        """Start the broker again on its data and ports (its storage is formatted already); in a cluster
        ``node_id`` names the node (None: every node not running), and this returns once every broker is
        back in the cluster's metadata."""
        java, password = find_java(KAFKA_JAVA), self.credentials.password(ADMIN)
        for node in self.nodes:
            if (node_id is None or node.node_id == node_id) and self.node_name(node) not in self.pids:
                self._start_node(node, java, password)
        self._save()
        self._wait_kafka(time.monotonic() + timeout)

    def stop(self, timeout: float = 20.0) -> None:
        for name in ("registry", "idp"):
            pid = self.pids.pop(name, None)
            if pid:
                _terminate(pid, timeout)
        # Every node at once: a node stopped alone waits for a quorum that its peers are leaving.
        _terminate_all([self.pids.pop(name) for name in list(self.pids) if name.startswith("kafka")], timeout)
        (self.workdir / "state.json").unlink(missing_ok=True)

    # -- state for `hub dev down` ------------------------------------------------------------------
    def _save(self) -> None:
        (self.workdir / "state.json").write_text(json.dumps({"ports": asdict(self.ports), "pids": self.pids}))

    @classmethod
    def load(cls, workdir: Path) -> LocalStack | None:
        state = workdir / "state.json"
        if not state.exists():
            return None
        data = json.loads(state.read_text())
        stack = cls(workdir, Ports(**data["ports"]))
        stack.pids = data["pids"]
        return stack

    def __enter__(self) -> LocalStack:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


def _cluster_id() -> str:
    """A KRaft cluster id (base64url UUID). Like Kafka's own, never one starting with '-', which the
    storage tool's argument parser would read as an option."""
    import base64
    while True:
        cid = base64.urlsafe_b64encode(uuid.uuid4().bytes).decode().rstrip("=")
        if not cid.startswith("-"):
            return cid


def _port_open(port: int) -> bool:
    with socket.socket() as s:
        s.settimeout(0.5)
        return s.connect_ex(("127.0.0.1", port)) == 0


def _terminate(pid: int, timeout: float) -> None:
    """SIGTERM the process group, then SIGKILL it if it lingers."""
    _terminate_all([pid], timeout)


def _gone(pid: int) -> bool:
    try:
        done, _ = os.waitpid(pid, os.WNOHANG)
        return bool(done)
    except ChildProcessError:  # not our child (hub dev down from another shell)
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return True
        return False


def _terminate_all(pids: list[int], timeout: float) -> None:
    """SIGTERM the process groups together, then SIGKILL those that linger past ``timeout``."""
    left = []
    for pid in pids:
        try:
            os.killpg(pid, signal.SIGTERM)
            left.append(pid)
        except ProcessLookupError:
            pass
    end = time.monotonic() + timeout
    while left and time.monotonic() < end:
        left = [pid for pid in left if not _gone(pid)]
        if left:
            time.sleep(0.2)
    for pid in left:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(pid, signal.SIGKILL)
        with contextlib.suppress(ChildProcessError):
            os.waitpid(pid, 0)
