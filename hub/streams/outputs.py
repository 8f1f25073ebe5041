"""The output factory: every record the worker writes, as bytes with their CloudEvents headers. Plain data
in (Avro records as dicts), ``Outgoing`` records out; no decisions (the request engine,
``hub.streams.engine``, and the journeys, ``hub.streams.journey``, decide what to write; this module knows
how).

* :meth:`Outputs.fan_out` -- an accepted event for its agency, the MPP feed (and the lifecycle log when
  configured), one Avro body per distinct view, with the audit deliveries;
* :meth:`Outputs.journey_step` -- an accepted child event re-keyed by its journey (phone only);
* :meth:`Outputs.notice`, :meth:`Outputs.notice_audit` -- a citizen notice and its audit entry;
* :meth:`Outputs.audit` -- the audit entry of an event's deliveries;
* :meth:`Outputs.sla` -- an SLA warning or breach, and on a breach the apology with its audit entry.

Every record is keyed by the request id it is about (the parent id on the journey topic), so one request's
records stay in order on every topic. CloudEvents ids are derived from the input (the same input gives the
same ids: consumers deduplicating by (ce_source, ce_id) see a redelivered output once); the hub's own records
carry ``settings.source``; ``traceparent`` continues the input's trace with a new span.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from hub.core import notices, sla
from hub.core.catalogue import Service
from hub.core.models import RequestLifecycleEvent
from hub.core.records import (
    AuditEntry,
    CitizenNotice,
    SlaEvent,
    SlaKind,
    audit_delivery,
    audit_record,
    notice_record,
)
from hub.core.routing import CITIZEN, fan_out_record, minimise_record, purpose
from hub.settings import Settings
from hub.streams import timing
from hub.streams.kafka_io import Outgoing
from hub.wire import cloudevents as ce
from hub.wire.codec import ArrayTailEncoder, Codec, Encoder, SplitEncoder, load_schema

#: What a journey step keeps of the citizen block: the phone, for journey notices.
JOURNEY_FIELDS = frozenset({"phone"})
JOURNEY_PURPOSE = "deriving the journey's state"


class Outputs:
    """Build once per worker (looks every output schema up in the registry); then call per record."""

    def __init__(self, settings: Settings, codec: Codec, agencies: Sequence[str]):
        self.settings = settings
        self.codec = codec
        s = settings
        schema = load_schema(s.schemas_dir, RequestLifecycleEvent.SCHEMA)
        codec.reader(schema)
        self.lifecycle_topic: str | None = s.topic_lifecycle or None  # optional (README)
        self._enc: dict[str, Encoder] = {
            t: codec.encoder(t, schema)
            for t in [s.topic_feed, *([s.topic_lifecycle] if s.topic_lifecycle else []), s.topic_journey,
                      *(s.agency_topic(a) for a in agencies)]}
        for topic, model in ((s.topic_notify, CitizenNotice), (s.topic_audit, AuditEntry),
                             (s.topic_sla, SlaEvent)):
            self._enc[topic] = codec.encoder(topic, load_schema(s.schemas_dir, model.SCHEMA))
        # The views of one event differ only in the citizen block: the rest is written once (same bytes).
        self._views = SplitEncoder(schema, "citizen")
        # An audit entry's deliveries repeat (a service's audiences, fields and purposes): each written once.
        audit = load_schema(s.schemas_dir, AuditEntry.SCHEMA)
        self._audit = ArrayTailEncoder(self._enc[s.topic_audit], audit)

    # ------------------------------------------------------------------ building blocks --------
    def record(self, topic: str, audience: str, key: str, record: dict[str, Any],
               meta: ce.CloudEvent) -> Outgoing:
        """One record of ``topic`` (its encoder) with the headers of ``meta``."""
        return Outgoing(topic, audience, key.encode(), self._enc[topic](record), ce.to_headers(meta))

    def own(self, key: str, ce_id: str, ce_type: str, at: datetime, traceparent: str | None) -> ce.CloudEvent:
        """The CloudEvents attributes of a record the hub itself originates."""
        return ce.CloudEvent(ce_id, self.settings.source, ce_type, key, at, ce.child_traceparent(traceparent))

    # ------------------------------------------------------------------ events -----------------
    def fan_out(self, enriched: dict[str, Any], service: Service, meta: ce.CloudEvent, trace: str,
                ) -> tuple[list[Outgoing], list[dict[str, Any]]]:
        """An accepted, enriched event to each audience (one Avro body per distinct view: the schema is the
        same on every topic, only the 5-byte header differs), and the audit deliveries it makes."""
        s = self.settings
        rid = enriched["request_id"]
        headers = ce.to_headers(ce.CloudEvent(meta.id, meta.source, meta.type, rid, meta.time, trace))
        key = rid.encode()
        outs: list[Outgoing] = []
        deliveries: list[dict[str, Any]] = []
        found = fan_out_record(enriched, service, agency_topic=s.agency_topic, feed_topic=s.topic_feed,
                               lifecycle_topic=self.lifecycle_topic)
        views = list({id(d.record): d.record for d in found}.values())  # one body per distinct view
        bodies = dict(zip(map(id, views), self._views.bodies(views), strict=True))
        for d in found:
            outs.append(Outgoing(d.topic, d.audience, key, self._enc[d.topic].frame(bodies[id(d.record)]),
                                 headers))
            deliveries.append(audit_delivery(d.audience, d.topic, sorted(d.personal_fields),
                                             purpose(d.audience, service.code)))
        return outs, deliveries

    def journey_step(self, enriched: dict[str, Any], parent: str, meta: ce.CloudEvent, trace: str,
                     ) -> tuple[Outgoing, dict[str, Any]]:
        """The event for its journey (keyed by the parent id, only the phone of the citizen block)."""
        s = self.settings
        step = minimise_record(enriched, JOURNEY_FIELDS)
        citizen = step["citizen"]
        headers = ce.to_headers(ce.CloudEvent(meta.id, meta.source, meta.type, parent, meta.time, trace))
        out = Outgoing(s.topic_journey, "journey", parent.encode(), self._enc[s.topic_journey](step), headers)
        fields = sorted(k for k, v in citizen.items() if v is not None) if citizen else []
        return out, audit_delivery("journey", s.topic_journey, fields, JOURNEY_PURPOSE)

    # ------------------------------------------------------------------ notices and audit --------
    def notice(self, notice: dict[str, Any], traceparent: str | None) -> Outgoing:
        meta = self.own(notice["request_id"], notice["notice_id"], CitizenNotice.CE_TYPE,
                        notice["created_at"], traceparent)
        return self.record(self.settings.topic_notify, CITIZEN, notice["request_id"], notice, meta)

    def notice_delivery(self, notice: dict[str, Any]) -> dict[str, Any]:
        """The audit delivery of a notice: the phone, to the citizen."""
        return audit_delivery(CITIZEN, self.settings.topic_notify, ["phone"] if notice["phone"] else [],
                              purpose(CITIZEN, notice["service_code"]))

    def notice_audit(self, notice: dict[str, Any], traceparent: str | None,
                     ref: str | None = None) -> Outgoing:
        """The audit entry of a notice the hub originates (an apology, a journey notice)."""
        about = ce.CloudEvent(notice["notice_id"], self.settings.source, CitizenNotice.CE_TYPE,
                              notice["request_id"], notice["created_at"], traceparent)
        return self.audit(notice["request_id"], about, notice["service_code"], notice["created_at"],
                          [self.notice_delivery(notice)], ref)

    def audit(self, request_id: str, about: ce.CloudEvent, code: str, at: datetime,
              deliveries: list[dict[str, Any]], ref: str | None = None) -> Outgoing:
        """Who received which personal fields of the event ``about``, and why (no payload)."""
        audit_id = f"audit/{hashlib.sha256(f'{about.source}|{about.id}'.encode()).hexdigest()[:24]}"
        entry = audit_record(audit_id=audit_id, request_id=request_id, event_ce_source=about.source,
                             event_ce_id=about.id, event_type=about.type, service_code=code, citizen_ref=ref,
                             recorded_at=at, deliveries=deliveries)
        meta = self.own(request_id, audit_id, AuditEntry.CE_TYPE, at, about.traceparent)
        return Outgoing(self.settings.topic_audit, "audit", request_id.encode(), self._audit(entry),
                        ce.to_headers(meta))

    # ------------------------------------------------------------------ SLA --------------------
    def sla(self, subject: timing.Subject, clock: sla.SlaClock, kind: SlaKind, at: datetime, by: str,
            phone: str | None, service_name: str, traceparent: str | None = None,
            ref: str | None = None) -> list[Outgoing]:
        """The SLA event, and on a breach the apology to the citizen (with its audit entry)."""
        event = timing.sla_record(subject, clock, kind, at, by)
        meta = self.own(subject.request_id, event["event_id"], SlaEvent.CE_TYPE, at, traceparent)
        outs = [self.record(self.settings.topic_sla, "sla", subject.request_id, event, meta)]
        if kind is SlaKind.BREACH:
            notice = notice_record(notice_id=f"{event['event_id']}/notice", request_id=subject.request_id,
                                   parent_request_id=subject.parent_request_id, status=subject.status,
                                   service_code=subject.code, phone=phone,
                                   message=notices.breach_text(service_name, subject.request_id),
                                   created_at=at)
            outs.append(self.notice(notice, traceparent))
            if notice["phone"]:  # an audit entry when personal data moved (README)
                outs.append(self.notice_audit(notice, traceparent, ref))
        return outs
