"""The simulator's schedule: deterministic, realistic, and legal for the lifecycle engine."""

from __future__ import annotations

from collections import Counter, defaultdict
from datetime import UTC, datetime

from hub.core import lifecycle, regions
from hub.core.admission import admit
from hub.core.lifecycle import Status
from hub.dev.simulator import schedule, village_requests

NOW = datetime(2026, 3, 2, 1, 0, tzinfo=UTC)


def _items(seed=7, **kw):
    args = dict(seed=seed, rate=40.0, duration=60.0, now=NOW, day_seconds=4.0)
    args.update(kw)
    return schedule(**args)


def test_same_seed_same_schedule_other_seed_other_schedule():
    a, b, c = _items(), _items(), _items(seed=8)
    assert a == b
    assert [s.event.event_id for s in a] != [s.event.event_id for s in c]


def test_village_requests_is_unchanged_by_the_schedule():
    first = list(village_requests(3, seed=1, now=NOW))
    assert [e.request_id for e in first] == [e.request_id for e in village_requests(3, seed=1, now=NOW)]
    assert first[0].request_id.endswith("-00010000000")


def test_traffic_comes_from_the_villages_with_the_mpp_service_mix_and_valid_niks():
    items = _items()
    submitted = [s.event for s in items if s.event.status is Status.SUBMITTED and s.event.citizen]
    assert len(submitted) > 1500
    assert len({e.region_code for e in submitted}) > 200  # of 217
    by_agency = Counter(e.agency for e in submitted)
    assert by_agency.most_common(1)[0][0] == "dukcapil"
    assert by_agency["dukcapil"] > by_agency["pln"] > by_agency["bpn"] > 0
    for event in submitted[:300]:
        admit(event, now=NOW.replace(hour=23))  # NIK/KK valid for the village's kecamatan
        assert event.citizen.nik[:6] == regions.nik_prefix(regions.region(event.region_code).kecamatan_code)


def test_every_request_folds_legally_and_anomalies_are_the_deliberate_ones():
    items = _items()
    kinds = Counter(s.anomaly for s in items)
    assert kinds["duplicate"] and kinds["out_of_order"] and kinds["late"]
    by_request = defaultdict(list)
    for s in items:  # publish order
        by_request[s.event.request_id].append(s)
    statuses = Counter()
    for request_id, published in by_request.items():
        # In order of occurrence every step is a legal transition ...
        ordered = sorted((s for s in published if s.anomaly != "duplicate"),
                         key=lambda s: s.event.occurred_at)
        for prev, nxt in zip(ordered, ordered[1:], strict=False):
            assert lifecycle.is_allowed(prev.event.status, nxt.event.status), (request_id, prev, nxt)
        # ... and in order of publication the lifecycle engine accepts all but the duplicates.
        state = None
        for s in published:
            e = s.event
            outcome = lifecycle.apply(state, request_id, lifecycle.Transition(
                e.event_id, e.status, e.occurred_at, e.native_status))
            assert outcome.accepted == (s.anomaly != "duplicate"), (s, outcome.reason)
            state = outcome.state
            assert lifecycle.to_canonical(e.agency if e.source_system != "smart-kampung" else "desa",
                                          e.native_status) is e.status or e.status is Status.SUBMITTED
        statuses[state.status] += 1
        assert all(s.at >= (s.event.occurred_at - NOW).total_seconds() - 1e-6 for s in published)
    assert statuses[Status.COMPLETED] > statuses[Status.REJECTED] > 0
    assert any(s.event.status is Status.RETURNED for s in items)


def test_returned_requests_are_resubmitted_by_the_desk():
    items = _items()
    returned = {s.event.request_id for s in items if s.event.status is Status.RETURNED}
    resubmitted = {s.event.request_id for s in items
                   if s.event.status is Status.SUBMITTED and s.event.note == "diajukan ulang"}
    assert returned and returned <= resubmitted | {s.event.request_id for s in items
                                                   if s.event.status is Status.REJECTED}
