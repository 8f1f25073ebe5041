"""The lifecycle engine's per-record work, without Faust: (table entry, record) -> (new entry, records out).

Three inputs, one agent (all keyed by the id whose table entry they touch, so all co-partitioned):
* intake: decode -> CloudEvents attributes and the producer's identity (``hub.streams.identity``: the
  topic is the proof, the payload a claim) -> admit -> dedup -> lifecycle.apply -> SLA clock -> enrich -> fan-out
  (agency, MPP feed, hub.lifecycle.v1, citizen notice, audit, journey step);
* SLA timer ticks: warning / breach, once per request (or journey) and stage;
* journey steps: a child's accepted event folded into its parent journey.

Request entry (JSON, in the ``requests`` table, key = request id)::

    p        partition of the key (for rebuilding the timer index of the partitions a worker owns)
    state    RequestState.to_dict()      service/agency/region/parent: fixed by the first event
    clock    SlaClock.to_dict() or None  fired: SLA kinds emitted (or superseded)  done: clock stopped
    ref      pseudonymous citizen_ref    chk: citizen_check (the citizen page's second factor)
    phone    for notices, dropped when the request is terminal
    seen     {"<ce_source>|<ce_id>": [digest, topic, partition, offset]}   ids: {event_id: digest}

Deduplication: the same (ce_source, ce_id) or event id with the same content is a duplicate (dropped,
counted), with other content a conflict (dead letter). The same record at the same topic/partition/
offset is *our own redelivery* after a crash (state was saved, the offset not committed): its outputs
are sent again, with the same CloudEvents ids, so consumers deduplicating by (ce_source, ce_id) see
each output once.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Any

from hub.core import catalogue, notices, sla
from hub.core.admission import admit, check_not_before_first
from hub.core.catalogue import Service
from hub.core.enrichment import citizen_check, citizen_ref, enrich
from hub.core.lifecycle import TERMINAL, RequestState, Status, Transition, apply
from hub.core.models import RequestLifecycleEvent
from hub.errors import Conflict, IllegalTransition
from hub.core.records import AuditDelivery, AuditEntry, CitizenNotice, SlaKind, SlaStage
from hub.core.routing import CITIZEN, fan_out, minimise, purpose
from hub.settings import Settings
from hub.streams import timing
from hub.streams.identity import check_attributes, check_identity
from hub.streams.router import Outgoing, read_event
from hub.wire import cloudevents as ce
from hub.wire.codec import Codec, Encoder, load_schema
from hub.wire.deadletter import Origin
from hub.wire.topics import intake_sources


Entry = dict[str, Any]
Timer = tuple[str, str, datetime]  # (id, "<STAGE>:<KIND>", at)


@dataclass(slots=True)
class Result:
    entry: Entry | None = None  # None: leave the table as it is
    outs: list[Outgoing] = field(default_factory=list)
    arm: list[Timer] = field(default_factory=list)
    disarm: list[tuple[str, str]] = field(default_factory=list)
    duplicate: bool = False
    redelivery: bool = False
    accepted: RequestLifecycleEvent | None = None
    status_change: tuple[str, Status | None, Status] | None = None  # (agency, old, new)
    sla: list[tuple[str, str, str]] = field(default_factory=list)  # (agency, code, kind)
    source: str = "other"  # the intake source (metric label): "desk:<node>" or "agency:<code>"


def pack(entry: Entry) -> bytes:
    """A table entry as the bytes the table holds and its changelog carries (compact JSON)."""
    return json.dumps(entry, separators=(",", ":")).encode()


def unpack(value: bytes | None) -> Entry | None:
    """Inverse of ``pack`` (also reads entries Faust's JSON serializer wrote before)."""
    return json.loads(value) if value else None


def digest(event: RequestLifecycleEvent) -> str:
    """Content fingerprint of an intake event (the hub's enrichment excluded)."""
    body = event.model_dump(mode="json")
    body["enrichment"] = None  # the same dict (and digest) as the event without enrichment
    return hashlib.sha256(json.dumps(body, sort_keys=True).encode()).hexdigest()[:32]


class Engine:
    """Build once per worker (registers every output schema); then call per record."""

    def __init__(self, settings: Settings, codec: Codec, agencies: Sequence[str]):
        self.settings = settings
        self.codec = codec
        self.sources = intake_sources(settings)  # intake topic -> who may write it (hub.streams.identity)
        self.key = settings.citizen_ref_key.get_secret_value().encode() if settings.citizen_ref_key else None
        schema = load_schema(settings.schemas_dir, RequestLifecycleEvent.SCHEMA)
        codec.reader(schema)
        s = settings
        self._enc: dict[str, Encoder] = {
            t: codec.encoder(t, schema)
            for t in [s.topic_feed, s.topic_lifecycle, s.topic_journey, *(s.agency_topic(a) for a in agencies)]}
        for topic, model in ((s.topic_notify, CitizenNotice), (s.topic_audit, AuditEntry),
                             (s.topic_sla, timing.SlaEvent)):
            self._enc[topic] = codec.encoder(topic, load_schema(s.schemas_dir, model.SCHEMA))

    # ------------------------------------------------------------------ output helpers -------
    def _out(self, topic: str, audience: str, key: str, record: Any, meta: ce.CloudEvent) -> Outgoing:
        return Outgoing(topic, audience, key.encode(), self._enc[topic](record.to_avro()), ce.to_headers(meta))

    def _own(self, key: str, ce_id: str, ce_type: str, at: datetime, traceparent: str | None) -> ce.CloudEvent:
        return ce.CloudEvent(ce_id, self.settings.source, ce_type, key, at, ce.child_traceparent(traceparent))

    def _notice(self, notice: CitizenNotice, traceparent: str | None) -> Outgoing:
        meta = self._own(notice.request_id, notice.notice_id, CitizenNotice.CE_TYPE, notice.created_at,
                         traceparent)
        return self._out(self.settings.topic_notify, CITIZEN, notice.request_id, notice, meta)

    def _audit(self, request_id: str, about: ce.CloudEvent, code: str, at: datetime,
               deliveries: list[AuditDelivery], ref: str | None = None) -> Outgoing:
        audit_id = f"audit/{hashlib.sha256(f'{about.source}|{about.id}'.encode()).hexdigest()[:24]}"
        entry = AuditEntry(audit_id=audit_id, request_id=request_id, event_ce_source=about.source,
                           event_ce_id=about.id, event_type=about.type, service_code=code, citizen_ref=ref,
                           recorded_at=at, deliveries=deliveries)
        meta = self._own(request_id, audit_id, AuditEntry.CE_TYPE, at, about.traceparent)
        return self._out(self.settings.topic_audit, "audit", request_id, entry, meta)

    def _notice_audit(self, notice: CitizenNotice, traceparent: str | None, ref: str | None = None) -> Outgoing:
        about = ce.CloudEvent(notice.notice_id, self.settings.source, CitizenNotice.CE_TYPE, notice.request_id,
                              notice.created_at, traceparent)
        return self._audit(notice.request_id, about, notice.service_code, notice.created_at, [AuditDelivery(
            audience=CITIZEN, topic=self.settings.topic_notify,
            personal_fields=["phone"] if notice.phone else [], purpose=purpose(CITIZEN, notice.service_code))],
            ref)

    def sla_out(self, subject: timing.Subject, clock: sla.SlaClock, kind: SlaKind, at: datetime,
                by: str, phone: str | None, service_name: str, traceparent: str | None = None,
                ref: str | None = None) -> list[Outgoing]:
        """The SLA event, and on a breach the apology to the citizen (with its audit entry)."""
        event = timing.sla_event(subject, clock, kind, at, by)
        meta = self._own(subject.request_id, event.event_id, event.CE_TYPE, at, traceparent)
        outs = [self._out(self.settings.topic_sla, "sla", subject.request_id, event, meta)]
        if kind is SlaKind.BREACH:
            notice = CitizenNotice(notice_id=f"{event.event_id}/notice", request_id=subject.request_id,
                                   parent_request_id=subject.parent_request_id, status=subject.status,
                                   service_code=subject.code, phone=phone,
                                   message=notices.breach_text(service_name, subject.request_id), created_at=at)
            outs += [self._notice(notice, traceparent), self._notice_audit(notice, traceparent, ref)]
        return outs

    # ------------------------------------------------------------------ intake ---------------
    def on_intake(self, entry: Entry | None, key: bytes | None, value: bytes | None,
                  headers: Sequence[tuple[str, bytes]] | None, origin: Origin, partition: int) -> Result:
        meta, received = read_event(self.codec, key, value, headers)
        check_attributes(meta, received)
        event, service = admit(received)  # in normal form (trimmed text, E.164 phone) from here on
        source = self.sources.get(origin.topic)
        if source is not None:  # what the producer may claim, on content already known to be well formed
            check_identity(source, meta, event)
        label = f"{source.kind}:{source.name}" if source is not None else "other"
        fp = digest(received)  # as the producer wrote it: the same record always has the same digest
        ce_key = f"{meta.source}|{meta.id}"
        here = [origin.topic, origin.partition, origin.offset]
        if entry is not None:
            seen = entry["seen"].get(ce_key)
            if seen is not None:
                if seen[0] != fp:
                    raise Conflict(f"event {ce_key} was first seen at {seen[1]}[{seen[2]}]@{seen[3]} with "
                                   f"other content")
                if seen[1:] == here:
                    return replace(self._emit(entry, event, meta, service, redelivery=True), source=label)
                return Result(duplicate=True, source=label)
            known = entry["ids"].get(event.event_id)
            if known is not None:
                if known != fp:
                    raise Conflict(f"event_id {event.event_id} of request {event.request_id} was seen before "
                                   f"with other content")
                return Result(duplicate=True, source=label)
            if (event.service_code, event.agency) != (entry["service"], entry["agency"]):
                raise Conflict(f"request {event.request_id} is {entry['service']} at {entry['agency']}, "
                               f"this event says {event.service_code} at {event.agency}")
        state = RequestState.from_dict(entry["state"]) if entry else None
        # "The request's first event" is its submission: each source writes its own topic, so an agency's
        # answer may be read before the desk's submission of the same request (no order across topics) and
        # the submission, arriving later, is placed before it by its time. An answer may not be dated
        # before the submission.
        submitted = [h.occurred_at for h in state.history if h.status is Status.SUBMITTED] if state else []
        if event.status is not Status.SUBMITTED and state is not None and not state.dropped and submitted:
            check_not_before_first(event, min(submitted))
        t = Transition(event.event_id, event.status, event.occurred_at, event.native_status, seq=origin.offset)
        outcome = apply(state, event.request_id, t)
        if not outcome.accepted or outcome.state is None:
            raise IllegalTransition(outcome.reason or "not accepted")
        new_state = outcome.state
        old_clock = sla.SlaClock.from_dict(entry["clock"]) if entry and entry["clock"] else None
        clock = (timing.clock_for(new_state, service.sla_working_days, old_clock)
                 if service.sla_kind == "working_days" else None)
        citizen = event.citizen
        new_entry: Entry = {
            "v": 1, "p": partition, "state": new_state.to_dict(),
            "service": event.service_code, "agency": event.agency,
            "region": entry["region"] if entry else event.region_code,
            "parent": (entry["parent"] if entry else None) or event.parent_request_id,
            "clock": clock.to_dict() if clock else None,
            "fired": list(entry["fired"]) if entry else [], "done": bool(entry and entry["done"]),
            "ref": citizen_ref(citizen.nik if citizen else None, self.key) or (entry["ref"] if entry else None),
            "chk": (citizen_check(event.request_id, citizen.nik if citizen else None, self.key)
                    or (entry.get("chk") if entry else None)),
            "phone": (citizen.phone if citizen and citizen.phone else None) or (entry["phone"] if entry else None),
            "seen": {**(entry["seen"] if entry else {}), ce_key: [fp, *here]},
            "ids": {**(entry["ids"] if entry else {}), event.event_id: fp},
        }
        result = self._emit(new_entry, event, meta, service, redelivery=False,
                            old_status=state.status if state else None)
        if new_state.status in TERMINAL:
            new_entry["phone"] = None  # nothing more to tell: do not keep personal data
        result.entry = new_entry
        result.source = label
        return result

    def _emit(self, entry: Entry, event: RequestLifecycleEvent, meta: ce.CloudEvent, service: Service, *,
              redelivery: bool, old_status: Status | None = None) -> Result:
        """Outputs of an accepted event, from the entry that holds it (also used for a redelivery)."""
        s = self.settings
        state = RequestState.from_dict(entry["state"])
        clock = sla.SlaClock.from_dict(entry["clock"]) if entry["clock"] else None
        due, warn = (sla.due_at(clock), sla.warn_at(clock)) if clock else (None, None)
        parent = entry["parent"]
        enriched = enrich(event.model_copy(update={"parent_request_id": parent}), service,
                          due_at=due, warn_at=warn, ref=entry["ref"], check=entry.get("chk"))
        rid = event.request_id
        trace = ce.child_traceparent(meta.traceparent)
        out_meta = ce.CloudEvent(meta.id, meta.source, meta.type, rid, meta.time, trace)
        result = Result(redelivery=redelivery, accepted=enriched)
        audit: list[AuditDelivery] = []
        headers = ce.to_headers(out_meta)
        bodies: dict[int, bytes] = {}  # one Avro body per distinct view of the event (same schema everywhere)
        for d in fan_out(enriched, service, agency_topic=s.agency_topic, feed_topic=s.topic_feed,
                         lifecycle_topic=s.topic_lifecycle):
            encoder = self._enc[d.topic]
            body = bodies.get(id(d.event))
            if body is None:
                body = bodies[id(d.event)] = encoder.body(d.event.to_avro())
            result.outs.append(Outgoing(d.topic, d.audience, rid.encode(), encoder.frame(body), headers))
            audit.append(AuditDelivery(audience=d.audience, topic=d.topic,
                                       personal_fields=sorted(d.personal_fields),
                                       purpose=purpose(d.audience, service.code)))
        # Index of this event in the (sorted) history: did it move the request's status?
        ids = [h.event_id for h in state.history]
        latest = ids[-1] == event.event_id
        i = ids.index(event.event_id) if event.event_id in ids else -1
        before = state.history[i - 1].status if i > 0 else None
        if latest and parent:
            step = minimise(enriched, frozenset({"phone"}))
            result.outs.append(Outgoing(s.topic_journey, "journey", parent.encode(),
                                        self._enc[s.topic_journey](step.to_avro()), ce.to_headers(
                                            ce.CloudEvent(meta.id, meta.source, meta.type, parent, meta.time,
                                                          trace))))
            audit.append(AuditDelivery(audience="journey", topic=s.topic_journey,
                                       personal_fields=sorted(step.citizen.model_dump(exclude_none=True))
                                       if step.citizen else [], purpose="deriving the journey's state"))
        if latest and (i == 0 or before != state.status):
            village = enriched.enrichment.village_name if enriched.enrichment else ""
            text = notices.text_for(state.status, service, rid, village, first=i == 0, note=event.note)
            if text:
                notice = CitizenNotice(notice_id=f"{rid}/{event.event_id}/notice", request_id=rid,
                                       parent_request_id=parent, status=state.status, service_code=service.code,
                                       phone=entry["phone"], message=text, created_at=event.occurred_at)
                result.outs.append(self._notice(notice, trace))
                audit.append(AuditDelivery(audience=CITIZEN, topic=s.topic_notify,
                                           personal_fields=["phone"] if notice.phone else [],
                                           purpose=purpose(CITIZEN, service.code)))
        result.outs.append(self._audit(rid, meta, service.code, event.occurred_at, audit, entry["ref"]))
        if not redelivery:
            if latest and old_status != state.status:
                result.status_change = (service.agency, old_status, state.status)
            self._timers(entry, state, clock, service, result, trace)
        return result

    def _subject(self, entry: Entry, status: Status) -> timing.Subject:
        return timing.Subject(entry["state"]["request_id"], entry["parent"], SlaStage.REQUEST, entry["service"],
                              entry["agency"], entry["region"], status)

    def _timers(self, entry: Entry, state: RequestState, clock: sla.SlaClock | None, service: Service,
                result: Result, trace: str | None) -> None:
        rid = state.request_id
        p = timing.plan(clock, state.status, frozenset(entry["fired"]),
                        finished_at=state.updated_at, was_done=entry["done"])
        result.arm += [(rid, timing.timer_kind(SlaStage.REQUEST, k), at) for k, at in p.arm]
        result.disarm += [(rid, timing.timer_kind(SlaStage.REQUEST, k)) for k in p.disarm]
        if state.status in timing.DONE:
            entry["done"] = True
        if p.breach_now and clock is not None:
            entry["fired"] = [*entry["fired"], SlaKind.BREACH.value]
            result.outs += self.sla_out(self._subject(entry, state.status), clock, SlaKind.BREACH,
                                        state.updated_at, "completion", entry["phone"],
                                        notices.short_name(service), trace, entry["ref"])
            result.sla.append((service.agency, service.code, SlaKind.BREACH.value))

    # ------------------------------------------------------------------ SLA ticks --------------
    def on_tick(self, entry: Entry | None, kind: SlaKind, now: datetime) -> Result:
        """A request's timer fell due (``now`` = the timer's clock, carried in the tick)."""
        if entry is None:
            return Result()
        state = RequestState.from_dict(entry["state"])
        clock = sla.SlaClock.from_dict(entry["clock"]) if entry["clock"] else None
        rid = state.request_id
        decision = timing.on_tick(clock, state.status, frozenset(entry["fired"]), kind, now)
        tk = timing.timer_kind(SlaStage.REQUEST, kind)
        if decision.action == "ignore":
            return Result()
        if decision.action == "rearm":
            assert decision.at is not None
            return Result(arm=[(rid, tk, decision.at)])
        new_entry = {**entry, "fired": [*entry["fired"], kind.value]}
        if decision.action == "supersede":
            return Result(entry=new_entry)
        assert clock is not None
        service = catalogue.service(entry["service"])
        outs = self.sla_out(self._subject(entry, state.status), clock, kind, now, "timer", entry["phone"],
                            notices.short_name(service), ref=entry["ref"])
        return Result(entry=new_entry, outs=outs, sla=[(entry["agency"], entry["service"], kind.value)])
