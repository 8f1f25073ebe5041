"""Where every intake record went: read the hub's topics back and account for each record. The reading is
I/O (:func:`readback`); the accounting is pure (:func:`account`).

Every intake record the brokers hold (read back from the intake topics, so a record whose write was
answered with an error but landed all the same is counted too) ends in exactly one of:

* **dead-lettered** -- a record on ``hub.dlq.v1`` names its topic, partition and offset (reason counted);
* **routed** -- its (ce_source, ce_id) is on ``hub.lifecycle.v1`` (the hub's outputs keep the input's
  CloudEvents id), the first intake record with that key;
* **dropped as a duplicate** -- a later intake record with a key already routed;
* **stalled** -- none of the above, at or past the consumer group's committed offset: the hub has not got
  past it (yet); **lost** -- none of the above, yet below the committed offset: the hub moved on without it.

Duplicates on the outputs (hub.lifecycle.v1, the MPP feed, agency topics, SLA, notices, audit):
*raw* -- a (topic, ce_source, ce_id) seen before (at-least-once redelivery; consumers drop them);
*after dedup* -- one logical record under two CloudEvents keys (the same request and event id on a
lifecycle-shaped topic, the same request, stage and kind of SLA event), which a consumer deduplicating
by (ce_source, ce_id) would take twice.

Time without progress, per intake partition: how long a record waited at the head of its partition,
from the later of its own write and the previous record's handling, to its own handling (the time of
its first output or dead letter); a record never handled waits until the end of the observation.
"""

from __future__ import annotations

import asyncio
import hashlib
from collections import Counter, defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from aiokafka import AIOKafkaConsumer, TopicPartition

from hub.core.records import SlaEvent
from hub.settings import Settings
from hub.wire.clients import kafka_options, registry
from hub.wire.codec import Codec
from hub.wire.tail import partitions

READBACK_IDLE_S = 60  # polls of a second with nothing before the end: the read-back gives up
CeKey = tuple[str, str]
Where = tuple[str, int, int]  # topic, partition, offset


@dataclass(frozen=True, slots=True)
class Intake:
    topic: str
    partition: int
    offset: int
    ts: float  # seconds (the producer's timestamp)
    ce: CeKey | None  # (ce_source, ce_id) when both headers are readable


@dataclass(frozen=True, slots=True)
class Dead:
    origin: Where | None
    reason: str
    ts: float


@dataclass(frozen=True, slots=True)
class Out:
    topic: str
    ts: float
    ce: CeKey | None
    logical: tuple[str, ...] | None
    digest: str


@dataclass
class Observed:
    intake: list[Intake] = field(default_factory=list)
    dead: list[Dead] = field(default_factory=list)
    outputs: list[Out] = field(default_factory=list)
    lifecycle_topic: str = ""


def _headers(raw: Sequence[tuple[str, bytes | None]] | None) -> dict[str, str]:
    out = {}
    for k, v in raw or ():
        if v is not None:
            out[k] = v.decode("utf-8", "replace")
    return out


def _ce(h: dict[str, str]) -> CeKey | None:
    source, ce_id = h.get("ce_source"), h.get("ce_id")
    return (source, ce_id) if source and ce_id else None


@dataclass(frozen=True, slots=True)
class Raw:
    """A record as read back: ``headers`` None when the client library could not decode them."""

    partition: int
    offset: int
    ts: float
    value: bytes | None
    headers: dict[str, str] | None


async def read_partition(consumer: AIOKafkaConsumer, tp: TopicPartition) -> list[Raw]:
    """Every record of one partition up to its end as it is now. aiokafka's fetcher cannot hand over a record
    whose header keys are not UTF-8 (issue 11; confluent-kafka 2.16 hands over a header list that crashes
    the interpreter): such a record is found by reading one record at a time from the last good one, kept
    as unreadable (no value, no headers, the previous record's time) and skipped."""
    consumer.assign([tp])
    await consumer.seek_to_beginning(tp)
    start = await consumer.position(tp)
    end = (await consumer.end_offsets([tp]))[tp]
    out: list[Raw] = []
    position, last_ts, careful, idle = start, 0.0, False, 0
    while position < end:
        try:
            batch = await consumer.getmany(tp, timeout_ms=1000, max_records=1 if careful else 5000)
        except UnicodeDecodeError:
            if careful:  # the record right after the last good one
                out.append(Raw(tp.partition, position, last_ts, None, None))
                position += 1
            careful = not careful
            consumer.seek(tp, position)
            continue
        records = batch.get(tp, [])
        idle = 0 if records else idle + 1
        if idle > READBACK_IDLE_S:
            raise TimeoutError(f"read-back of {tp.topic}[{tp.partition}] stuck at {position} before {end}")
        for m in records:
            if m.offset >= end:
                break
            last_ts = m.timestamp / 1000
            out.append(Raw(m.partition, m.offset, last_ts, m.value, _headers(m.headers)))
            position = m.offset + 1
    return out


