"""Order within a request through the engine (issue 11, item 3): two events of one request in the same
millisecond, written RECEIVED then IN_PROCESS, are applied in that order whatever their event ids."""

from __future__ import annotations

from datetime import timedelta

from hub.core.lifecycle import Status
from hub.core.models import RequestLifecycleEvent
from tests.unit.streams.test_engine_records import BASE, SETTINGS, decode, feed


def test_events_in_the_same_millisecond_follow_the_intake_offset():
    at = BASE.occurred_at + timedelta(hours=1)
    received = BASE.model_copy(update={"event_id": "zz-received", "status": Status.RECEIVED, "citizen": None,
                                       "occurred_at": at, "native_status": "berkas diterima"})
    in_process = received.model_copy(update={"event_id": "aa-in-process", "status": Status.IN_PROCESS,
                                              "native_status": "perekaman"})
    entry = feed(None, BASE, offset=500)[0].entry
    entry = feed(entry, received, offset=501)[0].entry
    result, _ = feed(entry, in_process, offset=502)  # its id sorts first: dead-lettered as illegal before
    state = result.entry.state()
    assert state.status is Status.IN_PROCESS
    assert [(t.event_id, t.seq) for t in state.history] == [
        (BASE.event_id, 500), ("zz-received", 501), ("aa-in-process", 502)]
    feed_out = next(o for o in result.outs if o.topic == SETTINGS.topic_feed)
    assert RequestLifecycleEvent.from_avro(decode(feed_out)).status is Status.IN_PROCESS
    assert result.status_change is not None
    assert result.status_change[1:] == (Status.RECEIVED, Status.IN_PROCESS)
