"""Order within a request (issue 11, item 3): events of one instant keep the order their producer wrote
them in (the intake offset, ``Transition.seq``), not the order of their event ids; table entries written
before the sequence was kept still read."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from hub.core.lifecycle import RequestState, Status, Transition, apply

T = datetime(2026, 3, 2, 2, 0, tzinfo=UTC)
S = Status


def fold(*transitions: Transition) -> RequestState:
    state = None
    for t in transitions:
        outcome = apply(state, "R-1", t)
        assert outcome.accepted, outcome.reason
        state = outcome.state
    assert state is not None
    return state


def test_events_of_one_instant_follow_the_order_written_not_their_ids():
    state = fold(Transition("zz-submitted", S.SUBMITTED, T, seq=10),
                 Transition("yy-received", S.RECEIVED, T + timedelta(hours=1), seq=11),
                 Transition("aa-in-process", S.IN_PROCESS, T + timedelta(hours=1), seq=12))
    assert state.status is S.IN_PROCESS
    assert [t.event_id for t in state.history] == ["zz-submitted", "yy-received", "aa-in-process"]


def test_without_a_sequence_ties_still_fall_back_to_the_event_id():
    received, in_process = (Transition("b", S.RECEIVED, T), Transition("a", S.IN_PROCESS, T))
    outcome = apply(fold(Transition("s", S.SUBMITTED, T - timedelta(hours=1)), received), "R-1", in_process)
    assert not outcome.accepted  # the old order: "a" sorts before "b", IN_PROCESS -> RECEIVED is illegal


def test_a_tie_written_earlier_is_inserted_before():
    hour = T + timedelta(hours=1)
    state = fold(Transition("s", S.SUBMITTED, T, seq=1), Transition("p", S.IN_PROCESS, hour, seq=5),
                 Transition("r", S.RECEIVED, hour, seq=3))  # a replayed, older record
    assert [t.event_id for t in state.history] == ["s", "r", "p"] and state.status is S.IN_PROCESS


def test_the_sequence_is_kept_in_the_table_entry_and_old_entries_still_read():
    state = fold(Transition("s", S.SUBMITTED, T, "diajukan", seq=7), Transition("r", S.RECEIVED, T, seq=8))
    data = state.to_dict()
    assert data["history"][0] == ["s", "SUBMITTED", T.isoformat(), "diajukan", 7]
    assert RequestState.from_dict(data) == state
    old = {**data, "history": [h[:4] for h in data["history"]]}  # as written before the sequence was kept
    restored = RequestState.from_dict(old)
    assert [t.seq for t in restored.history] == [None, None]
    # A new event of the same instant as an old (sequence-less) one comes after it.
    later = apply(restored, "R-1", Transition("a-in-process", S.IN_PROCESS, T, seq=9))
    assert later.accepted and later.state is not None and later.state.status is S.IN_PROCESS