async def read_topics(settings: Settings, topics: Sequence[str]) -> dict[str, list[Raw]]:
    """Every record of ``topics`` up to their ends as they are now (:func:`read_partition`)."""

    async def one(topic: str) -> list[Raw]:
        consumer = AIOKafkaConsumer(enable_auto_commit=False, group_id=None, auto_offset_reset="earliest",
                                    max_partition_fetch_bytes=8 << 20, **kafka_options(settings))
        await consumer.start()
        try:
            return [r for tp in await partitions(consumer, topic) for r in await read_partition(consumer, tp)]
        finally:
            await consumer.stop()

    return dict(zip(topics, await asyncio.gather(*(one(t) for t in topics)), strict=True))


def readback(settings: Settings, intake: Sequence[str]) -> Observed:
    """Every record of the hub's intake, dead-letter and output topics (as the settings' principal)."""
    codec = Codec(registry(settings))
    lifecycle_shaped = {settings.topic_lifecycle, settings.topic_feed}
    outputs = [settings.topic_lifecycle, settings.topic_feed, settings.topic_sla, settings.topic_notify,
               settings.topic_audit]
    seen = Observed(lifecycle_topic=settings.topic_lifecycle)
    agency = asyncio.run(_agency_topics(settings))
    by_topic = asyncio.run(read_topics(settings, [*intake, settings.topic_dlq, *outputs, *agency]))
    for topic in intake:
        for m in by_topic[topic]:
            seen.intake.append(Intake(topic, m.partition, m.offset, m.ts, _ce(m.headers or {})))
    for m in by_topic[settings.topic_dlq]:
        h = m.headers or {}
        try:
            origin: Where | None = (h["dlq_topic"], int(h["dlq_partition"]), int(h["dlq_offset"]))
        except (KeyError, ValueError):
            origin = None
        seen.dead.append(Dead(origin, h.get("dlq_reason", "?"), m.ts))
    for topic in [*outputs, *agency]:
        for m in by_topic[topic]:
            logical: tuple[str, ...] | None = None
            if topic in lifecycle_shaped or topic in agency:
                record = codec.decode(m.value).record
                logical = ("event", record["request_id"], record["event_id"])
            elif topic == settings.topic_sla:
                sla = SlaEvent.model_validate(codec.decode(m.value).record)
                logical = ("sla", sla.request_id, sla.stage.value, sla.kind.value)
            seen.outputs.append(Out(topic, m.ts, _ce(m.headers or {}), logical,
                                    hashlib.sha256(m.value or b"").hexdigest()[:16]))
    return seen


async def _agency_topics(settings: Settings) -> list[str]:
    from aiokafka.admin import AIOKafkaAdminClient

    from hub.core import catalogue

    admin = AIOKafkaAdminClient(**kafka_options(settings))
    await admin.start()
    try:
        existing = set(await admin.list_topics())
    finally:
        await admin.close()
    return [t for t in (settings.agency_topic(a) for a in catalogue.agencies()) if t in existing]


@dataclass
class Fate:
    """What became of one intake record."""

    record: Intake
    outcome: str  # routed | duplicate | dead:<reason> | stalled | lost
    handled: float | None  # when (seconds), for routed and dead-lettered records


def fates(seen: Observed, committed: dict[tuple[str, int], int]) -> list[Fate]:
    """The fate of every intake record (see the module doc)."""
    dead: dict[Where, Dead] = {}
    for letter in seen.dead:
        if letter.origin is not None and (letter.origin not in dead or letter.ts < dead[letter.origin].ts):
            dead[letter.origin] = letter
    routed: dict[CeKey, float] = {}
    for o in seen.outputs:
        if o.topic == seen.lifecycle_topic and o.ce is not None:
            routed[o.ce] = min(o.ts, routed.get(o.ce, o.ts))
    taken: set[CeKey] = set()
    out = []
    for r in sorted(seen.intake, key=lambda r: (r.topic, r.partition, r.offset)):
        d = dead.get((r.topic, r.partition, r.offset))
        if d is not None:
            out.append(Fate(r, f"dead:{d.reason}", d.ts))
        elif r.ce is not None and r.ce in routed:
            first = r.ce not in taken
            taken.add(r.ce)
            out.append(Fate(r, "routed" if first else "duplicate", routed[r.ce] if first else None))
        else:
            past = r.offset < committed.get((r.topic, r.partition), 0)
            out.append(Fate(r, "lost" if past else "stalled", None))
    return out


