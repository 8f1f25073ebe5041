"""Mall traffic without a broker: simulated requests run through the hub's real lifecycle engine offline,
giving the exact records a worker writes to the mall feed, the SLA topic and the audit topic.

For the mall's property tests (the view equals a replay whatever the order and duplicates) and its
benchmark (events applied per second), and for integration tests that publish pre-built records. The
engine (``hub.streams.engine``, ``hub.streams.journey``) is the worker's own code; only the schema registry
is in memory (:class:`MemoryRegistry`), and SLA timers fire in event time instead of on a wall-clock tick.
"""

from __future__ import annotations

import heapq
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from hub.core import catalogue
from hub.core.lifecycle import Status
from hub.core.models import RequestLifecycleEvent
from hub.dev.simulator import schedule, village_requests
from hub.dev.sources import route, source_of
from hub.errors import RecordError
from hub.settings import Settings
from hub.streams import journey, timing
from hub.streams.engine import RequestEngine, Result
from hub.streams.entry import JourneyEntry, RequestEntry
from hub.streams.kafka_io import Outgoing
from hub.wire import cloudevents as ce
from hub.wire.codec import Codec, load_schema
from hub.wire.deadletter import Origin
from hub.wire.partitioner import CachedPartitioner
from hub.wire.registry import MemoryRegistry


@dataclass(frozen=True, slots=True)
class Written:
    """One record the worker would write, with the partition and offset it would get."""

    topic: str
    partition: int
    offset: int
    key: bytes
    value: bytes
    headers: list[tuple[str, bytes]]


def journey_events(n: int, *, seed: int, now: datetime) -> list[tuple[RequestLifecycleEvent, str]]:
    """``n`` new-electricity journeys: a NIK check at Dukcapil (completed), then a PLN connection."""
    out = []
    for i, base in enumerate(village_requests(n, seed=seed + 1, now=now)):
        parent = f"JR-{seed}-{i:04d}"
        t0 = base.occurred_at - timedelta(hours=2)
        nik = base.model_copy(update={"request_id": f"{parent}-NIK", "event_id": f"{parent}-NIK/1",
                                      "service_code": "DUKCAPIL_VERIFIKASI_NIK", "agency": "dukcapil",
                                      "parent_request_id": parent, "occurred_at": t0})
        done = nik.model_copy(update={"event_id": f"{parent}-NIK/2", "status": Status.COMPLETED,
                                      "citizen": None, "source_system": "siak-dukcapil",  # Dukcapil answers
                                      "native_status": "selesai", "occurred_at": t0 + timedelta(minutes=20)})
        pln = base.model_copy(update={"request_id": f"{parent}-PLN", "event_id": f"{parent}-PLN/1",
                                      "service_code": "PLN_PASANG_BARU_TANPA_PERLUASAN", "agency": "pln",
                                      "parent_request_id": parent, "occurred_at": t0 + timedelta(minutes=40)})
        out += [(e, source_of(e)) for e in (nik, done, pln)]  # each from its own system
    return out


