"""The engine's per-record work without Faust or Kafka (an in-memory registry stands in for the codec's
look-ups only; the integration tests use the real registry)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from hub.connectors.village_desk import source_of
from hub.core import catalogue, sla
from hub.core.lifecycle import Status
from hub.core.models import RequestLifecycleEvent
from hub.core.records import CitizenNotice, SlaEvent, SlaKind
from hub.dev.simulator import village_requests
from hub.settings import Settings
from hub.streams import journey, timing
from hub.streams.engine import Conflict, IllegalTransition, RequestEngine
from hub.streams.entry import decode_journey, decode_request, encode
from hub.wire import cloudevents as ce
from hub.wire.codec import Codec, load_schema
from hub.wire.deadletter import Origin, reason_of
from hub.wire.registry import MemoryRegistry

# a lifecycle log named, as a deployment may (tests.unit.streams.test_outputs: the default without one)
SETTINGS = Settings(citizen_ref_key="k", topic_partitions=3, topic_lifecycle="hub.lifecycle.v1")
CODEC = Codec(MemoryRegistry(), register=True)
ENGINE = RequestEngine(SETTINGS, CODEC, catalogue.agencies())
INTAKE = CODEC.encoder("intake", load_schema(SETTINGS.schemas_dir, RequestLifecycleEvent.SCHEMA))
T0 = datetime(2026, 3, 2, 2, 0, tzinfo=UTC)  # Monday 09:00 WIB
offsets = iter(range(10**6))


def record(event: RequestLifecycleEvent, source: str | None = None):
    """An intake record as its source writes it: (topic, key, value, headers). ``source`` None: the village
    desk of the event's region; ``/agency/<code>/...``: that agency's intake topic."""
    source = source or source_of(event.region_code)
    parts = source.strip("/").split("/")
    topic = (SETTINGS.agency_intake_topic(parts[1]) if parts[0] == "agency"
             else SETTINGS.desk_intake_topic(SETTINGS.desk_node_for(event.region_code)))
    meta = ce.CloudEvent(event.event_id, source, event.CE_TYPE, event.request_id, event.occurred_at)
    return topic, event.request_id.encode(), INTAKE(event.to_avro()), ce.to_headers(meta)


def feed(entry, event, *, offset=None, source=None):
    topic, key, value, headers = record(event, source)
    origin = Origin(topic, 0, next(offsets) if offset is None else offset)
    return ENGINE.on_intake(entry, key, value, headers, origin, 0), origin


def step(base, status, hours, eid=None, **extra):
    return base.model_copy(update={"event_id": eid or f"{base.request_id}-{status}-{hours}", "status": status,
                                   "occurred_at": T0 + timedelta(hours=hours), "citizen": None, **extra})


def decode(out):
    return CODEC.decode(out.value).record


BASE = next(village_requests(1, seed=3)).model_copy(update={
    "service_code": "DUKCAPIL_KTP_EL", "agency": "dukcapil", "occurred_at": T0})


def test_an_accepted_event_goes_to_every_audience_enriched_with_its_deadlines():
    result, _ = feed(None, BASE)
    topics = sorted(o.topic for o in result.outs)
    assert topics == sorted([SETTINGS.agency_topic("dukcapil"), SETTINGS.topic_feed, SETTINGS.topic_lifecycle,
                             SETTINGS.topic_notify, SETTINGS.topic_audit])
    life = RequestLifecycleEvent.from_avro(
        decode(next(o for o in result.outs if o.topic == SETTINGS.topic_lifecycle)))
    assert life.citizen is None and life.enrichment.citizen_ref and len(life.enrichment.citizen_ref) == 64
    # 1 working day, WIB
    assert life.enrichment.due_at == datetime(2026, 3, 3, 16, 59, 59, 999000, tzinfo=UTC)
    notice = CitizenNotice.from_avro(decode(next(o for o in result.outs if o.topic == SETTINGS.topic_notify)))
    assert notice.phone == BASE.citizen.phone and "KTP-el" in notice.message
    audit = decode(next(o for o in result.outs if o.topic == SETTINGS.topic_audit))
    fields = {d["audience"]: d["personal_fields"] for d in audit["deliveries"]}
    assert fields["agency:dukcapil"] == ["kk_number", "name", "nik"] and fields["mpp"] == []
    assert fields["citizen"] == ["phone"]
    assert {d["channel"] for d in audit["deliveries"]} == {"kafka"}
    assert audit["citizen_ref"] == life.enrichment.citizen_ref  # "who received my data", keyed without a NIK
    assert life.enrichment.citizen_check and len(life.enrichment.citizen_check) == 32
    assert [a for _, _, a in result.arm] == [life.enrichment.warn_at,
                                             life.enrichment.due_at + timedelta(milliseconds=1)]
    assert decode_request(encode(result.entry)) == result.entry  # the table entry: compact bytes


def test_duplicates_are_dropped_conflicts_and_illegal_transitions_are_dead_letters():
    first, origin = feed(None, BASE)
    entry = first.entry
    again, _ = feed(entry, BASE)  # a resend by the connector: another offset
    assert again.duplicate and not again.outs and again.entry is None
    same_id = BASE.model_copy(update={"note": "changed"})
    with pytest.raises(Conflict) as caught:
        feed(entry, same_id)
    assert reason_of(caught.value) == "conflict"
    with pytest.raises(Conflict):  # same event id from another source, other content
        feed(entry, same_id.model_copy(update={"source_system": "siak"}), source="/agency/dukcapil/siak")
    done, _ = feed(entry, step(BASE, Status.COMPLETED, 2))
    with pytest.raises(IllegalTransition) as illegal:
        feed(done.entry, step(BASE, Status.IN_PROCESS, 3))
    assert reason_of(illegal.value) == "illegal_transition" and "terminal" in str(illegal.value)


def test_our_own_redelivery_re_emits_the_same_outputs():
    first, origin = feed(None, BASE)
    again, _ = feed(first.entry, BASE, offset=origin.offset)
    assert again.redelivery and not again.duplicate and again.entry is None
    assert [(o.topic, o.value, dict(o.headers)["ce_id"]) for o in again.outs] == \
        [(o.topic, o.value, dict(o.headers)["ce_id"]) for o in first.outs]


def test_sla_warning_and_breach_fire_once_and_pause_while_returned():
    entry = feed(None, BASE)[0].entry
    due = sla.due_at(entry.sla_clock())
    warn = ENGINE.on_tick(entry, SlaKind.WARNING, due - timedelta(hours=1))
    assert [SlaEvent.from_avro(decode(o)).kind for o in warn.outs if o.topic == SETTINGS.topic_sla] == \
        [SlaKind.WARNING]
    entry = warn.entry
    assert ENGINE.on_tick(entry, SlaKind.WARNING, due).outs == []  # never twice
    early = ENGINE.on_tick(entry, SlaKind.BREACH, due - timedelta(minutes=1))
    assert early.outs == [] and early.arm  # not yet: re-armed
    breach = ENGINE.on_tick(entry, SlaKind.BREACH, due + timedelta(seconds=1))
    events = [SlaEvent.from_avro(decode(o)) for o in breach.outs if o.topic == SETTINGS.topic_sla]
    assert [(e.kind, e.detected_by, e.event_id) for e in events] == [
        (SlaKind.BREACH, "timer", f"{BASE.request_id}/REQUEST/BREACH")]
    assert any(o.topic == SETTINGS.topic_notify for o in breach.outs)  # the citizen hears an apology
    assert ENGINE.on_tick(breach.entry, SlaKind.BREACH, due + timedelta(days=3)).outs == []
    # Returned: timers disarmed, ticks ignored.
    returned = feed(feed(None, BASE)[0].entry, step(BASE, Status.RETURNED, 1))[0]
    assert returned.arm == [] and len(returned.disarm) == 2
    assert ENGINE.on_tick(returned.entry, SlaKind.BREACH, due + timedelta(days=5)).outs == []


def test_a_request_finished_after_its_deadline_is_a_breach_at_completion_once():
    entry = feed(None, BASE)[0].entry
    late = feed(entry, step(BASE, Status.READY, 24 * 5))[0]
    kinds = [(SlaEvent.from_avro(decode(o)).kind, SlaEvent.from_avro(decode(o)).detected_by)
             for o in late.outs if o.topic == SETTINGS.topic_sla]
    assert kinds == [(SlaKind.BREACH, "completion")]
    collected = feed(late.entry, step(BASE, Status.COMPLETED, 24 * 6))[0]
    assert not [o for o in collected.outs if o.topic == SETTINGS.topic_sla]
    assert collected.entry.phone is None  # terminal: personal data no longer kept


def test_children_feed_their_journey_which_completes_with_both_agencies():
    parent = "JR-LISTRIK-1"
    nik = BASE.model_copy(update={"request_id": "N-1", "event_id": "N-1-s",
                                  "service_code": "DUKCAPIL_VERIFIKASI_NIK",
                                  "agency": "dukcapil", "parent_request_id": parent})
    pln = BASE.model_copy(update={"request_id": "P-1", "event_id": "P-1-s", "agency": "pln",
                                  "service_code": "PLN_PASANG_BARU_TANPA_PERLUASAN",
                                  "parent_request_id": parent,
                                  "occurred_at": T0 + timedelta(hours=2)})
    journey_entry, statuses = None, []
    entries: dict[str, dict] = {}
    for ev in [nik, step(nik, Status.COMPLETED, 1), pln, step(pln, Status.IN_PROCESS, 24),
               step(pln, Status.COMPLETED, 48)]:
        result = feed(entries.get(ev.request_id), ev)[0]
        entries[ev.request_id] = result.entry
        (out,) = [o for o in result.outs if o.topic == SETTINGS.topic_journey]
        assert out.key == parent.encode()
        child = RequestLifecycleEvent.from_avro(decode(out))
        assert child.citizen is None or set(child.citizen.model_dump(exclude_none=True)) == {"phone"}
        j = journey.on_step(ENGINE.out, journey_entry, out.key, out.value, out.headers, 0)
        journey_entry = j.entry or journey_entry
        statuses.append(journey_entry.status)
        assert decode_journey(encode(journey_entry)) == journey_entry
    assert statuses == ["SUBMITTED", "IN_PROCESS", "IN_PROCESS", "IN_PROCESS", "COMPLETED"]
    clock = journey_entry.clock.clock()
    assert clock.started_at == T0 and clock.sla_working_days == 5
    assert sla.due_at(clock) == sla.end_of_day(sla.add_working_days(T0.date(), 5))
    assert journey_entry.done and timing.DONE


def test_bad_ticks_and_unknown_requests_are_harmless():
    assert ENGINE.on_tick(None, SlaKind.BREACH, T0).outs == []
