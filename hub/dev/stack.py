"""The local real stack: Apache Kafka (KRaft, single node) and Apicurio Registry, on loopback.

Both come from Maven Central through ``deploy/stack/pom.xml`` into a cache outside git
(``$HUB_STACK_HOME``, default ``~/.cache/hub-stack``). Used by ``hub dev up|down``, the demo and the
test suite (random free ports, temporary folders). Production runs a real multi-broker cluster.
"""

from __future__ import annotations

import asyncio
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import time
import uuid
from dataclasses import asdict, dataclass
from pathlib import Path

import httpx

from hub.settings import REPO_ROOT

POM = REPO_ROOT / "deploy" / "stack" / "pom.xml"
KAFKA_JAVA = 17
REGISTRY_JAVA = 21  # Apicurio Registry 3.3 is built for Java 21


class StackError(RuntimeError):
    """The stack cannot be fetched or started; the message says what is missing and how to fix it."""


def stack_home() -> Path:
    return Path(os.environ.get("HUB_STACK_HOME", Path.home() / ".cache" / "hub-stack"))


def versions() -> dict[str, str]:
    """Kafka and Apicurio versions, from the pom (their one home)."""
    text = POM.read_text(encoding="utf-8")
    return {name: re.search(rf"<{name}.version>([^<]+)<", text).group(1)  # type: ignore[union-attr]
            for name in ("kafka", "apicurio")}


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
    if shutil.which("java"):
        candidates.append(shutil.which("java"))
    candidates += sorted(str(p) for p in Path("/usr/lib/jvm").glob("*/bin/java"))
    seen = []
    for java in dict.fromkeys(candidates):
        major = _java_major(java)
        seen.append(f"{java} ({major or 'unusable'})")
        if major and major >= minimum:
            return java
    raise StackError(f"Java {minimum}+ is needed and was not found (looked at: {', '.join(seen) or 'nothing'}). "
                     f"Install it (Debian: apt-get install openjdk-17-jre-headless; Java 21+ for the "
                     f"registry, e.g. Temurin) or set JAVA_HOME.")


@dataclass(frozen=True)
class Distribution:
    kafka_libs: Path
    apicurio_dir: Path


def fetch(home: Path | None = None, *, quiet: bool = True) -> Distribution:
    """Fetch Kafka and Apicurio with Maven into ``home`` unless already there."""
    home = home or stack_home()
    v = versions()
    dist = Distribution(home / f"kafka-{v['kafka']}" / "libs", home / f"apicurio-{v['apicurio']}")
    if (dist.apicurio_dir / "quarkus-run.jar").exists() and any(dist.kafka_libs.glob("kafka_2.13-*.jar")):
        return dist
    mvn = shutil.which("mvn")
    if not mvn:
        raise StackError("Maven (mvn) is needed to fetch Kafka and Apicurio from Maven Central "
                         "(Debian: apt-get install maven).")
    java = find_java(KAFKA_JAVA)
    env = {**os.environ, "JAVA_HOME": str(Path(java).resolve().parent.parent)}
    cmd = [mvn, "-B", *(["-q"] if quiet else []), "-f", str(POM), f"-DoutputDir={home}", "package"]
    print(f"fetching Kafka {v['kafka']} and Apicurio Registry {v['apicurio']} from Maven Central into {home}",
          flush=True)
    done = subprocess.run(cmd, env=env, capture_output=True, text=True)
    if done.returncode != 0:
        raise StackError(f"Maven could not fetch the stack (exit {done.returncode}):\n{done.stdout[-3000:]}"
                         f"{done.stderr[-2000:]}")
    return dist


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@dataclass(frozen=True)
class Ports:
    kafka: int
    controller: int
    registry: int
    management: int

    @classmethod
    def random(cls) -> Ports:
        return cls(free_port(), free_port(), free_port(), free_port())


LOG4J = """Configuration:
  Appenders:
    Console:
      name: STDOUT
      PatternLayout:
        pattern: "[%d] %p %m (%c)%n"
  Loggers:
    Root:
      level: INFO
      AppenderRef:
        - ref: STDOUT
"""