class OfflineHub:
    """The lifecycle engine fed in event-time order; collects what it writes, positioned per partition."""

    def __init__(self, settings: Settings, codec: Codec | None = None):
        self.settings = settings
        self.codec = codec or Codec(MemoryRegistry(), register=True)
        self.engine = RequestEngine(settings, self.codec, catalogue.agencies())
        self.intake = self.codec.encoder(settings.desk_intake_topic(next(iter(settings.desk_node_prefixes))),
                                         load_schema(settings.schemas_dir, RequestLifecycleEvent.SCHEMA))
        self.requests: dict[str, RequestEntry] = {}
        self.journeys: dict[str, JourneyEntry] = {}
        self.timers: dict[tuple[str, str], datetime] = {}
        self.written: list[Written] = []
        self.submitted: list[RequestLifecycleEvent] = []  # the intake events (NIKs included: for tests only)
        self._next: dict[tuple[str, int], int] = {}
        self._partitioner = CachedPartitioner()
        self._n = 0

    def _write(self, outs: Iterable[Outgoing]) -> None:
        parts = list(range(self.settings.topic_partitions))
        for out in outs:
            if out.topic == self.settings.topic_journey:
                self._step(out)
                continue
            assert out.key is not None and out.value is not None
            p = self._partitioner(out.key, parts, parts)
            offset = self._next.get((out.topic, p), 0)
            self._next[(out.topic, p)] = offset + 1
            self.written.append(Written(out.topic, p, offset, out.key, out.value, out.headers))

    def _take(self, result: Result, table: dict[str, Any], key: str) -> None:
        if result.entry is not None:
            table[key] = result.entry
        for rid, kind in result.disarm:
            self.timers.pop((rid, kind), None)
        for rid, kind, at in result.arm:
            self.timers[(rid, kind)] = at
        self._write(result.outs)

    def _step(self, out: Outgoing) -> None:
        parent = out.key.decode() if out.key else ""
        try:
            result = journey.on_step(self.engine.out, self.journeys.get(parent), out.key, out.value,
                                     out.headers, 0)
        except RecordError:
            return
        self._take(result, self.journeys, parent)

    def tick(self, until: datetime) -> None:
        """Fire every timer due by ``until``, in time order (timers armed meanwhile included)."""
        while True:
            due = [(at, rid, kind) for (rid, kind), at in self.timers.items() if at <= until]
            if not due:
                return
            at, rid, kind = heapq.nsmallest(1, due)[0]
            del self.timers[(rid, kind)]
            stage, sla_kind = timing.parse_timer_kind(kind)
            if stage.value == "JOURNEY":
                self._take(journey.on_tick(self.engine.out, self.journeys.get(rid), sla_kind, at),
                           self.journeys, rid)
            else:
                self._take(self.engine.on_tick(self.requests.get(rid), sla_kind, at), self.requests, rid)

    def submit(self, event: RequestLifecycleEvent, source: str) -> None:
        """One intake record (dead letters and duplicates are dropped, as the worker would)."""
        self.tick(event.occurred_at)
        self.submitted.append(event)
        # each source writes its own intake topic (hub.dev.sources): the identity the worker checks
        topic, _, source = route(self.settings, event,
                                 source if source.startswith(("/agency/", "/smart-kampung/")) else None)
        meta = ce.CloudEvent(event.event_id, source, event.CE_TYPE, event.request_id, event.occurred_at)
        origin = Origin(topic, 0, self._n)
        self._n += 1
        rid = event.request_id
        try:
            result = self.engine.on_intake(self.requests.get(rid), rid.encode(), self.intake(event.to_avro()),
                                           ce.to_headers(meta), origin, 0)
        except RecordError:
            return
        self._take(result, self.requests, rid)


def traffic(settings: Settings, *, seed: int = 7, rate: float = 20.0, duration: float = 30.0,
            backlog: int = 12, journeys: int = 3, now: datetime | None = None, codec: Codec | None = None,
            ) -> OfflineHub:
    """Simulated requests (with the simulator's duplicates, late and out-of-order answers), a backlog of
    old unanswered requests (SLA warnings and breaches) and a few journeys, run through the engine; timers
    fire up to the last event's time."""
    now = now or datetime.now(UTC).replace(microsecond=0)
    hub = OfflineHub(settings, codec)
    items = [(s.event, s.source) for s in schedule(seed=seed, rate=rate, duration=duration, now=now,
                                                   day_seconds=2.0)]
    old = [e.model_copy(update={"occurred_at": e.occurred_at - timedelta(days=1 + i % 6)})
           for i, e in enumerate(village_requests(backlog, seed=seed + 100, now=now))]
    first = sorted([(e, f"/smart-kampung/{e.region_code}") for e in old]
                   + journey_events(journeys, seed=seed, now=now), key=lambda p: p[0].occurred_at)
    for event, source in first + items:  # the schedule in publication order: its anomalies stay
        hub.submit(event, source)
    hub.tick(max((e.occurred_at for e, _ in first + items), default=now))
    return hub
