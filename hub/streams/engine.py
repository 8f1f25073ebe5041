"""The request engine: what one input record means for its request, without Faust or Kafka. Plain data in and
out: (typed table entry, record) -> (new entry, records out, timers); the records themselves are built by the
output factory (``hub.streams.outputs``).

Inputs (all keyed by the id whose table entry they touch, so all co-partitioned):
* intake: decode -> CloudEvents attributes and the producer's identity (``hub.streams.identity``: the topic is
  the proof, the payload a claim) -> admit -> dedup -> lifecycle.apply -> SLA clock -> enrich -> fan-out
  (agency, MPP feed, citizen notice, audit, journey step);
* SLA timer ticks: warning / breach, once per request (or journey) and stage;
* journey steps (``hub.streams.journey``): a child's accepted event folded into its parent journey.

The table entry is ``hub.streams.entry.RequestEntry``. Deduplication: the same (ce_source, ce_id) or event id
with the same content is a duplicate (dropped, counted), with other content a conflict (dead letter). The same
record at the same topic/partition/offset is *our own redelivery* after a crash (state was saved, the offset
not committed): its outputs are sent again, with the same CloudEvents ids, so consumers deduplicating by
(ce_source, ce_id) see each output once.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from datetime import date, datetime
from typing import Any

import msgspec

from hub.core import catalogue, notices, sla
from hub.core.admission import admit_record, check_after_first
from hub.core.catalogue import Service
from hub.core.enrichment import citizen_check, citizen_ref, enrichment_record
from hub.core.lifecycle import TERMINAL, RequestState, Status, Transition, apply
from hub.core.records import SlaKind, SlaStage, moves_personal_data, notice_record
from hub.errors import Conflict, IllegalTransition
from hub.settings import Settings
from hub.streams import timing
from hub.streams.entry import Clock, JourneyEntry, RequestEntry, Seen, Timer, steps
from hub.streams.identity import check_attributes, check_identity
from hub.streams.kafka_io import Outgoing, read_record
from hub.streams.outputs import Outputs
from hub.wire import cloudevents as ce
from hub.wire.codec import Codec
from hub.wire.deadletter import Origin
from hub.wire.topics import intake_sources

TimerAt = tuple[str, str, datetime]  # (id, "<STAGE>:<KIND>", at)


@dataclass(slots=True)
class Result:
    entry: RequestEntry | JourneyEntry | None = None  # None: leave the table as it is
    outs: list[Outgoing] = field(default_factory=list)
    arm: list[TimerAt] = field(default_factory=list)
    disarm: list[tuple[str, str]] = field(default_factory=list)
    duplicate: bool = False
    redelivery: bool = False
    accepted: dict[str, Any] | None = None  # the enriched record of an accepted event
    status_change: tuple[str, Status | None, Status] | None = None  # (agency, old, new)
    sla: list[tuple[str, str, str]] = field(default_factory=list)  # (agency, code, kind)
    source: str = "other"  # the intake source (metric label): "desk:<node>" or "agency:<code>"


def _json_time(value: datetime) -> str:
    """A UTC time as pydantic writes it in JSON mode."""
    return value.isoformat().replace("+00:00", "Z")


def digest_record(record: dict[str, Any]) -> str:
    """Content fingerprint of an intake record (the hub's enrichment excluded): the one workers before the
    binary table entries computed from the model (``model_dump(mode="json")``), so entries they wrote still
    recognise duplicates."""
    body = {**record, "enrichment": None, "occurred_at": _json_time(record["occurred_at"])}
    citizen = record["citizen"]
    if citizen is not None and isinstance(citizen["birth_date"], date):
        body["citizen"] = {**citizen, "birth_date": citizen["birth_date"].isoformat()}
    return hashlib.sha256(json.dumps(body, sort_keys=True).encode()).hexdigest()[:32]


def rearmed(armed: list[Timer], result: Result) -> list[Timer]:
    """An entry's armed timers after a result's disarms and arms (the result's timers are all of that key)."""
    gone = {kind for _, kind in result.disarm}
    timers = {t.kind: t for t in armed if t.kind not in gone}
    for _, kind, at in result.arm:
        timers[kind] = Timer.of(kind, at)
    return list(timers.values())


def without(armed: list[Timer], kind: str) -> list[Timer]:
    return [t for t in armed if t.kind != kind]


class RequestEngine:
    """Decides what each input means for its request (build once per worker; call per record)."""

    def __init__(self, settings: Settings, codec: Codec, agencies: Sequence[str]):
        self.settings = settings
        self.codec = codec
        self.out = Outputs(settings, codec, agencies)
        self.sources = intake_sources(settings)  # intake topic -> who may write it (hub.streams.identity)
        self.key = settings.citizen_ref_key.get_secret_value().encode() if settings.citizen_ref_key else None

    # ------------------------------------------------------------------ intake ---------------
    def on_intake(self, entry: RequestEntry | None, key: bytes | None, value: bytes | None,
                  headers: Sequence[tuple[str, bytes]] | None, origin: Origin, partition: int) -> Result:
        meta, received = read_record(self.codec, key, value, headers)
        check_attributes(meta, received)
        record, service = admit_record(received)  # in normal form (trimmed text, E.164 phone) from here on
        source = self.sources.get(origin.topic)
        if source is not None:  # what the producer may claim, on content already known to be well formed
            check_identity(source, meta, record)
        label = f"{source.kind}:{source.name}" if source is not None else "other"
        fp = digest_record(received)  # as the producer wrote it: the same record always has the same digest
        event_id = record["event_id"]
        if entry is not None:
            seen = entry.seen_as(meta.source, meta.id)
            if seen is not None:
                if seen.digest != fp:
                    raise Conflict(f"event {meta.source}|{meta.id} was first seen at {seen.topic}"
                                   f"[{seen.partition}]@{seen.offset} with other content")
                here = (origin.topic, origin.partition, origin.offset)
                if (seen.topic, seen.partition, seen.offset) == here:
                    return replace(self._emit(entry, entry.state(), record, meta, service, redelivery=True),
                                   source=label)
                return Result(duplicate=True, source=label)
            known = entry.digest_of(event_id)
            if known is not None:
                if known != fp:
                    raise Conflict(f"event_id {event_id} of request {record['request_id']} was seen before "
                                   f"with other content")
                return Result(duplicate=True, source=label)
            if (record["service_code"], record["agency"]) != (entry.service, entry.agency):
                raise Conflict(f"request {record['request_id']} is {entry.service} at {entry.agency}, "
                               f"this event says {record['service_code']} at {record['agency']}")
        state = entry.state() if entry is not None else None
        status = Status(record["status"])
        # "The request's first event" is its submission: each source writes its own topic, so an agency's
        # answer may be read before the desk's submission of the same request (no order across topics) and
        # the submission, arriving later, is placed before it by its time. An answer may not be dated
        # before the submission.
        submitted = [h.occurred_at for h in state.history if h.status is Status.SUBMITTED] if state else []
        if status is not Status.SUBMITTED and state is not None and not state.dropped and submitted:
            check_after_first(record["occurred_at"], min(submitted))
        t = Transition(event_id, status, record["occurred_at"], record["native_status"], seq=origin.offset)
        # An agency may be a request's first voice: it learns of requests on its own topic, but also at its
        # own counter, and its answer may be read before the desk's submission (no order across topics).
        first_voice = source is not None and source.kind == "agency"
        # For the same reason a desk's resubmission may be read before the agency's RETURNED that came
        # before it: it is not refused, and the RETURNED is placed before it once read (fault campaign).
        outcome = apply(state, record["request_id"], t, allow_any_first=first_voice,
                        resubmission_may_overtake=True)
        if not outcome.accepted or outcome.state is None:
            raise IllegalTransition(outcome.reason or "not accepted")
        new_state = outcome.state
        old_clock = entry.sla_clock() if entry is not None else None
        clock = (timing.clock_for(new_state, service.sla_working_days, old_clock)
                 if service.sla_kind == "working_days" else None)
        citizen = record["citizen"]
        nik = citizen["nik"] if citizen else None
        new_entry = RequestEntry(
            partition, record["agency"], new_state.status.value, list(entry.armed) if entry else [],
            new_state.request_id, new_state.updated_at, new_state.returned_since, new_state.dropped,
            steps(new_state), record["service_code"], entry.region if entry else record["region_code"],
            (entry.parent if entry else None) or record["parent_request_id"], Clock.of(clock),
            list(entry.fired) if entry else [], bool(entry and entry.done),
            RequestEntry.reference(citizen_ref(nik, self.key)) or (entry.ref_bytes if entry else None),
            RequestEntry.reference(citizen_check(record["request_id"], nik, self.key))
            or (entry.chk_bytes if entry else None),
            (citizen["phone"] if citizen and citizen["phone"] else None) or (entry.phone if entry else None),
            [*(entry.seen if entry else ()), Seen.of(meta.source, meta.id, fp, origin.topic, origin.partition,
                                                     origin.offset)])
        result = self._emit(new_entry, new_state, record, meta, service, redelivery=False,
                            old_status=state.status if state else None)
        if new_state.status in TERMINAL:
            new_entry.phone = None  # nothing more to tell: do not keep personal data
        new_entry.armed = rearmed(new_entry.armed, result)
        result.entry = new_entry
        result.source = label
        return result

    def _emit(self, entry: RequestEntry, state: RequestState, record: dict[str, Any], meta: ce.CloudEvent,
              service: Service, *, redelivery: bool, old_status: Status | None = None) -> Result:
        """Outputs of an accepted event, from the entry that holds it (also used for a redelivery)."""
        out = self.out
        clock = entry.sla_clock()
        due, warn = (sla.due_at(clock), sla.warn_at(clock)) if clock else (None, None)
        parent = entry.parent
        enriched = {**record, "parent_request_id": parent,
                    "enrichment": enrichment_record(record["region_code"], service, due_at=due, warn_at=warn,
                                                    ref=entry.ref, check=entry.chk)}
        rid, event_id = record["request_id"], record["event_id"]
        trace = ce.child_traceparent(meta.traceparent)
        result = Result(redelivery=redelivery, accepted=enriched)
        result.outs, deliveries = out.fan_out(enriched, service, meta, trace)
        # Index of this event in the (sorted) history: did it move the request's status?
        history = state.history
        latest = history[-1].event_id == event_id
        i = next((n for n, h in enumerate(history) if h.event_id == event_id), -1)
        before = history[i - 1].status if i > 0 else None
        if latest and parent:
            step, delivery = out.journey_step(enriched, parent, meta, trace)
            result.outs.append(step)
            deliveries.append(delivery)
        if latest and (i == 0 or before != state.status):
            village = enriched["enrichment"]["village_name"]
            text = notices.text_for(state.status, service, rid, village, first=i == 0, note=record["note"])
            if text:
                notice = notice_record(notice_id=f"{rid}/{event_id}/notice", request_id=rid,
                                       parent_request_id=parent, status=state.status,
                                       service_code=service.code, phone=entry.phone, message=text,
                                       created_at=record["occurred_at"])
                result.outs.append(out.notice(notice, trace))
                deliveries.append(out.notice_delivery(notice))
        if moves_personal_data(deliveries):  # who received personal data, and why (README)
            result.outs.append(out.audit(rid, meta, service.code, record["occurred_at"], deliveries,
                                         entry.ref))
        if not redelivery:
            if latest and old_status != state.status:
                result.status_change = (service.agency, old_status, state.status)
            self._timers(entry, state, clock, service, result, trace)
        return result

    def _subject(self, entry: RequestEntry, status: Status) -> timing.Subject:
        return timing.Subject(entry.request_id, entry.parent, SlaStage.REQUEST, entry.service, entry.agency,
                              entry.region, status)

    def _timers(self, entry: RequestEntry, state: RequestState, clock: sla.SlaClock | None, service: Service,
                result: Result, trace: str | None) -> None:
        rid = state.request_id
        p = timing.plan(clock, state.status, frozenset(entry.fired), finished_at=state.updated_at,
                        was_done=entry.done)
        result.arm += [(rid, timing.timer_kind(SlaStage.REQUEST, k), at) for k, at in p.arm]
        result.disarm += [(rid, timing.timer_kind(SlaStage.REQUEST, k)) for k in p.disarm]
        if state.status in timing.DONE:
            entry.done = True
        if p.breach_now and clock is not None:
            entry.fired = [*entry.fired, SlaKind.BREACH.value]
            result.outs += self.out.sla(self._subject(entry, state.status), clock, SlaKind.BREACH,
                                        state.updated_at, "completion", entry.phone,
                                        notices.short_name(service), trace, entry.ref)
            result.sla.append((service.agency, service.code, SlaKind.BREACH.value))

    # ------------------------------------------------------------------ SLA ticks --------------
    def on_tick(self, entry: RequestEntry | None, kind: SlaKind, now: datetime) -> Result:
        """A request's timer fell due (``now`` = the timer's clock, carried in the tick)."""
        if entry is None:
            return Result()
        status = Status(entry.status)
        clock = entry.sla_clock()
        rid = entry.request_id
        decision = timing.on_tick(clock, status, frozenset(entry.fired), kind, now)
        tk = timing.timer_kind(SlaStage.REQUEST, kind)
        if decision.action == "ignore":
            return Result()
        if decision.action == "rearm":
            assert decision.at is not None
            moved = [*without(entry.armed, tk), Timer.of(tk, decision.at)]
            return Result(entry=msgspec.structs.replace(entry, armed=moved), arm=[(rid, tk, decision.at)])
        new_entry = msgspec.structs.replace(entry, fired=[*entry.fired, kind.value],
                                            armed=without(entry.armed, tk))
        if decision.action == "supersede":
            return Result(entry=new_entry)
        assert clock is not None
        service = catalogue.service(entry.service)
        outs = self.out.sla(self._subject(entry, status), clock, kind, now, "timer", entry.phone,
                            notices.short_name(service), ref=entry.ref)
        return Result(entry=new_entry, outs=outs, sla=[(entry.agency, entry.service, kind.value)])
