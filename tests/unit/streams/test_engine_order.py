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


AGENCY = "/agency/dukcapil/siak-dukcapil"


def _round_trip():
    """A request returned to the citizen and resubmitted at the desk (the fault campaign's dead letters)."""
    from tests.unit.streams.test_engine_records import step

    received = step(BASE, Status.RECEIVED, 1, source_system="siak-dukcapil")
    returned = step(BASE, Status.RETURNED, 2, source_system="siak-dukcapil", native_status="dikembalikan")
    resubmitted = step(BASE, Status.SUBMITTED, 3, eid="resubmitted")
    received_again = step(BASE, Status.RECEIVED, 4, eid="received-again", source_system="siak-dukcapil")
    return received, returned, resubmitted, received_again


def _history(entry):
    return [(h.event_id, h.status) for h in entry.history]


def test_a_resubmission_read_before_the_agency_s_first_round_is_kept_and_the_round_placed_first():
    """The desk's topic read ahead of the agency's (after a worker was killed): the resubmission comes before
    the agency's RECEIVED and RETURNED that came before it; all are accepted and end in time order."""
    received, returned, resubmitted, received_again = _round_trip()
    entry = feed(None, BASE)[0].entry
    entry = feed(entry, resubmitted)[0].entry                        # SUBMITTED -> SUBMITTED (resubmission)
    entry = feed(entry, received, source=AGENCY)[0].entry            # placed between the two submissions
    entry = feed(entry, returned, source=AGENCY)[0].entry            # and the return after it
    entry = feed(entry, received_again, source=AGENCY)[0].entry
    assert _history(entry) == [(BASE.event_id, "SUBMITTED"), (received.event_id, "RECEIVED"),
                               (returned.event_id, "RETURNED"), ("resubmitted", "SUBMITTED"),
                               ("received-again", "RECEIVED")]
    assert entry.status == "RECEIVED"


def test_a_resubmission_read_before_the_agency_s_return_is_kept_and_the_return_placed_before_it():
    """The agency's topic behind the desk's: RECEIVED read, then the resubmission, then the RETURNED."""
    received, returned, resubmitted, _ = _round_trip()
    entry = feed(None, BASE)[0].entry
    entry = feed(entry, received, source=AGENCY)[0].entry
    entry = feed(entry, resubmitted)[0].entry                        # RECEIVED -> SUBMITTED: return late
    assert entry.status == "SUBMITTED"
    entry = feed(entry, returned, source=AGENCY)[0].entry
    assert [s for _, s in _history(entry)] == ["SUBMITTED", "RECEIVED", "RETURNED", "SUBMITTED"]
    assert entry.status == "SUBMITTED"
