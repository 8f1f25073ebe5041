"""Tests for hub.core.sla: calendar, deadlines, the pausable clock and the DeadlineIndex."""

from __future__ import annotations

from datetime import date, datetime, time, timedelta, timezone

import holidays
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from hub.core.sla import (
    WIB,
    DeadlineIndex,
    SlaClock,
    add_working_days,
    budget,
    clock_start,
    deadline,
    due_at,
    elapsed_working_seconds,
    is_working_day,
    pause,
    resume,
    status,
    warn_at,
    working_days_between,
    working_time,
)

UTC = timezone.utc

# Independent reference calendar built straight from the `holidays` package.
_REF = holidays.country_holidays("ID", years=range(2024, 2029), categories=("public", "government"))


def ref_working(d: date) -> bool:
    return d.weekday() < 5 and d not in _REF


def ref_count(a: date, b: date) -> int:
    """Working days in [a, b), by brute force."""
    return sum(ref_working(a + timedelta(days=i)) for i in range((b - a).days))


def wib(y, m, d, hh=0, mm=0) -> datetime:
    return datetime(y, m, d, hh, mm, tzinfo=WIB)


def eod(y, m, d) -> datetime:
    return datetime.combine(date(y, m, d), time(23, 59, 59, 999000), tzinfo=WIB)


# --------------------------------------------------------------- calendar ------------
@pytest.mark.parametrize(
    ("d", "working"),
    [
        (date(2026, 8, 17), False),  # Hari Kemerdekaan (Monday)
        (date(2026, 8, 18), True),
        (date(2026, 3, 17), True),
        (date(2026, 3, 18), False),  # cuti bersama Nyepi
        (date(2026, 3, 19), False),  # Nyepi
        (date(2026, 3, 20), False),  # cuti bersama Idul Fitri 1447 H
        (date(2026, 3, 21), False),  # Idul Fitri (Saturday)
        (date(2026, 3, 23), False),  # cuti bersama Idul Fitri
        (date(2026, 3, 24), False),  # cuti bersama Idul Fitri
        (date(2026, 3, 25), True),
        (date(2026, 12, 24), False),  # cuti bersama Natal
        (date(2026, 12, 25), False),
        (date(2026, 1, 1), False),
        (date(2026, 6, 1), False),  # Hari Lahir Pancasila
        (date(2026, 8, 15), False),  # Saturday
        (date(2026, 8, 14), True),  # Friday
    ],
)
def test_known_working_days(d, working):
    assert is_working_day(d) is working


def test_is_working_day_takes_wib_date_of_datetime():
    # 2026-08-16 17:30 UTC is Monday 17 Aug 00:30 WIB: Independence Day.
    assert not is_working_day(datetime(2026, 8, 16, 17, 30, tzinfo=UTC))
    assert is_working_day(datetime(2026, 8, 17, 17, 30, tzinfo=UTC))  # Tue 00:30 WIB


@pytest.mark.parametrize(
    ("start", "n", "expected"),
    [
        (date(2026, 8, 7), 1, date(2026, 8, 10)),  # Fri + 1 -> Mon
        (date(2026, 8, 14), 1, date(2026, 8, 18)),  # Fri + 1 -> Tue (Mon 17 Aug holiday)
        (date(2026, 3, 17), 1, date(2026, 3, 25)),  # across Nyepi and Idul Fitri
        (date(2026, 3, 16), 5, date(2026, 3, 30)),  # PLN 5 working days
        (date(2026, 3, 21), 0, date(2026, 3, 25)),  # Sat during Eid: clock starts Wed
        (date(2026, 3, 17), 0, date(2026, 3, 17)),
    ],
)
def test_add_working_days_known_dates(start, n, expected):
    assert add_working_days(start, n) == expected
    assert working_days_between(start, expected) == n


def test_working_days_between_known_and_negative():
    assert working_days_between(date(2026, 3, 16), date(2026, 3, 31)) == 6
    assert working_days_between(date(2026, 3, 31), date(2026, 3, 16)) == -6
    assert working_days_between(date(2026, 3, 18), date(2026, 3, 25)) == 0
    with pytest.raises(ValueError):
        add_working_days(date(2026, 1, 5), -1)


