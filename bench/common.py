"""Shared helpers: percentiles, an offline registry, the subscriber."""

from __future__ import annotations

import asyncio
import math
import time
from array import array
from collections.abc import Sequence
from dataclasses import dataclass, field

# Correlation is by record key: the hub keys every record of a request by its request id on every topic
# (README, "key = request id"), so the load generator writes the keys it will send (in order) before it
# starts and the send time of each (wall clock, ns, taken just before producer.send) when it is done;
# the subscriber notes the arrival time of the first record of each key on each kind of output topic.


def percentile(sorted_values: Sequence[float], q: float) -> float | None:
    if not sorted_values:
        return None
    k = (len(sorted_values) - 1) * q / 100.0
    lo, hi = math.floor(k), math.ceil(k)
    return sorted_values[lo] + (sorted_values[hi] - sorted_values[lo]) * (k - lo)


def summary_ms(values_ns: list[int]) -> dict:
    """p50/p95/p99/max of nanosecond values, in milliseconds."""
    if not values_ns:
        return {"n": 0}
    v = sorted(values_ns)
    return {"n": len(v), **{f"p{q}": round(percentile(v, q) / 1e6, 2) for q in (50, 95, 99)},
            "max": round(v[-1] / 1e6, 2), "mean": round(sum(v) / len(v) / 1e6, 2)}


@dataclass
class Arrivals:
    """What a subscriber saw of one phase: first arrival (wall ns) per key and kind of topic."""

    expected: int
    kinds: tuple[str, ...]
    arrival: dict[str, array] = field(default_factory=dict)
    count: dict[str, int] = field(default_factory=dict)
    duplicates: int = 0
    foreign: int = 0
    first_arrival_ns: int | None = None
    last_arrival_ns: int | None = None

    def __post_init__(self) -> None:
        for k in self.kinds:
            self.arrival[k] = array("q", bytes(8 * self.expected))
            self.count[k] = 0

    @property
    def complete(self) -> bool:
        return all(c >= self.expected for c in self.count.values())

    def latencies(self, sent_ns: array) -> dict[str, list[int]]:
        out = {}
        for k, arr in self.arrival.items():
            out[k] = [a - s for a, s in zip(arr, sent_ns, strict=False) if a and s]
        return out

    def primary_arrivals(self) -> list[int]:
        return [a for a in self.arrival[self.kinds[0]] if a]


class Subscriber:
    """A consumer on every partition of the output topics (no group), positioned at their end before a
    phase starts, like an agency's or the service mall's consumer."""

    def __init__(self, kafka: dict, kind_of_topic: dict[str, str]):
        self.kafka = kafka  # client options (hub.wire.clients.kafka_options of the admin's settings)
        self.kind_of_topic = kind_of_topic
        self.consumer = None

    async def start(self) -> Subscriber:
        from aiokafka import AIOKafkaConsumer, TopicPartition

        self.consumer = c = AIOKafkaConsumer(**self.kafka, group_id=None,
                                             enable_auto_commit=False, auto_offset_reset="latest",
                                             fetch_max_wait_ms=20, max_partition_fetch_bytes=4 << 20)
        await c.start()
        parts = []
        for topic in self.kind_of_topic:
            found = c.partitions_for_topic(topic)
            if not found:
                await c._client.force_metadata_update()
                found = c.partitions_for_topic(topic) or set()
            parts += [TopicPartition(topic, p) for p in found]
        c.assign(parts)
        await c.seek_to_end(*parts)
        for tp in parts:
            await c.position(tp)
        return self

    async def stop(self) -> None:
        if self.consumer:
            await self.consumer.stop()

    async def count_any(self, expected: int, timeout: float) -> int:
        """Count every record (warm-up)."""
        got, end = 0, time.monotonic() + timeout
        while got < expected and time.monotonic() < end:
            batch = await self.consumer.getmany(timeout_ms=100, max_records=10_000)
            got += sum(len(ms) for ms in batch.values())
        return got

    async def collect(self, index: dict[bytes, int], *, deadline: asyncio.Future | None = None,
                      hard_timeout: float = 900.0) -> Arrivals:
        """Read until every kind has a record for every key of ``index`` (key -> sequence number),
        ``deadline`` (a future holding a monotonic time) has passed, or ``hard_timeout``."""
        kinds = tuple(dict.fromkeys(self.kind_of_topic.values()))
        a = Arrivals(len(index), kinds)
        kind_of = self.kind_of_topic
        end = time.monotonic() + hard_timeout
        getmany = self.consumer.getmany
        get = index.get
        while not a.complete:
            now_m = time.monotonic()
            if now_m > end or (deadline is not None and deadline.done() and now_m > deadline.result()):
                break
            batch = await getmany(timeout_ms=50, max_records=20_000)
            if not batch:
                continue
            now = time.time_ns()
            for tp, messages in batch.items():
                kind = kind_of[tp.topic]
                arr = a.arrival[kind]
                new = 0
                for m in messages:
                    seq = get(m.key)
                    if seq is None:
                        a.foreign += 1
                    elif arr[seq]:
                        a.duplicates += 1
                    else:
                        arr[seq] = now
                        new += 1
                a.count[kind] += new
            a.first_arrival_ns = a.first_arrival_ns or now
            a.last_arrival_ns = now
        return a


def throughput(a: Arrivals, send_start_ns: int) -> dict:
    """End-to-end rate (first send -> last arrival) and the steady rate over the middle 80% of arrivals."""
    arr = sorted(a.primary_arrivals())
    n = len(arr)
    out: dict = {"delivered": n, "expected": a.expected, "complete": a.complete,
                 "per_kind": dict(a.count), "duplicates": a.duplicates, "foreign": a.foreign}
    if n:
        span = (arr[-1] - send_start_ns) / 1e9
        out["end_to_end_eps"] = round(n / span, 1) if span > 0 else None
        out["span_s"] = round(span, 2)
    if n >= 20:
        i10, i90 = int(n * 0.1), int(n * 0.9)
        dt = (arr[i90] - arr[i10]) / 1e9
        out["steady_eps"] = round((i90 - i10) / dt, 1) if dt > 0 else None
    return out
