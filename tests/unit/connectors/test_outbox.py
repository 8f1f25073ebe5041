"""The durable outbox and its ordering rule, without Kafka (pure SQLite)."""

from __future__ import annotations

import sqlite3
from datetime import UTC, datetime, timedelta

from hub.connectors.outbox import Outbox, Pending, heads
from hub.core.lifecycle import Status
from hub.dev.simulator import village_requests

NOW = datetime(2026, 3, 2, 3, 0, tzinfo=UTC)


def _row(seq: int, request: str) -> Pending:
    return Pending(seq, "/s", f"e{seq}", request, "{}", "tp", 0.0)


def test_heads_takes_one_event_per_request_in_outbox_order():
    rows = [_row(1, "A"), _row(2, "A"), _row(3, "B"), _row(4, "C"), _row(5, "B")]
    assert [r.seq for r in heads(rows, 10)] == [1, 3, 4]
    assert [r.seq for r in heads(rows, 2)] == [1, 3]


def test_enqueue_is_durable_idempotent_and_ordered(tmp_path):
    path = tmp_path / "o.sqlite"
    events = list(village_requests(5, seed=3, now=NOW))
    with Outbox(path) as box:
        assert box.enqueue((e, "/desk") for e in events) == 5
        assert box.enqueue((e, "/desk") for e in events) == 0  # a resend is ignored
        assert box.enqueue([(events[0], "/other")]) == 1  # unique per (source, event id)
    assert sqlite3.connect(path).execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    with Outbox(path) as box:  # reopened: still there
        chunk = box.next_chunk(100)
        assert [r.event_id for r in chunk[:5]] == [e.event_id for e in events]
        assert chunk[0].event() == events[0]
        box.mark_sent([chunk[0].seq, chunk[1].seq])
        assert box.counts() == (2, 4)
        depth, oldest = box.depth()
        assert depth == 4 and oldest is not None


def test_a_requests_next_event_waits_for_the_previous_ack(tmp_path):
    first = next(village_requests(1, seed=4, now=NOW))
    later = first.model_copy(update={"event_id": "x-2", "occurred_at": NOW + timedelta(seconds=5)})
    with Outbox(tmp_path / "o.sqlite") as box:
        box.enqueue([(first, "/d"), (later, "/d")])
        chunk = box.next_chunk(10)
        assert [r.event_id for r in chunk] == [first.event_id]
        box.mark_sent([chunk[0].seq])
        assert [r.event_id for r in box.next_chunk(10)] == ["x-2"]


def test_ledger_merges_own_and_seen_events_without_duplicates(tmp_path):
    first = next(village_requests(1, seed=5, now=NOW))
    with Outbox(tmp_path / "o.sqlite") as box:
        box.enqueue([(first, "/d")])
        seen_again = first.model_copy(update={"citizen": None})
        answer = first.model_copy(update={"event_id": "a-1", "status": Status.RECEIVED, "citizen": None,
                                          "occurred_at": first.occurred_at + timedelta(minutes=1)})
        assert box.record_seen([(seen_again, "/d"), (answer, "/agency")]) == 2
        events = box.events_of(first.request_id)
        assert [(e.event_id, src) for e, src, _ in events] == [(first.event_id, "/d"), ("a-1", "/agency")]
        assert events[0][0].citizen is None  # the feed's copy (no personal data) wins
