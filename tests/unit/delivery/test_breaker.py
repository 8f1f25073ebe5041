"""The circuit breaker, the rate limit and the offset book: pure state machines driven by given times."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from hub.delivery.breaker import (
    DAY,
    FIRST_PROBE,
    MAX_PROBE,
    MIN_ATTEMPTS,
    Breaker,
    State,
    may_notify,
    should_disable,
)
from hub.delivery.offsets import OffsetBook
from hub.delivery.throttle import TokenBucket


def fail(b: Breaker, at: float, n: int, ok: bool = False) -> None:
    for i in range(n):
        b.record(at + i * 0.01, ok)


def test_opens_at_70_percent_of_at_least_10_attempts_in_5_minutes():
    b = Breaker()
    fail(b, 0, 9)
    assert b.state is State.CLOSED  # 9 failures: not enough attempts
    b.record(1, False)
    assert b.state is State.OPEN
    b = Breaker()
    fail(b, 0, 4, ok=True)
    fail(b, 1, 8)  # 8 of 12 = 67 %
    assert b.state is State.CLOSED
    b.record(2, False)  # 9 of 13 = 69 %
    assert b.state is State.CLOSED
    b.record(3, False)  # 10 of 14 = 71 %
    assert b.state is State.OPEN


def test_old_attempts_leave_the_window():
    b = Breaker()
    fail(b, 0, 9)
    b.record(400, False)  # the nine are more than 5 minutes old
    assert b.state is State.CLOSED and b.counts(400) == (1, 1)


def test_probe_after_30_s_doubling_to_10_minutes_and_one_probe_at_a_time():
    b = Breaker()
    fail(b, 0, 10)
    opened = 0.09
    assert not b.allow(opened + FIRST_PROBE - 1)
    intervals = []
    at = opened
    for _ in range(8):
        at = b.probe_at
        assert b.allow(at) and b.state is State.HALF_OPEN
        assert not b.allow(at)  # the probe is in flight: nobody else
        b.record(at + 1, True)  # an old request finishing is not the probe: no change
        assert b.state is State.HALF_OPEN
        b.record(at + 1, False, probe=True)
        intervals.append(round(b.probe_at - (at + 1), 6))
    assert intervals[:5] == [60, 120, 240, 480, MAX_PROBE] and set(intervals[4:]) == {MAX_PROBE}
    assert b.allow(b.probe_at)
    b.record(b.probe_at, True, probe=True)
    assert b.state is State.CLOSED and b.allow(b.probe_at + 1) and b.probe_interval == FIRST_PROBE


def test_compression_shrinks_every_interval():
    b = Breaker(compression=1000)
    fail(b, 0, 10)
    assert b.state is State.OPEN and b.probe_at - 0.09 == FIRST_PROBE / 1000
    b2 = Breaker(compression=1000)
    fail(b2, 0, 5)
    fail(b2, 1, 5)  # 1 s later: the first five left the 0.3 s window
    assert b2.state is State.CLOSED


@given(st.lists(st.tuples(st.floats(0, 5), st.booleans()), max_size=200))
def test_never_opens_on_fewer_than_10_attempts_or_on_successes(steps):
    b = Breaker()
    at = 0.0
    seen = []
    for gap, ok in steps:
        at += gap
        seen.append((at, ok))
        state = b.record(at, ok)
        recent = [o for t, o in seen if t > at - 300 - 10]
        if state is State.OPEN:
            assert len(recent) >= MIN_ATTEMPTS and not ok
            break


def test_five_days_failing_disables_and_notices_come_once_a_day():
    assert not should_disable(None, 10 * DAY)
    assert not should_disable(0, 5 * DAY - 1) and should_disable(0, 5 * DAY)
    assert should_disable(0, 5 * DAY / 1000, compression=1000)
    assert may_notify(None, 0) and not may_notify(0, DAY - 1) and may_notify(0, DAY)


@given(st.floats(0.5, 500), st.lists(st.floats(0, 2), min_size=1, max_size=300))
def test_token_bucket_lets_through_at_most_burst_plus_rate_times_t(rate, gaps):
    bucket = TokenBucket(rate, now=0.0)
    at, passed = 0.0, 0
    for gap in gaps:
        at += gap
        if bucket.take(at) == 0.0:
            passed += 1
    assert passed <= bucket.burst + rate * at + 1e-6


def test_token_bucket_says_how_long_to_wait():
    bucket = TokenBucket(2.0, burst=1, now=0.0)
    assert bucket.take(0.0) == 0.0
    assert bucket.take(0.0) == 0.5
    assert bucket.take(0.5) == 0.0
    assert TokenBucket(None).take(0.0) == 0.0


@given(st.lists(st.integers(0, 4), min_size=1, max_size=60), st.randoms(use_true_random=False))
def test_the_committed_offset_never_passes_an_unsettled_record(deliveries, rnd):
    book = OffsetBook()
    tp = ("agency.pln.v1", 0)
    pending = []
    for offset, n in enumerate(deliveries):
        book.read(tp, offset, n)
        pending += [offset] * n
    rnd.shuffle(pending)
    last = -1
    while True:
        committable = book.committable(tp)
        unsettled = set(pending)
        assert committable == (min(unsettled) if unsettled else len(deliveries))
        assert committable >= last
        last = committable
        if not pending:
            break
        book.settle(tp, pending.pop())
    assert book.changes() == {tp: len(deliveries)} and book.changes() == {}


def test_a_forgotten_partition_has_nothing_to_commit():
    book = OffsetBook()
    book.read(("t", 1), 7, 1)
    book.forget(("t", 1))
    book.settle(("t", 1), 7)
    assert book.committable(("t", 1)) is None and book.changes() == {}
