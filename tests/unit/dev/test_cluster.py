"""The local cluster's layout, without starting a JVM: three nodes on distinct loopback ports, each a voter of
one quorum, the hub's topics replicated three times with two replicas in sync required; the single-node stack
keeps its one node under the names it always had."""

from __future__ import annotations

from pathlib import Path

from hub.dev.cluster import LocalCluster
from hub.dev.kafka_node import server_properties
from hub.dev.pki import DevPki
from hub.dev.stack import LocalStack


def test_a_cluster_is_three_voters_on_their_own_ports_with_replication_three(tmp_path: Path) -> None:
    cluster = LocalCluster(tmp_path)
    nodes = cluster.nodes
    assert [n.node_id for n in nodes] == [1, 2, 3]
    ports = [p for n in nodes for p in (n.client, n.internal, n.controller)]
    assert len(set(ports)) == len(ports)
    assert cluster.bootstrap == ",".join(f"127.0.0.1:{n.client}" for n in nodes)
    assert [cluster.node_name(n) for n in nodes] == ["kafka-1", "kafka-2", "kafka-3"]
    settings = cluster.settings(topic_partitions=4)
    assert (settings.replication_factor, settings.min_insync_replicas, settings.topic_partitions) == (3, 2, 4)
    assert settings.bootstrap_list == [n.bootstrap for n in nodes]
    assert cluster.env()["HUB_REPLICATION_FACTOR"] == "3"
    pki = DevPki(*(tmp_path / name for name in ("ca", "server", "cert", "key", "trust")))
    props = server_properties(nodes[1], nodes, pki, tmp_path / "data")
    assert f"controller.quorum.voters=1@127.0.0.1:{nodes[0].controller},2@127.0.0.1:{nodes[1].controller}," \
           f"3@127.0.0.1:{nodes[2].controller}" in props
    assert "min.insync.replicas=2" in props and "default.replication.factor=3" in props


def test_the_single_node_stack_keeps_its_names(tmp_path: Path) -> None:
    stack = LocalStack(tmp_path)
    [node] = stack.nodes
    assert stack.node_name(node) == "kafka" and stack.bootstrap == f"127.0.0.1:{stack.ports.kafka}"
    assert node.client == stack.ports.kafka and node.controller == stack.ports.controller
