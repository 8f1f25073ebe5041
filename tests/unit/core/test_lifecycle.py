"""Tests for hub.core.lifecycle: transition table, native maps, apply() and ordering."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from hub.core.lifecycle import (
    FIRST_STATUSES,
    HISTORY_LIMIT,
    NATIVE_STATUS,
    TERMINAL,
    TRANSITIONS,
    LifecycleError,
    RequestState,
    Status,
    Transition,
    apply,
    is_allowed,
    to_canonical,
)

S = Status
T0 = datetime(2026, 3, 2, 1, 0, tzinfo=timezone.utc)  # Monday 08:00 WIB
RID = "35.10.21.2003-REQ-0001"


def tr(i: int, status: Status, minutes: int | None = None, native: str | None = None) -> Transition:
    return Transition(f"e{i:03d}", status, T0 + timedelta(minutes=i if minutes is None else minutes),
                      native)


def fold(events, *, allow_any_first=False):
    state, outcomes = None, []
    for t in events:
        out = apply(state, RID, t, allow_any_first=allow_any_first)
        outcomes.append(out)
        state = out.state
    return state, outcomes


# --------------------------------------------------------------- table ---------------
def test_table_covers_every_status_and_terminals_are_dead_ends():
    assert set(TRANSITIONS) == set(Status)
    assert TERMINAL == {S.REJECTED, S.COMPLETED, S.CANCELLED, S.EXPIRED}
    for s in TERMINAL:
        assert TRANSITIONS[s] == frozenset()
    for s in set(Status) - TERMINAL:
        assert S.CANCELLED in TRANSITIONS[s], s
        assert s in TRANSITIONS[s], f"{s} should accept a native-status refinement"


@pytest.mark.parametrize(
    ("src", "dst", "ok"),
    [
        (S.SUBMITTED, S.VERIFIED, True),
        (S.SUBMITTED, S.IN_PROCESS, True),  # implicit verification
        (S.SUBMITTED, S.COMPLETED, True),  # same-day services
        (S.RETURNED, S.SUBMITTED, True),
        (S.RETURNED, S.VERIFIED, True),
        (S.RETURNED, S.EXPIRED, True),
        (S.WAITING_EXTERNAL, S.IN_PROCESS, True),
        (S.IN_PROCESS, S.SUBMITTED, False),
        (S.APPROVED, S.REJECTED, False),
        (S.APPROVED, S.RETURNED, False),
        (S.READY, S.IN_PROCESS, False),
        (S.RETURNED, S.APPROVED, False),
        (S.RETURNED, S.COMPLETED, False),
        (S.SUBMITTED, S.EXPIRED, False),
        (S.COMPLETED, S.CANCELLED, False),
    ],
)
def test_selected_transitions(src, dst, ok):
    assert is_allowed(src, dst) is ok


# --------------------------------------------------------------- native maps ---------
@pytest.mark.parametrize(
    ("agency", "native", "expected"),
    [
        ("dukcapil", "Diajukan", S.SUBMITTED),
        ("dukcapil", "TTE", S.APPROVED),
        ("dukcapil", "terbit", S.READY),
        ("dukcapil", "Siap_Diambil", S.READY),
        ("dukcapil", "menunggu blangko", S.WAITING_EXTERNAL),
        ("dukcapil", "  diambil ", S.COMPLETED),
        ("pln", "survei", S.IN_PROCESS),
        ("pln", "pembayaran", S.WAITING_EXTERNAL),
        ("pln", "penyambungan", S.APPROVED),
        ("pln", "nyala", S.COMPLETED),
        ("pudam", "terpasang", S.COMPLETED),
        ("bpjs_kesehatan", "verifikasi", S.RECEIVED),
        ("BPJS Kesehatan", "aktif", S.COMPLETED),
        ("polri", "sidik jari", S.IN_PROCESS),
        ("kua", "pengumuman", S.WAITING_EXTERNAL),
        ("bpn", "pengukuran", S.IN_PROCESS),
        ("desa", "diteruskan ke dinas", S.COMPLETED),
        ("samsat", "dikembalikan", S.RETURNED),  # unknown agency -> default map
        ("default", "kadaluarsa", S.EXPIRED),
        ("default", "dibatalkan", S.CANCELLED),
        ("default", "ditolak", S.REJECTED),
        ("default", "menunggu", S.WAITING_EXTERNAL),
        ("default", "disetujui", S.APPROVED),
        ("default", "diverifikasi", S.VERIFIED),
        ("default", "diterima", S.RECEIVED),
        ("default", "diproses", S.IN_PROCESS),
        ("default", "selesai", S.COMPLETED),
    ],
)
def test_native_to_canonical(agency, native, expected):
    assert to_canonical(agency, native) is expected


def test_native_maps_exist_for_all_agencies_and_extend_default():
    for agency in ("dukcapil", "pln", "pudam", "bpjs_kesehatan", "polri", "kua", "bpn", "desa",
                   "default"):
        assert agency in NATIVE_STATUS
        assert set(NATIVE_STATUS["default"]) <= set(NATIVE_STATUS[agency])
        for native in NATIVE_STATUS[agency]:
            assert native == native.lower().strip()


def test_unknown_native_status_names_agency_and_status():
    with pytest.raises(LifecycleError) as err:
        to_canonical("pln", "menunggu tukang")
    assert "pln" in str(err.value) and "menunggu tukang" in str(err.value)
    with pytest.raises(LifecycleError, match="nyala"):
        to_canonical("dukcapil", "nyala")  # a PLN status, not a Dukcapil one


# --------------------------------------------------------------- apply: basics -------
def test_happy_path_in_order():
    events = [tr(1, S.SUBMITTED, native="diajukan"), tr(2, S.VERIFIED), tr(3, S.IN_PROCESS),
              tr(4, S.APPROVED, native="tte"), tr(5, S.READY), tr(6, S.COMPLETED)]
    state, outs = fold(events)
    assert all(o.accepted and o.reason is None for o in outs)
    assert state.status is S.COMPLETED
    assert state.updated_at == T0 + timedelta(minutes=6)
    assert [t.event_id for t in state.history] == [f"e{i:03d}" for i in range(1, 7)]
    assert state.history[0].native_status == "diajukan"


def test_first_event_must_be_submitted_or_received():
    out = apply(None, RID, tr(1, S.IN_PROCESS))
    assert not out.accepted and out.state is None
    assert "SUBMITTED or RECEIVED" in out.reason and "IN_PROCESS" in out.reason
    assert apply(None, RID, tr(1, S.RECEIVED)).accepted
    joined = apply(None, RID, tr(1, S.IN_PROCESS), allow_any_first=True)
    assert joined.accepted and joined.state.status is S.IN_PROCESS


def test_illegal_transition_reason_names_both_states():
    state, _ = fold([tr(1, S.SUBMITTED), tr(2, S.IN_PROCESS)])
    out = apply(state, RID, tr(3, S.SUBMITTED))
    assert not out.accepted
    assert out.reason == "IN_PROCESS -> SUBMITTED is not allowed"
    assert out.state is state


def test_terminal_rejects_newer_events():
    state, _ = fold([tr(1, S.SUBMITTED), tr(2, S.COMPLETED)])
    out = apply(state, RID, tr(3, S.CANCELLED))
    assert not out.accepted and out.reason == "request is COMPLETED (terminal)"
    assert out.state.status is S.COMPLETED


def test_duplicate_event_id_rejected():
    state, _ = fold([tr(1, S.SUBMITTED), tr(2, S.VERIFIED)])
    again = Transition("e002", S.IN_PROCESS, T0 + timedelta(hours=1))
    out = apply(state, RID, again)
    assert not out.accepted and "duplicate" in out.reason and "e002" in out.reason
    assert out.state is state


def test_naive_datetime_refused_and_times_normalised_to_utc():
    with pytest.raises(LifecycleError):
        Transition("x", S.SUBMITTED, datetime(2026, 1, 5, 8, 0))
    wib = timezone(timedelta(hours=7))
    t = Transition("x", "SUBMITTED", datetime(2026, 1, 5, 8, 0, tzinfo=wib))
    assert t.status is S.SUBMITTED
    assert t.occurred_at == datetime(2026, 1, 5, 1, 0, tzinfo=timezone.utc)
    assert t.occurred_at.utcoffset() == timedelta(0)


def test_returned_since_tracks_the_spell():
    state, outs = fold([tr(1, S.SUBMITTED), tr(2, S.RETURNED), tr(3, S.RETURNED)])
    assert all(o.accepted for o in outs)
    assert state.returned_since == T0 + timedelta(minutes=2)
    state = apply(state, RID, tr(4, S.SUBMITTED)).state
    assert state.returned_since is None and state.status is S.SUBMITTED


def test_wrong_request_id_rejected():
    state, _ = fold([tr(1, S.SUBMITTED)])
    out = apply(state, "other", tr(2, S.VERIFIED))
    assert not out.accepted and "other" in out.reason


# --------------------------------------------------------------- out of order --------
def test_late_event_fills_gap_without_changing_status():
    state, _ = fold([tr(1, S.SUBMITTED), tr(3, S.IN_PROCESS)])
    out = apply(state, RID, tr(2, S.VERIFIED))
    assert out.accepted
    assert [t.status for t in out.state.history] == [S.SUBMITTED, S.VERIFIED, S.IN_PROCESS]
    assert out.state.status is S.IN_PROCESS


def test_late_event_before_terminal_is_accepted_but_status_stays_terminal():
    state, _ = fold([tr(1, S.SUBMITTED), tr(4, S.COMPLETED)])
    out = apply(state, RID, tr(2, S.READY))
    assert out.accepted and out.state.status is S.COMPLETED
    assert out.state.history[-1].status is S.COMPLETED


def test_late_event_that_breaks_the_sequence_is_stale():
    state, _ = fold([tr(1, S.SUBMITTED), tr(2, S.APPROVED), tr(5, S.READY)])
    out = apply(state, RID, tr(3, S.RETURNED))  # APPROVED -> RETURNED not allowed
    assert not out.accepted
    assert out.reason.startswith("stale/out of order")
    assert "APPROVED -> RETURNED is not allowed" in out.reason
    out = apply(state, RID, tr(0, S.VERIFIED))  # would become a non-SUBMITTED first event
    assert not out.accepted and "first event" in out.reason


def test_late_returned_extends_returned_since():
    state, _ = fold([tr(1, S.SUBMITTED), tr(5, S.RETURNED)])
    out = apply(state, RID, tr(3, S.RETURNED))
    assert out.accepted and out.state.returned_since == T0 + timedelta(minutes=3)


def test_same_time_tie_broken_by_event_id():
    state, _ = fold([Transition("b", S.SUBMITTED, T0)])
    early = Transition("a", S.VERIFIED, T0)  # same instant, but sorts before "b"
    out = apply(state, RID, early)
    assert not out.accepted and "first event" in out.reason
    out = apply(state, RID, early, allow_any_first=True)
    assert not out.accepted and "VERIFIED -> SUBMITTED is not allowed" in out.reason
    out = apply(state, RID, Transition("c", S.VERIFIED, T0))
    assert out.accepted and out.state.status is S.VERIFIED


def test_history_is_capped_and_older_than_window_is_stale():
    events = [tr(0, S.SUBMITTED)] + [tr(i, S.IN_PROCESS) for i in range(1, 30)]
    state, outs = fold(events)
    assert all(o.accepted for o in outs)
    assert len(state.history) == HISTORY_LIMIT and state.dropped == 10
    assert state.history[0].event_id == "e010"
    out = apply(state, RID, tr(900, S.IN_PROCESS, minutes=5))
    assert not out.accepted and "retained history" in out.reason


def test_state_round_trips_through_dict():
    state, _ = fold([tr(1, S.SUBMITTED, native="diajukan"), tr(2, S.RETURNED)])
    again = RequestState.from_dict(state.to_dict())
    assert again == state


# --------------------------------------------------------------- properties ----------
ALL = sorted(Status)


@st.composite
def legal_sequences(draw, max_len: int = 12):
    """A legal walk over TRANSITIONS from SUBMITTED/RECEIVED with increasing times."""
    n = draw(st.integers(1, max_len))
    status = draw(st.sampled_from(sorted(FIRST_STATUSES)))
    minute = draw(st.integers(0, 5))
    seq = [Transition("e00", status, T0 + timedelta(minutes=minute))]
    for i in range(1, n):
        options = sorted(TRANSITIONS[status])
        if not options:
            break
        status = draw(st.sampled_from(options))
        minute += draw(st.integers(1, 600))
        seq.append(Transition(f"e{i:02d}", status, T0 + timedelta(minutes=minute)))
    return seq


@settings(max_examples=300, deadline=None)
@given(legal_sequences())
def test_in_order_legal_sequence_is_fully_accepted(seq):
    state, outs = fold(seq)
    assert all(o.accepted for o in outs), [o.reason for o in outs]
    assert state.history == tuple(seq[-HISTORY_LIMIT:])
    assert state.status is seq[-1].status


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.data())
def test_any_arrival_order_converges(data):
    seq = data.draw(legal_sequences())
    order = data.draw(st.permutations(seq))
    expected, _ = fold(seq)
    state, outs = fold(order, allow_any_first=True)
    accepted = [t for t, o in zip(order, outs, strict=True) if o.accepted]
    # whatever was accepted forms a legal, time-sorted history ending in the max event
    assert state.history == tuple(sorted(accepted, key=lambda t: t.key))
    for a, b in zip(state.history, state.history[1:], strict=False):
        assert is_allowed(a.status, b.status)
    assert state.status is max(accepted, key=lambda t: t.key).status
    if len(accepted) == len(seq):
        assert state == expected


LADDER = [S.SUBMITTED, S.RECEIVED, S.VERIFIED, S.IN_PROCESS, S.WAITING_EXTERNAL, S.APPROVED,
          S.READY]


@settings(max_examples=200, deadline=None)
@given(st.lists(st.sampled_from(LADDER), min_size=1, max_size=10).map(
           lambda xs: sorted(xs, key=LADDER.index)),
       st.sampled_from([None, S.COMPLETED, S.CANCELLED]),
       st.randoms(use_true_random=False))
def test_forward_only_sequences_accept_every_order(statuses, end, rnd):
    """Forward skips are legal, so with allow_any_first every arrival order is accepted."""
    statuses = statuses + ([end] if end else [])
    seq = [Transition(f"e{i:02d}", s, T0 + timedelta(minutes=i)) for i, s in enumerate(statuses)]
    if seq[0].status not in FIRST_STATUSES:
        seq = [Transition("e-1", S.SUBMITTED, T0 - timedelta(minutes=1))] + seq
    order = list(seq)
    rnd.shuffle(order)
    state, outs = fold(order, allow_any_first=True)
    assert all(o.accepted for o in outs), [o.reason for o in outs]
    assert state == fold(seq)[0]
    assert state.status is seq[-1].status


events_strategy = st.lists(
    st.builds(
        Transition,
        event_id=st.sampled_from([f"e{i}" for i in range(15)]),
        status=st.sampled_from(ALL),
        occurred_at=st.integers(0, 50).map(lambda m: T0 + timedelta(minutes=m)),
    ),
    max_size=40,
)


@settings(max_examples=500, deadline=None)
@given(events_strategy, st.booleans())
def test_no_path_leaves_a_terminal_state(events, any_first):
    state, terminal_status = None, None
    for t in events:
        out = apply(state, RID, t, allow_any_first=any_first)
        if not out.accepted:
            assert out.state is state and out.reason
        state = out.state
        if terminal_status is not None:
            assert state.status is terminal_status
        elif state is not None and state.status in TERMINAL:
            terminal_status = state.status
        if state is not None:
            hist = state.history
            assert list(hist) == sorted(hist, key=lambda x: x.key)
            assert len({h.event_id for h in hist}) == len(hist)
            assert all(is_allowed(a.status, b.status) for a, b in zip(hist, hist[1:], strict=False))
            assert all(h.status not in TERMINAL for h in hist[:-1])
            assert (state.returned_since is not None) == (state.status is S.RETURNED)


@settings(max_examples=200, deadline=None)
@given(legal_sequences(max_len=8), st.data())
def test_replaying_accepted_events_is_rejected_as_duplicate(seq, data):
    state, _ = fold(seq)
    t = data.draw(st.sampled_from(seq))
    out = apply(state, RID, t)
    assert not out.accepted and out.reason == f"duplicate event id {t.event_id}"
    assert out.state is state


def test_a_resubmission_may_overtake_only_when_asked_and_never_a_terminal_status():
    state, _ = fold([tr(1, S.SUBMITTED), tr(2, S.RECEIVED)])
    assert not apply(state, RID, tr(4, S.SUBMITTED)).accepted  # the strict default
    late = apply(state, RID, tr(4, S.SUBMITTED), resubmission_may_overtake=True)
    assert late.accepted and late.state.status is S.SUBMITTED
    returned = apply(late.state, RID, tr(3, S.RETURNED))  # read last, placed before the resubmission
    assert returned.accepted and [t.status for t in returned.state.history] == [
        S.SUBMITTED, S.RECEIVED, S.RETURNED, S.SUBMITTED]
    ahead, _ = fold([tr(1, S.SUBMITTED), tr(4, S.SUBMITTED)])  # SUBMITTED -> SUBMITTED is legal
    assert not apply(ahead, RID, tr(2, S.RECEIVED)).accepted
    assert apply(ahead, RID, tr(2, S.RECEIVED), resubmission_may_overtake=True).accepted
    assert not apply(ahead, RID, tr(2, S.REJECTED), resubmission_may_overtake=True).accepted  # terminal
    done, _ = fold([tr(1, S.SUBMITTED), tr(2, S.COMPLETED)])
    assert not apply(done, RID, tr(3, S.SUBMITTED), resubmission_may_overtake=True).accepted
    first, _ = fold([tr(2, S.SUBMITTED)])
    # before the first event nothing is overtaken: RECEIVED -> SUBMITTED stays refused there
    assert not apply(first, RID, tr(1, S.RECEIVED), resubmission_may_overtake=True).accepted