@pytest.mark.parametrize(
    ("submitted", "n", "expected"),
    [
        (wib(2026, 8, 7, 10), 1, eod(2026, 8, 10)),  # Friday SLA 1 -> Monday EOD
        (wib(2026, 8, 14, 10), 1, eod(2026, 8, 18)),  # Monday is 17 Aug -> Tuesday
        (wib(2026, 3, 17, 15), 1, eod(2026, 3, 25)),  # Idul Fitri 2026 week
        (wib(2026, 3, 17, 15), 0, eod(2026, 3, 17)),  # same day
        (wib(2026, 8, 15, 9), 0, eod(2026, 8, 18)),  # Saturday -> next working day
        # UTC inputs: the WIB date decides.
        (datetime(2026, 8, 14, 16, 59, tzinfo=UTC), 0, eod(2026, 8, 14)),  # Fri 23:59 WIB
        (datetime(2026, 8, 14, 17, 30, tzinfo=UTC), 0, eod(2026, 8, 18)),  # Sat 00:30 WIB
    ],
)
def test_deadline_known_dates(submitted, n, expected):
    got = deadline(submitted, n)
    assert got == expected
    assert got.astimezone(WIB).time() == time(23, 59, 59, 999000)


def test_deadline_rejects_naive_datetime():
    with pytest.raises(ValueError):
        deadline(datetime(2026, 8, 14, 10), 1)


# --------------------------------------------------------------- clock: examples -----
def test_pause_pushes_by_paused_working_days():
    clock = SlaClock(wib(2026, 8, 10, 9), 5)
    assert due_at(clock) == eod(2026, 8, 18)  # Mon 10 + 5, skipping 17 Aug
    paused = pause(clock, wib(2026, 8, 12, 10))
    assert status(paused, wib(2026, 8, 30)) == "paused"
    resumed = resume(paused, wib(2026, 8, 14, 15))  # Wed 12 and Thu 13 lost
    assert resumed.paused_working_days == 2 and resumed.paused_since is None
    assert due_at(resumed) == eod(2026, 8, 20)


def test_pause_over_weekend_and_holiday_costs_only_working_days():
    clock = SlaClock(wib(2026, 8, 13, 9), 3)
    over_weekend = resume(pause(clock, wib(2026, 8, 15, 9)), wib(2026, 8, 18, 8))  # Sat -> Tue
    assert over_weekend.paused_working_days == 0
    assert due_at(over_weekend) == due_at(clock)
    fri_to_tue = resume(pause(clock, wib(2026, 8, 14, 16)), wib(2026, 8, 18, 8))
    assert fri_to_tue.paused_working_days == 1  # Friday only; Mon 17 Aug is a holiday
    same_day = resume(pause(clock, wib(2026, 8, 14, 9)), wib(2026, 8, 14, 15))
    assert same_day.paused_working_days == 0


def test_pause_after_breach_does_not_undo_it():
    clock = SlaClock(wib(2026, 8, 10, 9), 1)  # due Tue 11 Aug
    late = pause(clock, wib(2026, 8, 12, 9))
    assert status(late, wib(2026, 8, 12, 10)) == "breached"
    assert due_at(resume(late, wib(2026, 8, 20))) == eod(2026, 8, 11)


def test_pause_resume_idempotent_and_ordered():
    clock = SlaClock(wib(2026, 8, 10, 9), 1)
    assert resume(clock, wib(2026, 8, 11)) is clock
    p = pause(clock, wib(2026, 8, 10, 10))
    assert pause(p, wib(2026, 8, 10, 11)) is p
    with pytest.raises(ValueError):
        resume(p, wib(2026, 8, 10, 9))
    with pytest.raises(ValueError):
        pause(clock, wib(2026, 8, 9))


@pytest.mark.parametrize(
    ("clock", "expected_warn"),
    [
        # Mon 00:00, SLA 4: budget 5 days = 120 h; warn 24 h before Fri EOD.
        (SlaClock(wib(2026, 8, 3), 4), wib(2026, 8, 7)),
        # Same day, from noon: budget 12 h, warn 2.4 h before midnight.
        (SlaClock(wib(2026, 8, 3, 12), 0), wib(2026, 8, 3, 21, 36)),
        # Fri 00:00 SLA 1 -> due Tue 18 Aug: budget 48 h; warn 9.6 h before Tue midnight.
        (SlaClock(wib(2026, 8, 14), 1), wib(2026, 8, 18, 14, 24)),
        # Paused Tue-Wed (2 days): due moves to Tue 11 Aug; 96 h of agency time used by then.
        (resume(pause(SlaClock(wib(2026, 8, 3), 4), wib(2026, 8, 4, 10)), wib(2026, 8, 6, 9)),
         wib(2026, 8, 11)),
    ],
)
def test_warn_at_known_values(clock, expected_warn):
    assert warn_at(clock) == expected_warn
    assert warn_at(clock) < due_at(clock)


def test_status_sequence():
    clock = SlaClock(wib(2026, 8, 3), 4)
    assert status(clock, wib(2026, 8, 6, 23, 59)) == "ok"
    assert status(clock, wib(2026, 8, 7)) == "warning"
    assert status(clock, eod(2026, 8, 7)) == "warning"
    assert status(clock, wib(2026, 8, 8)) == "breached"


