"""Scenario family 4: slow subscribers. Halfway through a steady load, two subscribers start reading slowly
and keep at it (one record every :data:`PAUSE_S`): agency Dukcapil on its topic and a village-desk node on
the MPP feed, each as its own principal in a consumer group of its own prefix. Kafka keeps every consumer's
position apart, so the hub must not notice: its end-to-end latency (intake write to hub.lifecycle.v1) in the
second half is held to the first half's (:data:`SLOWDOWN_LIMIT`), and every record is routed.
"""

from __future__ import annotations

import asyncio
import threading
import time
from typing import Any

from aiokafka import AIOKafkaConsumer

from bench.faults.accounting import Fate, Wait, percentiles
from bench.faults.harness import Hub, log
from bench.faults.scenario import Context, Fault, Live, run
from hub.access.catalogue import agency_group_prefix, agency_principal, desk_group_prefix, desk_principal
from hub.wire.clients import kafka_options

PAUSE_S = 0.5
#: The slow half may be this many times slower (p50) than the first before it counts against the hub, and
#: by at least a second (the machine is shared: small absolute changes are noise).
SLOWDOWN_LIMIT = 3.0


class SlowReader:
    """A consumer that reads one record every ``PAUSE_S`` seconds, in a thread of its own."""

    def __init__(self, hub: Hub, principal: str, topic: str, group: str):
        self.settings = hub.stack.credentials.settings_for(hub.settings, principal)
        self.topic, self.group, self.principal = topic, group, principal
        self.read = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=lambda: asyncio.run(self._run()), daemon=True)

    async def _run(self) -> None:
        consumer = AIOKafkaConsumer(self.topic, group_id=self.group, auto_offset_reset="earliest",
                                    max_poll_records=1, fetch_max_bytes=64 * 1024,
                                    max_partition_fetch_bytes=16 * 1024, **kafka_options(self.settings))
        await consumer.start()
        try:
            while not self._stop.is_set():
                batch = await consumer.getmany(timeout_ms=500, max_records=1)
                self.read += sum(len(records) for records in batch.values())
                await asyncio.sleep(PAUSE_S)
        finally:
            await consumer.stop()

    def start(self) -> SlowReader:
        self._thread.start()
        return self

    def stop(self) -> dict[str, Any]:
        self._stop.set()
        self._thread.join(30)
        return {"principal": self.principal, "topic": self.topic, "records_read": self.read}


def slow_subscriber(ctx: Context) -> dict[str, Any]:
    half = ctx.scale.phase_s
    windows: dict[str, tuple[float, float]] = {}

    def inject(live: Live) -> list[Fault]:
        s = live.hub.settings
        node = next(iter(s.desk_node_prefixes))
        begin = live.load.started_at or time.time()
        time.sleep(half)
        readers = [SlowReader(live.hub, agency_principal("dukcapil"), s.agency_topic("dukcapil"),
                              f"{agency_group_prefix('dukcapil')}faults-slow").start(),
                   SlowReader(live.hub, desk_principal(node), s.topic_feed,
                              f"{desk_group_prefix(node)}faults-slow").start()]
        at = time.time()
        log(f"  {len(readers)} slow subscribers reading one record every {PAUSE_S}s")
        windows["before"], windows["with slow subscribers"] = (begin, at), (at + 2.0, at + half)
        time.sleep(half)
        until = time.time()
        live.extra["load"] = live.load.finish()
        return [Fault("slow subscribers", at, until, {"readers": [r.stop() for r in readers]})]

    def judge(live: Live, result: dict[str, Any], fates: list[Fate], waits: list[Wait]) -> None:
        latency = {name: percentiles([f.handled - f.record.ts for f in fates if f.outcome == "routed"
                                      and f.handled is not None and a <= f.record.ts <= b])
                   for name, (a, b) in windows.items()}
        result["latency_by_phase_s"] = latency
        before, during = latency["before"]["p50"], latency["with slow subscribers"]["p50"]
        if before is not None and during is not None and during > max(SLOWDOWN_LIMIT * before, before + 1.0):
            live.problems.append(f"the hub slowed down with slow subscribers: p50 {before}s -> {during}s")

    return run(ctx, "slow_subscriber", "steady load; halfway, subscribers that read one record every "
               f"{PAUSE_S}s (agency Dukcapil, a desk node on the feed)", inject=inject, judge=judge,
               load_seconds=2 * half + 30)
