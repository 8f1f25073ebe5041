"""The view's pure fold (hub.mall.view): the same rows whatever the order and the duplicates, over traffic
from the simulator run through the hub's real lifecycle engine (with its own late, out-of-order and
duplicate events, SLA breaches of a backlog, and journeys)."""

from __future__ import annotations

import random
from collections import Counter
from datetime import timedelta

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from hub.core import sla
from hub.core.lifecycle import TERMINAL, Status
from hub.core.records import SlaKind
from hub.mall.view import (
    Actor,
    FeedItem,
    RequestRow,
    SlaItem,
    SlaState,
    Step,
    build_row,
    citizen_text,
    info_of,
    next_actor,
    replay,
)


def shuffled_with_duplicates(items, rnd: random.Random, share: float):
    out = list(items) + [i for i in items if rnd.random() < share]
    rnd.shuffle(out)
    return out


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.integers(0, 2**32), st.sampled_from([0.0, 0.05, 0.3, 1.0]))
def test_any_order_with_any_duplicates_gives_the_in_order_view(items, seed, share):
    assert replay(shuffled_with_duplicates(items, random.Random(seed), share)) == replay(items)


def test_the_traffic_exercises_what_the_property_claims(items, offline_hub):
    # The engine's feed holds out-of-order answers: an event older than one written before it.
    feed = [i for i in items if isinstance(i, FeedItem)]
    latest: dict[str, tuple] = {}
    late = 0
    for f in sorted(feed, key=lambda f: (f.partition, f.offset)):
        key = (f.event.occurred_at, f.event.event_id)
        late += key < latest.get(f.event.request_id, key)
        latest[f.event.request_id] = max(key, latest.get(f.event.request_id, key))
    assert late >= 1
    kinds = Counter(i.event.kind for i in items if isinstance(i, SlaItem))
    assert kinds[SlaKind.BREACH] >= 5
    rows = replay(items)
    assert Counter(r.kind for r in rows.values())["journey"] == 4
    assert {r.status for r in rows.values()} >= {Status.COMPLETED, Status.SUBMITTED, Status.REJECTED}


def test_a_row_tells_status_history_deadlines_and_who_acts(items):
    rows = replay(items)
    feed = [i for i in items if isinstance(i, FeedItem)]
    by_request: dict[str, list[FeedItem]] = {}
    for f in feed:
        by_request.setdefault(f.event.request_id, []).append(f)
    for rid, found in by_request.items():
        row = rows[rid]
        ordered = sorted({f.key: f for f in found}.values(), key=lambda f: (f.event.occurred_at,
                                                                            f.event.event_id))
        assert row.status is ordered[-1].event.status and row.submitted_at == ordered[0].event.occurred_at
        assert row.events == len(ordered) and row.next_actor is next_actor(row.status)
        written_last = max(found, key=lambda f: (f.partition, f.offset)).event.enrichment
        assert row.due_at == written_last.due_at and row.warn_at == written_last.warn_at
        assert row.citizen_check and len(row.citizen_check) == 32
        if row.due_at is not None:
            assert row.planned_end == sla.deadline(row.submitted_at, row.sla_working_days) <= row.due_at
    breached = [r for r in rows.values() if r.sla is SlaState.BREACHED and r.kind == "request"]
    assert breached and all(r.sla_detected_at is not None for r in breached)


def test_returned_requests_wait_on_the_citizen_and_pause_the_clock(items):
    feed = [i for i in items if isinstance(i, FeedItem)]
    f = next(i for i in feed if i.event.status is Status.SUBMITTED and i.event.service_code == "DUKCAPIL_KK")
    info = info_of(f.event)
    t0 = f.event.occurred_at
    base = Step.of(f)

    def step(n: int, status: Status, days: float) -> Step:
        return Step(f"/t|{n}", f"e{n}", status, None, t0 + timedelta(days=days), info.agency, "t", None, 0, n)

    returned = build_row(info, [base, step(1, Status.RETURNED, 0.1)])
    assert returned.next_actor is Actor.CITIZEN and returned.paused_since is not None
    resumed = build_row(info, [base, step(1, Status.RETURNED, 0.1), step(2, Status.SUBMITTED, 3.2),
                               step(3, Status.COMPLETED, 3.3)])
    assert resumed.paused_since is None and resumed.paused_working_days >= 1
    assert resumed.next_actor is Actor.NONE and not resumed.open
    assert resumed.finished_at == t0 + timedelta(days=3.3)
    assert resumed.lead_working_days is not None and resumed.lead_ratio is not None


def test_citizen_texts_are_bahasa_indonesia_and_carry_no_personal_data(items):
    rows = replay(items)
    feed = [i for i in items if isinstance(i, FeedItem)]
    for f in feed[:300]:
        row = rows[f.event.request_id]
        text = citizen_text(row, Step.of(f), 0 if f.event.status in (Status.SUBMITTED,
                                                                     Status.RECEIVED) else 1)
        assert f.event.request_id in text and text.startswith(("Permohonan", "Mohon"))
        assert not any(ch.isdigit() and len(part) == 16 for part in text.split() for ch in part[:1])


def test_rows_survive_their_json_form(items):
    for row in replay(items).values():
        assert RequestRow.from_dict(row.to_dict()) == row
    assert all(r.open is (r.status not in TERMINAL) for r in replay(items).values())
