"""One secured Kafka 4 node (KRaft, broker + controller) of the local stack or a local cluster of several.

Listeners, all on 127.0.0.1:

* ``CLIENT``     SASL_SSL, SCRAM-SHA-512: every client of the hub, each as its own principal;
* ``INTERNAL``   SSL with client certificates required: broker to broker (replication);
* ``CONTROLLER`` SSL with client certificates required: the KRaft quorum. Controllers cannot use SCRAM
                 among themselves (KAFKA-15513: the SCRAM credentials live in the metadata the quorum is
                 bootstrapping), so they authenticate with the certificate of ``hub.dev.pki``, whose CN
                 ``broker`` is mapped to ``User:broker`` (``ssl.principal.mapping.rules``).

Authorisation: ``StandardAuthorizer`` with ``allow.everyone.if.no.acl.found=false``; the super users are
the brokers and the hub admin only (``hub.access.catalogue.super_users``). The admin's SCRAM credential
is written into the metadata when storage is formatted (``kafka-storage format --add-scram``, KIP-900), so
the cluster is never open, not even for a moment; the other principals are added on the running cluster
by ``hub access apply``. Live connections re-authenticate every ``connections.max.reauth.ms``, so a
revoked or rotated credential stops working within that time.
"""

from __future__ import annotations

import subprocess
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from hub.access.catalogue import ADMIN, super_users
from hub.dev.pki import DevPki

REAUTH_MS = 10 * 60 * 1000

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


class NodeError(RuntimeError):
    pass


@dataclass(frozen=True)
class KafkaNode:
    node_id: int
    client: int  # SASL_SSL port
    internal: int  # inter-broker mutual-TLS port
    controller: int  # KRaft mutual-TLS port

    @property
    def bootstrap(self) -> str:
        return f"127.0.0.1:{self.client}"


def server_properties(node: KafkaNode, voters: Sequence[KafkaNode], pki: DevPki, data_dir: Path) -> str:
    """``server.properties`` of ``node`` in a cluster whose controllers are ``voters`` (all nodes)."""
    n = len(voters)
    rf = min(3, n)
    quorum = ",".join(f"{v.node_id}@127.0.0.1:{v.controller}" for v in voters)
    return "\n".join([
        "process.roles=broker,controller", f"node.id={node.node_id}",
        f"controller.quorum.voters={quorum}",
        f"listeners=CLIENT://127.0.0.1:{node.client},INTERNAL://127.0.0.1:{node.internal},"
        f"CONTROLLER://127.0.0.1:{node.controller}",
        f"advertised.listeners=CLIENT://127.0.0.1:{node.client},INTERNAL://127.0.0.1:{node.internal}",
        "listener.security.protocol.map=CLIENT:SASL_SSL,INTERNAL:SSL,CONTROLLER:SSL",
        "inter.broker.listener.name=INTERNAL", "controller.listener.names=CONTROLLER",
        # clients: SCRAM-SHA-512 over TLS
        "sasl.enabled.mechanisms=SCRAM-SHA-512",
        "listener.name.client.sasl.enabled.mechanisms=SCRAM-SHA-512",
        "listener.name.client.scram-sha-512.sasl.jaas.config="
        "org.apache.kafka.common.security.scram.ScramLoginModule required;",
        f"connections.max.reauth.ms={REAUTH_MS}",
        # TLS: PEM key + chain, PEM CA (KIP-651); brokers and controllers prove themselves by certificate
        "ssl.keystore.type=PEM", f"ssl.keystore.location={pki.server}",
        "ssl.truststore.type=PEM", f"ssl.truststore.location={pki.ca}",
        "ssl.client.auth=none",
        "listener.name.internal.ssl.client.auth=required",
        "listener.name.controller.ssl.client.auth=required",
        "ssl.principal.mapping.rules=RULE:^CN=([a-zA-Z0-9._-]+)$/$1/,DEFAULT",
        # authorisation: nothing without an ACL; super users are the brokers and the hub admin only
        "authorizer.class.name=org.apache.kafka.metadata.authorizer.StandardAuthorizer",
        "allow.everyone.if.no.acl.found=false",
        "super.users=" + ";".join(f"User:{u}" for u in super_users()),
        f"log.dirs={data_dir}",
        f"offsets.topic.replication.factor={rf}", "offsets.topic.num.partitions=6",
        f"transaction.state.log.replication.factor={rf}", f"transaction.state.log.min.isr={min(2, rf)}",
        f"share.coordinator.state.topic.replication.factor={rf}",
        f"default.replication.factor={rf}", f"min.insync.replicas={min(2, rf)}",
        "group.initial.rebalance.delay.ms=0", "num.partitions=1", "auto.create.topics.enable=false",
        "",
    ])


def java_command(java: str, libs: Path, heap: str, log4j: Path) -> list[str]:
    return [java, f"-Xmx{heap}", f"-Dlog4j2.configurationFile={log4j}", "-cp", f"{libs}/*"]


def prepare(node: KafkaNode, voters: Sequence[KafkaNode], pki: DevPki, folder: Path, *, java: str, libs: Path,
            heap: str, cluster_id: str, admin_password: str) -> list[str]:
    """Write the node's configuration, format its storage once (with the admin's SCRAM credential), and
    return the command that runs it."""
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "log4j2.yaml").write_text(LOG4J)
    props = folder / "server.properties"
    props.write_text(server_properties(node, voters, pki, folder / "data"))
    base = java_command(java, libs, heap, folder / "log4j2.yaml")
    if not (folder / "data" / "meta.properties").exists():
        scram = f"SCRAM-SHA-512=[name={ADMIN},password={admin_password}]"
        done = subprocess.run(base + ["kafka.tools.StorageTool", "format", "-t", cluster_id, "-c", str(props),
                                      "--add-scram", scram], capture_output=True, text=True, timeout=120)
        if done.returncode != 0:
            raise NodeError(f"formatting KRaft storage of node {node.node_id} failed: "
                            f"{done.stdout[-2000:]}{done.stderr[-2000:]}")
    return base + ["kafka.Kafka", str(props)]