def test_clock_round_trips_through_dict():
    clock = pause(SlaClock(wib(2026, 8, 3), 4, paused_working_days=2), wib(2026, 8, 5))
    assert SlaClock.from_dict(clock.to_dict()) == clock


def test_elapsed_working_seconds_known():
    # Fri 14 Aug 12:00 -> Tue 18 Aug 06:00 WIB: 12 h Friday + 6 h Tuesday.
    assert elapsed_working_seconds([(wib(2026, 8, 14, 12), wib(2026, 8, 18, 6))]) == 18 * 3600
    assert elapsed_working_seconds([(wib(2026, 3, 18), wib(2026, 3, 25))]) == 0  # Eid break
    assert elapsed_working_seconds([(wib(2026, 8, 3), wib(2026, 8, 4)),
                                    (wib(2026, 8, 15), wib(2026, 8, 17))]) == 86400


# --------------------------------------------------------------- properties ----------
dates = st.dates(date(2025, 1, 1), date(2027, 12, 31))
instants = st.integers(0, 3 * 365 * 24 * 60).map(lambda m: wib(2025, 1, 1) + timedelta(minutes=m))


@settings(max_examples=300, deadline=None)
@given(dates, st.integers(0, 30))
def test_add_working_days_matches_reference(start, n):
    d = add_working_days(start, n)
    assert ref_working(d)
    assert d >= start
    assert ref_count(start, d) == n  # no weekend or holiday was counted
    assert working_days_between(start, d) == n


@settings(max_examples=300, deadline=None)
@given(dates, dates)
def test_working_days_between_matches_reference(a, b):
    expected = ref_count(a, b) if a <= b else -ref_count(b, a)
    assert working_days_between(a, b) == expected


@settings(max_examples=200, deadline=None)
@given(instants, st.integers(0, 25))
def test_deadline_is_end_of_a_working_day(submitted, n):
    due = deadline(submitted, n)
    local = due.astimezone(WIB)
    assert ref_working(local.date())
    assert local.time() == time(23, 59, 59, 999000)
    assert due > submitted
    assert ref_count(submitted.astimezone(WIB).date(), local.date()) == n


@settings(max_examples=300, deadline=None)
@given(instants, st.integers(0, 25), st.integers(0, 60 * 24 * 20), st.integers(0, 60 * 24 * 40))
def test_clock_never_counts_paused_weekend_or_holiday_days(start, n, pause_after, paused_for):
    clock = SlaClock(start, n)
    p_at = start + timedelta(minutes=pause_after)
    r_at = p_at + timedelta(minutes=paused_for)
    resumed = resume(pause(clock, p_at), r_at)
    before = due_at(clock).astimezone(WIB).date()
    after = due_at(resumed).astimezone(WIB).date()
    if p_at <= due_at(clock):
        lost = ref_count(p_at.astimezone(WIB).date(), r_at.astimezone(WIB).date())
        assert resumed.paused_working_days == lost
        assert ref_count(before, after) == lost  # pushed by exactly the lost working days
        # whole-day pauses: the agency may lose at most the part of the resume day
        # before the resume (and gains the part of the pause day before the pause)
        left_then = working_time(p_at, due_at(clock))
        left_now = working_time(r_at, due_at(resumed))
        assert left_now >= left_then - timedelta(days=1)
    else:
        assert after == before
    assert ref_working(after)