def output_duplicates(outputs: Sequence[Out]) -> dict[str, Any]:
    """Raw duplicates and duplicates after dedup by (ce_source, ce_id), per output topic (module doc)."""
    raw: Counter[str] = Counter()
    after: Counter[str] = Counter()
    conflicting: Counter[str] = Counter()
    seen: dict[tuple[str, CeKey], str] = {}
    logical: dict[tuple[str, tuple[str, ...]], set[CeKey]] = defaultdict(set)
    for o in outputs:
        if o.ce is None:
            continue
        key = (o.topic, o.ce)
        if key in seen:
            raw[o.topic] += 1
            if seen[key] != o.digest:
                conflicting[o.topic] += 1
        else:
            seen[key] = o.digest
        if o.logical is not None:
            logical[(o.topic, o.logical)].add(o.ce)
    for (topic, _), keys in logical.items():
        if len(keys) > 1:
            after[topic] += len(keys) - 1
    return {"raw": sum(raw.values()), "raw_by_topic": dict(raw), "after_dedup": sum(after.values()),
            "after_dedup_by_topic": dict(after), "same_id_other_content": sum(conflicting.values())}


@dataclass(frozen=True, slots=True)
class Wait:
    """How long one record waited at the head of its partition (``handled`` False: it still waits)."""

    topic: str
    partition: int
    offset: int
    began: float
    seconds: float
    handled: bool


def waits(all_fates: Sequence[Fate], end: float) -> list[Wait]:
    """Every record's wait at the head of its partition (module doc), partition by partition in offset
    order, up to the first record the hub never handled (it waits until ``end``; those behind it too)."""
    by_partition: dict[tuple[str, int], list[Fate]] = defaultdict(list)
    for f in all_fates:
        if f.outcome not in ("duplicate", "lost"):  # no time of their own (the hub moved past them)
            by_partition[(f.record.topic, f.record.partition)].append(f)
    out = []
    for (topic, partition), items in sorted(by_partition.items()):
        previous: float | None = None
        for f in sorted(items, key=lambda f: f.record.offset):
            began = max(f.record.ts, previous) if previous is not None else f.record.ts
            done = f.handled if f.handled is not None else max(end, began)
            out.append(Wait(topic, partition, f.record.offset, began, max(0.0, done - began),
                            f.handled is not None))
            if f.handled is None:
                break
            previous = max(previous or f.handled, f.handled)
    return out


def stalls(all_waits: Sequence[Wait]) -> list[Wait]:
    """The longest wait of each partition, longest first."""
    worst: dict[tuple[str, int], Wait] = {}
    for w in all_waits:
        key = (w.topic, w.partition)
        if key not in worst or w.seconds > worst[key].seconds:
            worst[key] = w
    return sorted(worst.values(), key=lambda w: -w.seconds)


def stall_around(all_waits: Sequence[Wait], at: float, horizon: float = 5.0) -> float:
    """The longest wait at the head of a partition of a record waiting at the instant ``at`` (a fault) or
    written in the ``horizon`` seconds after it (under load, the first records the fault holds up)."""
    return max((w.seconds for w in all_waits if w.began <= at + horizon and w.began + w.seconds >= at),
               default=0.0)


def percentiles(values: Sequence[float]) -> dict[str, float | None]:
    if not values:
        return {"n": 0, "p50": None, "p99": None, "max": None}
    v = sorted(values)

    def q(p: float) -> float:
        return round(v[min(len(v) - 1, int(p * (len(v) - 1) + 0.5))], 3)
    return {"n": len(v), "p50": q(0.50), "p99": q(0.99), "max": round(v[-1], 3)}


def account(seen: Observed, committed: dict[tuple[str, int], int], end: float,
            window: tuple[float, float] | None = None) -> tuple[dict[str, Any], list[Fate], list[Wait]]:
    """The figures of a scenario (``window``: only records written in it count for latency)."""
    all_fates = fates(seen, committed)
    outcomes = Counter(f.outcome for f in all_fates)
    dead = Counter(o.split(":", 1)[1] for o in outcomes.elements() if o.startswith("dead:"))
    all_waits = waits(all_fates, end)
    worst = stalls(all_waits)
    stalled = [s for s in worst if not s.handled]
    latency = [f.handled - f.record.ts for f in all_fates if f.outcome == "routed" and f.handled is not None
               and (window is None or window[0] <= f.record.ts <= window[1])]
    dups = output_duplicates(seen.outputs)
    figures = {
        "records_in": len(seen.intake), "routed": outcomes["routed"], "dead_lettered": sum(dead.values()),
        "dead_lettered_by_reason": dict(dead.most_common()), "duplicates_dropped": outcomes["duplicate"],
        "lost": outcomes["lost"], "stalled": outcomes["stalled"],
        "duplicates_after_dedup": dups["after_dedup"], "raw_duplicates": dups["raw"],
        "output_duplicates": dups,
        "time_without_progress_s": round(worst[0].seconds, 2) if worst else 0.0,
        "worst_partitions": [{"partition": f"{s.topic}[{s.partition}]", "offset": s.offset,
                              "seconds": round(s.seconds, 2), "recovered": s.handled} for s in worst[:5]],
        "stalled_at": [f"{s.topic}[{s.partition}]@{s.offset}" for s in stalled],
        "latency_s": percentiles(latency),
    }
    return figures, all_fates, all_waits
