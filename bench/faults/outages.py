"""Scenario family 3: the infrastructure goes away under load.

* ``broker_kill`` -- the stack's only broker is killed with SIGKILL (``LocalStack.kill_kafka``), stays down
  for a while and is started again on its data (``restart_kafka``). Producers and workers must wait and
  resume; nothing written before may be lost. A worker that exits meanwhile is restarted by the
  harness (counted, reported, not held against the hub: the brokers were gone).
* ``registry_down`` -- the schema registry is frozen with SIGSTOP for 30 s and thawed with SIGCONT (its
  storage is in memory: a kill would lose every schema). Schema ids the workers already hold need no
  registry; a handful of records with ids nobody registered are written meanwhile: they can only be
  judged once the registry answers, and must not hold up the records behind them longer than the outage.
"""

from __future__ import annotations

import asyncio
import os
import signal
import struct
import time
from typing import Any

from aiokafka import AIOKafkaProducer

from bench.faults.harness import Hub, log, positions
from bench.faults.poison import Forge, Sample
from bench.faults.scenario import Context, Fault, Live, run, wait_until
from hub.wire.clients import kafka_options, registry
from hub.wire.codec import Codec

UNKNOWN_IDS = 6


def _resumed(live: Live) -> bool:
    try:
        before = asyncio.run(positions(live.hub.settings, live.hub.intake))
        time.sleep(1.0)
        after = asyncio.run(positions(live.hub.settings, live.hub.intake))
    except Exception:  # noqa: BLE001 - the broker is not answering yet
        return False
    return any(after[tp][0] > before[tp][0] for tp in before if tp in after)


def broker_kill(ctx: Context) -> dict[str, Any]:
    scale = ctx.scale
    stack = ctx.stack

    def inject(live: Live) -> list[Fault]:
        time.sleep(scale.settle_s)
        at = time.time()
        stack.kill_kafka()
        log(f"  broker killed (SIGKILL); down for {scale.broker_down_s:.0f}s")
        time.sleep(scale.broker_down_s)
        restarting = time.time()
        stack.restart_kafka()
        back = time.time()
        log(f"  broker back in {back - restarting:.1f}s")
        resumed = wait_until(lambda: _resumed(live), scale.takeover_cap_s)
        time.sleep(scale.settle_s)
        live.extra["load"] = live.load.finish()
        return [Fault("broker SIGKILL + restart", at, back, {
            "down_s": round(restarting - at, 1), "restart_s": round(back - restarting, 1),
            "progress_resumed_after_restart_s": round(resumed, 1) if resumed is not None else None})]

    return run(ctx, "broker_kill", "the only broker SIGKILLed under load, restarted on its data",
               inject=inject,
               load_seconds=3 * scale.settle_s + scale.broker_down_s + scale.takeover_cap_s + 60,
               crashes_fail=False)


def unknown_id_samples(hub: Hub, n: int, seed: int) -> list[Sample]:
    """Valid desk records whose schema id nobody registered (built while the registry still answers)."""
    forge = Forge(hub.settings, Codec(registry(hub.settings)), seed=seed)
    out = []
    for i in range(n):
        s = forge.valid_desk()[0]
        assert s.value is not None
        value = struct.pack(">BI", 0, 1_900_000_000 + seed * 100 + i) + s.value[5:]
        out.append(Sample("unknown_schema_id_while_registry_down", "refuse", s.topic, s.principal, s.key,
                          value, s.headers))
    return out


async def write(hub: Hub, samples: list[Sample]) -> list[tuple[str, int, int]]:
    """Write ``samples``, each as its principal; returns where each landed."""
    producers: dict[str, AIOKafkaProducer] = {}
    written = []
    try:
        for s in samples:
            if s.principal not in producers:
                settings = hub.stack.credentials.settings_for(hub.settings, s.principal)
                producers[s.principal] = p = AIOKafkaProducer(**kafka_options(settings), acks="all")
                await p.start()
            meta = await producers[s.principal].send_and_wait(s.topic, s.value, key=s.key,
                                                              headers=list(s.headers))
            written.append((s.topic, meta.partition, meta.offset))
    finally:
        for p in producers.values():
            await p.stop()
    return written


def registry_down(ctx: Context) -> dict[str, Any]:
    scale = ctx.scale
    stack = ctx.stack

    def inject(live: Live) -> list[Fault]:
        samples = unknown_id_samples(live.hub, UNKNOWN_IDS, ctx.seed)
        time.sleep(scale.settle_s)
        pid = stack.pids["registry"]
        os.killpg(pid, signal.SIGSTOP)
        at = time.time()
        log(f"  registry frozen (SIGSTOP) for {scale.registry_down_s:.0f}s; {len(samples)} records of "
            "unknown schema ids sent")
        try:
            written = asyncio.run(write(live.hub, samples))
            live.injected.update(written)
            time.sleep(max(0.0, at + scale.registry_down_s - time.time()))
        finally:
            os.killpg(pid, signal.SIGCONT)
        back = time.time()
        time.sleep(scale.settle_s)
        live.extra["load"] = live.load.finish()
        return [Fault("registry SIGSTOP / SIGCONT", at, back, {"unknown_schema_ids_written": len(written)})]

    return run(ctx, "registry_down", f"the schema registry frozen (SIGSTOP) for {scale.registry_down_s:.0f}s "
               "under load, with records of unknown schema ids meanwhile", inject=inject,
               load_seconds=3 * scale.settle_s + scale.registry_down_s + 60)