@settings(max_examples=300, deadline=None)
@given(instants, st.integers(0, 25), st.integers(0, 3))
def test_warning_strictly_before_due(start, n, paused_days):
    clock = SlaClock(start, n, paused_working_days=paused_days)
    warn, due = warn_at(clock), due_at(clock)
    assert warn < due
    total = budget(clock)
    assert total > timedelta(0)
    midnight = due.astimezone(WIB).replace(hour=0, minute=0, second=0, microsecond=0) \
        + timedelta(days=1)
    left = working_time(warn, midnight)
    assert left == max(total - total * 4 // 5, timedelta(microseconds=1))
    assert ref_working(warn.astimezone(WIB).date())
    if paused_days == 0:
        assert warn >= clock_start(clock)
        used = working_time(clock_start(clock), warn)
        assert abs(used - total * 4 // 5) <= timedelta(microseconds=1)


@settings(max_examples=200, deadline=None)
@given(instants, st.integers(0, 10), st.lists(st.integers(0, 60 * 24 * 30), max_size=20))
def test_status_is_monotone_without_pause(start, n, offsets):
    clock = SlaClock(start, n)
    rank = {"ok": 0, "warning": 1, "breached": 2}
    seen = [rank[status(clock, start + timedelta(minutes=m))] for m in sorted(offsets)]
    assert seen == sorted(seen)


@settings(max_examples=300, deadline=None)
@given(instants, instants, instants)
def test_working_time_additive_and_zero_off_days(a, b, c):
    a, b, c = sorted((a, b, c))
    assert working_time(a, b) + working_time(b, c) == working_time(a, c)
    da, db = a.astimezone(WIB).date(), b.astimezone(WIB).date()
    assert working_time(wib(da.year, da.month, da.day), wib(db.year, db.month, db.day)) \
        == timedelta(days=ref_count(da, db))
    if ref_count(da, db + timedelta(days=1)) == 0:
        assert elapsed_working_seconds([(a, b)]) == 0


# --------------------------------------------------------------- DeadlineIndex -------
def test_deadline_index_basics():
    idx = DeadlineIndex(bucket_seconds=60)
    base = datetime(2026, 8, 3, 1, 0, tzinfo=UTC)
    idx.add("r1", "warn", base + timedelta(seconds=10))
    idx.add("r1", "due", base + timedelta(seconds=50))
    idx.add("r2", "due", base + timedelta(hours=5))
    idx.add("r3", "due", base - timedelta(days=3))
    assert len(idx) == 4
    assert idx.remove("r3", "due") and not idx.remove("r3", "due")
    # same bucket: only the entry at <= now comes out
    assert idx.due(base + timedelta(seconds=30)) == [("r1", "warn", base + timedelta(seconds=10))]
    assert idx.due(base + timedelta(seconds=30)) == []
    idx.add("r2", "due", base + timedelta(seconds=40))  # moved earlier
    got = idx.due(base + timedelta(minutes=1))
    assert got == [("r2", "due", base + timedelta(seconds=40)),
                   ("r1", "due", base + timedelta(seconds=50))]
    assert len(idx) == 0


def test_deadline_index_round_trip():
    idx = DeadlineIndex(bucket_seconds=300)
    base = datetime(2026, 8, 3, 1, 0, tzinfo=UTC)
    for i in range(10):
        idx.add(f"r{i}", "due", base + timedelta(minutes=7 * i))
    again = DeadlineIndex.from_dict(idx.to_dict())
    assert again.to_dict() == idx.to_dict() and len(again) == 10
    assert again.due(base + timedelta(minutes=21)) == idx.due(base + timedelta(minutes=21))


def test_deadline_index_due_does_not_scan_future_buckets():
    idx = DeadlineIndex(bucket_seconds=60)
    base = datetime(2026, 8, 3, tzinfo=UTC)
    for i in range(5000):
        idx.add(f"far{i}", "due", base + timedelta(days=1, minutes=i))
    idx.add("near", "due", base)
    buckets_before = len(idx._buckets)
    assert idx.due(base + timedelta(minutes=1)) == [("near", "due", base)]
    assert len(idx._buckets) == buckets_before - 1 and len(idx) == 5000


ops = st.lists(
    st.one_of(
        st.tuples(st.just("add"), st.integers(0, 6), st.sampled_from(["warn", "due"]),
                  st.integers(0, 600)),
        st.tuples(st.just("remove"), st.integers(0, 6), st.sampled_from(["warn", "due"])),
        st.tuples(st.just("due"), st.integers(0, 600)),
    ),
    max_size=60,
)


@settings(max_examples=400, deadline=None)
@given(ops, st.sampled_from([1, 7, 60]))
def test_deadline_index_matches_model(operations, bucket_seconds):
    base = datetime(2026, 8, 3, tzinfo=UTC)
    idx, model = DeadlineIndex(bucket_seconds), {}
    for op in operations:
        if op[0] == "add":
            _, r, kind, s = op
            at = base + timedelta(seconds=s)
            idx.add(f"r{r}", kind, at)
            model[(f"r{r}", kind)] = at
        elif op[0] == "remove":
            _, r, kind = op
            assert idx.remove(f"r{r}", kind) == ((f"r{r}", kind) in model)
            model.pop((f"r{r}", kind), None)
        else:
            now = base + timedelta(seconds=op[1])
            expected = sorted(((k[0], k[1], at) for k, at in model.items() if at <= now),
                              key=lambda e: (e[2], e[0], e[1]))
            assert idx.due(now) == expected
            for rid, kind, _ in expected:
                del model[(rid, kind)]
        assert len(idx) == len(model)
        for (rid, kind), at in model.items():
            assert idx.get(rid, kind) == at
    assert DeadlineIndex.from_dict(idx.to_dict()).to_dict() == idx.to_dict()
