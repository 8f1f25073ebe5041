"""Scenario family 5: a three-broker KRaft cluster on loopback (``hub.dev.cluster.LocalCluster``: three
JVMs, every topic replicated three times, ``min.insync.replicas=2``, as ``deploy/compose.yaml`` sets it
up) loses one broker to SIGKILL under load and gets it back.

The broker killed is the coordinator of the hub's consumer group (the hardest one to lose: the group must
find a new coordinator as well as new partition leaders). With two of three brokers the cluster keeps
taking ``acks=all`` writes, so no worker should crash and no producer should fail for long. After the
restart, ``isr_restored_s`` is the time until every partition of the hub's topics has its three replicas
in sync again.
"""

from __future__ import annotations

import asyncio
import time
from pathlib import Path
from typing import Any

from aiokafka.admin import AIOKafkaAdminClient

from bench.faults.harness import log
from bench.faults.scenario import Context, Fault, Live, run, wait_until
from hub.dev.cluster import LocalCluster
from hub.settings import Settings
from hub.wire.clients import kafka_options
from hub.wire.topics import topic_specs


async def coordinator(settings: Settings) -> int:
    admin = AIOKafkaAdminClient(**kafka_options(settings))
    await admin.start()
    try:
        return await admin.find_coordinator(settings.app_id)
    finally:
        await admin.close()


async def under_replicated(settings: Settings) -> int:
    """Partitions of the hub's topics with fewer in-sync replicas than replicas."""
    admin = AIOKafkaAdminClient(**kafka_options(settings))
    await admin.start()
    try:
        described = await admin.describe_topics([s.name for s in topic_specs(settings)])
    finally:
        await admin.close()
    return sum(1 for topic in described for p in topic["partitions"] if len(p["isr"]) < len(p["replicas"]))


def _isr_complete(settings: Settings) -> bool:
    try:
        return asyncio.run(under_replicated(settings)) == 0
    except Exception:  # noqa: BLE001 - metadata not answerable yet
        return False


def cluster_broker_loss(workdir: Path, make_context: Any) -> dict[str, Any]:
    """Start the cluster, run the scenario on it, stop it (``make_context(cluster)`` builds the Context)."""
    started = time.monotonic()
    cluster = LocalCluster(workdir / "cluster")
    log("starting a three-broker KRaft cluster (three JVMs) with its registry and identity provider")
    try:
        cluster.start(timeout=300)
        start_s = time.monotonic() - started
        log(f"cluster ready in {start_s:.0f}s: {cluster.bootstrap}")
        ctx: Context = make_context(cluster)
        scale = ctx.scale
        result = run(ctx, "cluster_broker_loss", "three brokers (replication 3, min ISR 2); the group "
                     "coordinator SIGKILLed under load, restarted on its data", inject=_inject(cluster, ctx),
                     load_seconds=3 * scale.settle_s + 2 * scale.broker_down_s + scale.takeover_cap_s + 90)
        result["cluster_start_s"] = round(start_s, 1)
        return result
    finally:
        cluster.stop()


def _inject(cluster: LocalCluster, ctx: Context) -> Any:
    scale = ctx.scale

    def inject(live: Live) -> list[Fault]:
        settings = live.hub.settings
        time.sleep(scale.settle_s)
        node = asyncio.run(coordinator(settings))
        at = time.time()
        cluster.kill_kafka(node_id=node)
        log(f"  broker {node} (the group's coordinator) killed; down for {2 * scale.broker_down_s:.0f}s")
        time.sleep(2 * scale.broker_down_s)
        restarting = time.time()
        cluster.restart_kafka(node_id=node)
        back = time.time()
        isr = wait_until(lambda: _isr_complete(settings), scale.takeover_cap_s, step=1.0)
        log(f"  broker {node} back in {back - restarting:.1f}s; replicas in sync after "
            f"{'%.0fs' % isr if isr is not None else 'the cap'}")
        if isr is None:
            live.problems.append(f"replicas not all in sync {scale.takeover_cap_s:.0f}s after broker {node} "
                                 "came back")
        time.sleep(scale.settle_s)
        live.extra["load"] = live.load.finish()
        return [Fault(f"broker {node} SIGKILL + restart", at, back, {
            "broker": node, "down_s": round(restarting - at, 1), "restart_s": round(back - restarting, 1),
            "isr_restored_s": round(isr, 1) if isr is not None else None})]

    return inject
