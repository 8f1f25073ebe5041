"""A local Kafka cluster of several KRaft nodes (three by default) with the stack's registry and Keycloak.

The set-up ``deploy/compose.yaml`` describes, on loopback: every node a broker and a controller (the
quorum is all of them), topics replicated three times with ``min.insync.replicas=2``
(``hub.dev.kafka_node.server_properties``), so the cluster keeps taking writes with ``acks=all`` while one
node is away. Everything else is :class:`hub.dev.stack.LocalStack`'s, unchanged: the dev CA, SASL_SSL with
SCRAM-SHA-512 for clients and mutual TLS between nodes, the credential store, Apicurio behind Keycloak.
The fault campaign (``bench/faults``) kills one node with SIGKILL under load and brings it back.

    with LocalCluster(workdir) as cluster:            # 3 JVMs + registry + Keycloak, ~40 s on 2 cores
        settings = cluster.settings()                 # the admin's; replication 3, min ISR 2
        cluster.kill_kafka(node_id=2)                 # SIGKILL one node
        cluster.restart_kafka(node_id=2)              # back on its data; returns when it is in the metadata

Each node keeps its folder (``kafka-<id>``: configuration, KRaft storage) and its log
(``logs/kafka-<id>.log``); its process id is ``pids["kafka-<id>"]``.
"""

from __future__ import annotations

import os
from pathlib import Path

from hub.access.catalogue import ADMIN
from hub.dev.kafka_node import KafkaNode
from hub.dev.stack import Distribution, LocalStack, Ports, free_port
from hub.settings import Settings

BROKERS = 3
REPLICATION = 3
MIN_INSYNC = 2
#: Heap of each node: three JVMs share the machine with the registry, Keycloak and the hub.
NODE_HEAP = os.environ.get("HUB_KAFKA_HEAP", "512m")


class LocalCluster(LocalStack):
    """``brokers`` Kafka nodes (each broker and controller), Apicurio Registry and Keycloak on 127.0.0.1."""

    def __init__(self, workdir: Path, brokers: int = BROKERS, ports: Ports | None = None,
                 dist: Distribution | None = None, kafka_heap: str = NODE_HEAP):
        if brokers < 1:
            raise ValueError("a cluster needs at least one broker")
        super().__init__(workdir, ports, dist, kafka_heap)
        p = self.ports
        self._nodes = [KafkaNode(1, p.kafka, p.internal, p.controller),
                       *(KafkaNode(i, free_port(), free_port(), free_port()) for i in range(2, brokers + 1))]

    @property
    def nodes(self) -> list[KafkaNode]:
        return list(self._nodes)

    def node_name(self, node: KafkaNode) -> str:
        return f"kafka-{node.node_id}"

    @property
    def replication(self) -> tuple[int, int]:
        """(replication factor, min in-sync replicas) of the hub's topics on this cluster."""
        n = len(self._nodes)
        return min(REPLICATION, n), min(MIN_INSYNC, n)

    def env(self, principal: str = ADMIN) -> dict[str, str]:
        rf, isr = self.replication
        return {**super().env(principal), "HUB_REPLICATION_FACTOR": str(rf),
                "HUB_MIN_INSYNC_REPLICAS": str(isr)}

    def settings(self, principal: str = ADMIN, **overrides: object) -> Settings:
        rf, isr = self.replication
        values: dict[str, object] = {"replication_factor": rf, "min_insync_replicas": isr, **overrides}
        return super().settings(principal, **values)