class LocalStack:
    """One Kafka broker (KRaft, broker+controller) and one Apicurio Registry, both on 127.0.0.1."""

    def __init__(self, workdir: Path, ports: Ports | None = None, dist: Distribution | None = None,
                 kafka_heap: str = os.environ.get("HUB_KAFKA_HEAP", "1g")):
        self.workdir = Path(workdir)
        self.ports = ports or Ports.random()
        self.dist = dist
        self.kafka_heap = kafka_heap
        self.logs = self.workdir / "logs"
        self.pids: dict[str, int] = {}

    @property
    def bootstrap(self) -> str:
        return f"127.0.0.1:{self.ports.kafka}"

    @property
    def registry_url(self) -> str:
        return f"http://127.0.0.1:{self.ports.registry}/apis/ccompat/v7"

    def env(self) -> dict[str, str]:
        """Environment for hub processes that should use this stack."""
        return {"HUB_BOOTSTRAP_SERVERS": self.bootstrap, "HUB_REGISTRY_URL": self.registry_url}

    # -- lifecycle -------------------------------------------------------------------------------
    def start(self, timeout: float = 180.0) -> LocalStack:
        self.dist = self.dist or fetch()
        kafka_java, registry_java = find_java(KAFKA_JAVA), find_java(REGISTRY_JAVA)
        self.logs.mkdir(parents=True, exist_ok=True)
        started = time.monotonic()
        try:
            self._start_kafka(kafka_java)
            self._start_registry(registry_java)
            self._save()
            self._wait_kafka(started + timeout)
            self._wait_registry(started + timeout)
        except BaseException:
            self.stop()
            raise
        return self

    def _spawn(self, name: str, cmd: list[str], cwd: Path) -> None:
        log = open(self.logs / f"{name}.log", "ab")
        self.pids[name] = subprocess.Popen(cmd, cwd=cwd, stdout=log, stderr=subprocess.STDOUT,
                                           stdin=subprocess.DEVNULL, start_new_session=True).pid

    def _start_kafka(self, java: str) -> None:
        assert self.dist
        kdir = self.workdir / "kafka"
        kdir.mkdir(parents=True, exist_ok=True)
        p = self.ports
        (kdir / "log4j2.yaml").write_text(LOG4J)
        (kdir / "server.properties").write_text("\n".join([
            "process.roles=broker,controller", "node.id=1",
            f"controller.quorum.bootstrap.servers=127.0.0.1:{p.controller}",
            f"listeners=PLAINTEXT://127.0.0.1:{p.kafka},CONTROLLER://127.0.0.1:{p.controller}",
            f"advertised.listeners=PLAINTEXT://127.0.0.1:{p.kafka}",
            "controller.listener.names=CONTROLLER",
            "listener.security.protocol.map=CONTROLLER:PLAINTEXT,PLAINTEXT:PLAINTEXT",
            f"log.dirs={kdir / 'data'}",
            "offsets.topic.replication.factor=1", "offsets.topic.num.partitions=6",
            "transaction.state.log.replication.factor=1", "transaction.state.log.min.isr=1",
            "share.coordinator.state.topic.replication.factor=1",
            "group.initial.rebalance.delay.ms=0", "num.partitions=1", "auto.create.topics.enable=false",
            "",
        ]))
        base = [java, f"-Xmx{self.kafka_heap}", f"-Dlog4j2.configurationFile={kdir / 'log4j2.yaml'}",
                "-cp", f"{self.dist.kafka_libs}/*"]
        if not (kdir / "data" / "meta.properties").exists():
            fmt = subprocess.run(base + ["kafka.tools.StorageTool", "format", "-t", _cluster_id(),
                                         "-c", str(kdir / "server.properties"), "--standalone"],
                                 capture_output=True, text=True, timeout=120)
            if fmt.returncode != 0:
                raise StackError(f"formatting KRaft storage failed: {fmt.stdout}{fmt.stderr}")
        self._spawn("kafka", base + ["kafka.Kafka", str(kdir / "server.properties")], kdir)

    def _start_registry(self, java: str) -> None:
        assert self.dist
        p = self.ports
        self._spawn("registry", [
            java, "-Xmx512m",
            "-Dquarkus.http.host=127.0.0.1", f"-Dquarkus.http.port={p.registry}",
            "-Dquarkus.management.host=127.0.0.1", f"-Dquarkus.management.port={p.management}",
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
            raise StackError(f"{name} exited during start-up (status {status}); log {self.logs}/{name}.log:\n{tail}")

    def _wait_kafka(self, deadline: float) -> None:
        from aiokafka.admin import AIOKafkaAdminClient

        async def metadata_answers() -> bool:
            admin = AIOKafkaAdminClient(bootstrap_servers=self.bootstrap, request_timeout_ms=3000)
            try:
                await admin.start()
                await admin.describe_cluster()
                return True
            except Exception:
                return False
            finally:
                await admin.close()

        while time.monotonic() < deadline:
            self._check_alive("kafka")
            if _port_open(self.ports.kafka) and asyncio.run(metadata_answers()):
                return
            time.sleep(0.3)
        raise StackError(f"Kafka did not answer metadata requests in time; see {self.logs}/kafka.log")

    def _wait_registry(self, deadline: float) -> None:
        health = f"http://127.0.0.1:{self.ports.management}/health/ready"
        while time.monotonic() < deadline:
            self._check_alive("registry")
            try:
                if (httpx.get(health, timeout=2).status_code == 200
                        and httpx.get(f"{self.registry_url}/subjects", timeout=2).status_code == 200):
                    return
            except httpx.HTTPError:
                pass
            time.sleep(0.3)
        raise StackError(f"the registry did not become ready in time; see {self.logs}/registry.log")

    def stop(self, timeout: float = 20.0) -> None:
        for name in ("registry", "kafka"):
            pid = self.pids.pop(name, None)
            if pid:
                _terminate(pid, timeout)
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
    try:
        os.killpg(pid, signal.SIGTERM)
    except ProcessLookupError:
        return
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        try:
            done, _ = os.waitpid(pid, os.WNOHANG)
            if done:
                return
        except ChildProcessError:  # not our child (hub dev down from another shell)
            try:
                os.kill(pid, 0)
            except ProcessLookupError:
                return
        time.sleep(0.2)
    try:
        os.killpg(pid, signal.SIGKILL)
    except ProcessLookupError:
        pass
