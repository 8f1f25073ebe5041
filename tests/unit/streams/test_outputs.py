"""Which records an event produces by default (README, "Which records an event produces"): the feed is the
lifecycle record (no separate log unless one is named), and an audit entry is written only when a delivery
carried personal data."""

from __future__ import annotations

from hub.core import catalogue
from hub.core.lifecycle import Status
from hub.settings import Settings
from hub.streams.engine import RequestEngine
from hub.wire.codec import Codec
from hub.wire.deadletter import Origin
from hub.wire.registry import MemoryRegistry
from tests.unit.streams.test_engine_records import BASE, INTAKE, record, step

DEFAULT = Settings(citizen_ref_key="k", topic_partitions=3)
ENGINE = RequestEngine(DEFAULT, Codec(MemoryRegistry(), register=True), catalogue.agencies())


def feed(entry, event, offset):  # type: ignore[no-untyped-def]
    topic, key, _, headers = record(event)
    return ENGINE.on_intake(entry, key, INTAKE(event.to_avro()), headers, Origin(topic, 0, offset), 0)


def test_by_default_an_event_goes_to_its_agency_the_feed_and_the_audit_and_no_lifecycle_log():
    assert DEFAULT.topic_lifecycle == ""
    first = feed(None, BASE, 1)
    assert sorted(o.topic for o in first.outs) == sorted([DEFAULT.agency_topic("dukcapil"),
                                                          DEFAULT.topic_feed, DEFAULT.topic_notify,
                                                          DEFAULT.topic_audit])
    audit = ENGINE.codec.decode(next(o.value for o in first.outs if o.topic == DEFAULT.topic_audit)).record
    assert [d["audience"] for d in audit["deliveries"]] == ["agency:dukcapil", "mpp", "citizen"]


def test_an_event_that_moves_no_personal_data_has_no_audit_entry():
    entry = feed(None, BASE, 1).entry
    quiet = feed(entry, step(BASE, Status.IN_PROCESS, 1), 2)  # no citizen block, no notice
    assert quiet.accepted is not None and {o.topic for o in quiet.outs} == {DEFAULT.agency_topic("dukcapil"),
                                                                          DEFAULT.topic_feed}
    ready = feed(quiet.entry, step(BASE, Status.READY, 2), 3)  # the notice carries the phone: audited
    assert {o.topic for o in ready.outs} >= {DEFAULT.topic_notify, DEFAULT.topic_audit}
