"""The batched, plain-data hot path writes what the per-record pydantic one wrote (issue 15, item 2): the same
simulated traffic (requests from every village, the agencies' answers with returns, rejections, late,
out-of-order and duplicate events, a backlog of old requests with SLA warnings and breaches, journeys) through
the engine of the baseline commit and through this tree's gives the same records, byte for byte, with the same
keys, partitions and offsets, and table entries that hold the same state.

Compared: every record's topic, partition, offset, key, value and headers, except ``traceparent`` (a new span
id is drawn for every hop, by design). Two changes were made on purpose (README, "Which records an event
produces"), and :func:`expected` applies exactly those to the baseline's records: the lifecycle log is written
only where a deployment names it (else the feed, with the same bytes, is the record), and an audit entry is
written only when a delivery carried personal data. Everything else must be identical.
"""

from __future__ import annotations

from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from hub.core.records import moves_personal_data
from hub.dev import feed
from hub.settings import Settings
from hub.streams import entry as entries
from tests.support import baseline

NOW = datetime.now(UTC).replace(microsecond=0) - timedelta(minutes=10)
SETTINGS: dict[str, Any] = {"citizen_ref_key": "equivalence", "topic_partitions": 3}
LIFECYCLE = "hub.lifecycle.v1"  # the baseline's default name


@pytest.fixture(scope="module")
def before(tmp_path_factory: pytest.TempPathFactory) -> ModuleType:
    return baseline.load(baseline.export(tmp_path_factory.mktemp("baseline")))


def _records(hub: Any) -> list[tuple]:
    return [(w.topic, w.partition, w.offset, w.key, w.value,
             [(k, v) for k, v in w.headers if k != "traceparent"]) for w in hub.written]


def _audits_read(hub: Any, records: list[tuple]) -> list[tuple]:
    """Audit entries compared by content (without a lifecycle log they no longer list its delivery)."""
    audit = Settings(**SETTINGS).topic_audit
    return [(*r[:4], hub.codec.decode(r[4]).record if r[0] == audit else r[4], r[5]) for r in records]


def expected(old: Any, lifecycle: bool) -> list[tuple]:
    """The baseline's records with this tree's two deliberate changes applied (offsets renumbered where
    records
    are no longer written; without a lifecycle log, audit entries as content, less the log's delivery)."""
    audit = Settings(**SETTINGS).topic_audit
    out, offsets = [], Counter[tuple[str, int]]()
    for topic, partition, _, key, value, headers in _records(old):
        if topic == LIFECYCLE and not lifecycle:
            continue
        if topic == audit:
            entry = old.codec.decode(value).record
            if not moves_personal_data(entry["deliveries"]):
                continue
            if not lifecycle:
                value = {**entry, "deliveries": [d for d in entry["deliveries"] if d["topic"] != LIFECYCLE]}
        out.append((topic, partition, offsets[(topic, partition)], key, value, headers))
        offsets[(topic, partition)] += 1
    return out


def run_both(before: ModuleType, lifecycle: bool = False, **traffic: Any) -> tuple[Any, Any]:
    old = before.traffic(before.Settings(**SETTINGS, topic_lifecycle=LIFECYCLE), now=NOW, **traffic)
    new = feed.traffic(Settings(**SETTINGS, topic_lifecycle=LIFECYCLE if lifecycle else ""), now=NOW,
                       **traffic)
    return old, new


