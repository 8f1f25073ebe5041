"""Table entries: compact binary values, typed; entries written as JSON before (by the worker or Faust's JSON
serializer) still read, with the timers they had armed."""

from __future__ import annotations

from datetime import UTC, datetime

from faust.utils import json as faust_json

from hub.core import sla
from hub.core.lifecycle import RequestState, Status, Transition
from hub.streams import timing
from hub.streams.entry import (
    JourneyEntry,
    RequestEntry,
    TimerView,
    decode_journey,
    decode_request,
    encode,
    timers_of,
)

T0 = datetime(2026, 11, 30, 1, 0, tzinfo=UTC)  # Monday 08:00 WIB
STATE = RequestState("SK-1", Status.SUBMITTED, T0, (Transition("e1", Status.SUBMITTED, T0, "diajukan", 7),))
CLOCK = sla.SlaClock(T0, 1)
ENTRY = {"v": 1, "p": 3, "state": STATE.to_dict(), "service": "DUKCAPIL_KTP_EL", "agency": "dukcapil",
         "region": "35.10.21.2003", "parent": None, "clock": CLOCK.to_dict(), "fired": [], "done": False,
         "ref": "ab" * 32, "chk": "cd" * 16, "phone": "+6281234567890",
         "seen": {"/smart-kampung/35.10.21.2003|e1": ["ab" * 16, "intake.desa.banyuwangi.v1", 0, 7]},
         "ids": {"e1": "ab" * 16}}
JOURNEY = {"v": 1, "p": 1, "done": False, "journey": {
    "request_id": "JR-1", "journey": "LISTRIK_BARU", "region_code": "35.10.21.2003", "status": "SUBMITTED",
    "clock": {"started_at": T0.isoformat(), "sla_working_days": 5, "paused_since": None,
              "paused_working_days": 0},
    "phone": None, "fired": [],
    "children": {"N-1": ["DUKCAPIL_VERIFIKASI_NIK", "SUBMITTED", T0.isoformat(), T0.isoformat(), "N-1/1"]}}}


def _old(value: dict) -> bytes:
    return faust_json.dumps(value).encode()


def test_an_entry_written_as_json_reads_as_the_typed_entry_with_its_timers():
    entry = decode_request(_old(ENTRY))
    assert isinstance(entry, RequestEntry)
    assert entry.state() == STATE and entry.sla_clock() == CLOCK
    assert (entry.partition, entry.agency, entry.service, entry.ref, entry.phone) == (
        3, "dukcapil", "DUKCAPIL_KTP_EL", "ab" * 32, "+6281234567890")
    assert entry.seen_as("/smart-kampung/35.10.21.2003", "e1").offset == 7
    assert entry.digest_of("e1") == "ab" * 16 and entry.digest_of("e2") is None
    plan = timing.plan(CLOCK, Status.SUBMITTED, frozenset(), finished_at=None, was_done=True)
    assert [(t.kind, t.at) for t in entry.armed] == [
        (timing.timer_kind(timing.SlaStage.REQUEST, k), at) for k, at in plan.arm]


def test_the_binary_form_is_compact_round_trips_and_its_prefix_is_the_timer_view():
    entry = decode_request(_old(ENTRY))
    raw = encode(entry)
    assert raw[:1] != b"{" and len(raw) < len(_old(ENTRY)) * 0.6
    assert decode_request(raw) == entry
    assert timers_of(raw) == timers_of(_old(ENTRY)) == TimerView(3, "dukcapil", "SUBMITTED", entry.armed)


def test_journey_entries_read_from_json_and_round_trip():
    entry = decode_journey(_old(JOURNEY))
    assert isinstance(entry, JourneyEntry) and entry.state().children["N-1"].last_event_id == "N-1/1"
    assert decode_journey(encode(entry)) == entry
    assert timers_of(encode(entry)).armed == entry.armed and len(entry.armed) == 2


def test_no_value_is_no_entry():
    assert decode_request(None) is None and decode_request(b"") is None and decode_journey(None) is None