@settings(max_examples=8, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(seed=st.integers(0, 10_000), rate=st.floats(5, 25), duration=st.floats(2, 8),
       backlog=st.integers(0, 10), journeys=st.integers(0, 3), lifecycle=st.booleans())
def test_the_new_path_writes_the_same_records_and_holds_the_same_state(before, seed, rate, duration, backlog,
                                                                        journeys, lifecycle):
    old, new = run_both(before, lifecycle, seed=seed, rate=rate, duration=duration, backlog=backlog,
                        journeys=journeys)
    written = _records(new)
    assert (written if lifecycle else _audits_read(new, written)) == expected(old, lifecycle)
    assert set(new.requests) == set(old.requests) and set(new.journeys) == set(old.journeys)
    for rid, entry in new.requests.items():
        assert entry.to_dict() == old.requests[rid], rid
        clock = entry.sla_clock()
        planned = entries.planned(entries.SlaStage.REQUEST, clock, entry.state().status, entry.fired)
        assert entry.armed == planned, rid  # the timers carried equal the baseline's rebuild from scratch
    for pid, entry in new.journeys.items():
        assert entry.to_dict() == old.journeys[pid]


def test_the_traffic_covers_what_the_engine_does_and_what_changed(before):
    """The comparison above is not vacuous: the traffic reaches every kind of output, and both deliberate
    changes happen (a share of the audit entries moved no personal data; the feed is the lifecycle log)."""
    old, new = run_both(before, seed=7, rate=20, duration=30, backlog=12, journeys=3)
    kinds, before_kinds = Counter(w.topic for w in new.written), Counter(w.topic for w in old.written)
    s = Settings(**SETTINGS)
    for topic in (s.topic_feed, s.topic_notify, s.topic_audit, s.topic_sla, s.agency_topic("dukcapil")):
        assert kinds[topic] > 0, topic
    assert any(e.fired for e in new.requests.values()) and new.journeys
    assert kinds[LIFECYCLE] == 0
    assert before_kinds[LIFECYCLE] == before_kinds[s.topic_feed] == kinds[s.topic_feed]
    assert [w.value[5:] for w in old.written if w.topic == LIFECYCLE] == [
        w.value[5:] for w in new.written if w.topic == s.topic_feed]  # the same bytes (but the schema id)
    assert 0 < kinds[s.topic_audit] < before_kinds[s.topic_audit]
    accepted = kinds[s.topic_feed]
    print(f"\nrecords per accepted event, before -> after: {sum(before_kinds.values()) / accepted:.2f}"
          f" -> {sum(kinds.values()) / accepted:.2f}; audit entries {before_kinds[s.topic_audit]} -> "
          f"{kinds[s.topic_audit]}")


def test_decoded_records_meet_the_models_constraints_exactly():
    """``fits_model`` (the hot path's check) agrees with the model on lengths and the status symbol."""
    from pydantic import ValidationError

    from hub.core.models import RequestLifecycleEvent
    from hub.dev.simulator import village_requests
    from hub.streams.kafka_io import fits_model

    base = next(village_requests(1, seed=1)).to_avro()
    variants = [base, {**base, "event_id": ""}, {**base, "event_id": "e" * 128},
                {**base, "event_id": "e" * 129},
                {**base, "request_id": "r" * 129}, {**base, "source_system": ""}, {**base, "agency": ""},
                {**base, "service_code": ""}, {**base, "region_code": ""}, {**base, "note": "n" * 500},
                {**base, "note": "n" * 501}, {**base, "status": "NOPE"}]
    for record in variants:
        try:
            RequestLifecycleEvent.from_avro(record)
            valid = True
        except ValidationError:
            valid = False
        assert fits_model(record) == valid, record


def test_every_record_builder_equals_its_models_avro(before):
    """The plain-data builders give exactly the model's ``to_avro()`` (notices, audit entries, SLA events)."""
    from hub.core.records import AuditEntry, CitizenNotice, SlaEvent

    _, new = run_both(before, seed=3, rate=15, duration=6, backlog=8, journeys=2)
    s = Settings(**SETTINGS)
    assert any(w.topic == s.topic_sla for w in new.written)
    models = {s.topic_notify: CitizenNotice, s.topic_audit: AuditEntry, s.topic_sla: SlaEvent}
    for w in new.written:
        model = models.get(w.topic)
        if model is not None:
            record = new.codec.decode(w.value).record
            assert model.from_avro(record).to_avro() == record


def test_exported_baseline_is_the_one_the_bench_compares_with():
    assert Path(baseline.__file__).name == "baseline.py" and len(baseline.BASELINE_REF) == 40
