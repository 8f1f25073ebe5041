"""The retry schedule and what an endpoint's answer means: ten attempts over about three days with
±20 % jitter, Retry-After honoured up to the next step + 2 h, compression for tests, 410 disables."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime

import pytest
from hypothesis import given
from hypothesis import strategies as st

from hub.delivery import schedule
from hub.delivery.outcome import RESULTS, Answer, Verdict, decide, result
from hub.delivery.schedule import HOUR, STEPS


def test_ten_attempts_from_immediately_to_24_h_about_three_days():
    assert STEPS == (0, 5, 300, 1800, 2 * HOUR, 5 * HOUR, 10 * HOUR, 14 * HOUR, 20 * HOUR, 24 * HOUR)
    assert 72 * HOUR < schedule.total() < 76 * HOUR  # Friday evening to Monday morning
    assert schedule.total(compression=1000) == pytest.approx(schedule.total() / 1000)


@given(st.integers(0, 9), st.integers(0, 2**32), st.sampled_from([1.0, 60.0, 1000.0]))
def test_every_delay_is_its_step_within_20_percent(made, seed, compression):
    delay = schedule.next_delay(made, random.Random(seed), compression)
    assert delay is not None
    assert 0.8 * STEPS[made] / compression <= delay <= 1.2 * STEPS[made] / compression


@given(st.integers(10, 100))
def test_after_the_tenth_attempt_none_is_left(made):
    assert schedule.next_delay(made, random.Random(1)) is None


def test_jitter_spreads_the_attempts():
    delays = {round(schedule.next_delay(3, random.Random(seed)), 3) for seed in range(50)}
    assert len(delays) > 40 and min(delays) < 1800 < max(delays)


def test_retry_after_in_seconds_or_as_a_date():
    now = datetime(2026, 3, 30, 8, tzinfo=UTC).timestamp()
    assert schedule.parse_retry_after("120", now) == 120
    date = format_datetime(datetime(2026, 3, 30, 9, tzinfo=UTC), usegmt=True)
    assert schedule.parse_retry_after(date, now) == 3600
    past = format_datetime(datetime(2020, 1, 1, tzinfo=UTC), usegmt=True)
    assert schedule.parse_retry_after(past, now) == 0
    assert schedule.parse_retry_after("soon", now) is None and schedule.parse_retry_after(None, now) is None


def test_retry_after_is_capped_at_the_next_step_plus_two_hours():
    assert schedule.honour_retry_after(2, 600) == 600               # shorter than the step: taken as asked
    assert schedule.honour_retry_after(2, 10 * HOUR) == 300 + 2 * HOUR
    assert schedule.honour_retry_after(2, 10 * HOUR, compression=100) == pytest.approx((300 + 2 * HOUR) / 100)
    assert schedule.honour_retry_after(10, 60) is None


NOW = 1_800_000_000.0


def answer(status: int | None, retry_after: str | None = None, error: str | None = None) -> Answer:
    return Answer(status, 0.05, error, None, retry_after)


@pytest.mark.parametrize("status", [200, 201, 202, 204, 299])
def test_2xx_is_delivered(status):
    assert decide(answer(status), 1, NOW, random.Random(1)).verdict is Verdict.DELIVERED


@pytest.mark.parametrize("status, error", [(301, None), (302, None), (400, None), (401, None), (404, None),
                                           (500, None), (502, None), (None, "timeout"), (None, "connect"),
                                           (None, "blocked"), (429, None), (503, None)])
def test_other_answers_fail_and_follow_the_schedule(status, error):
    d = decide(answer(status, error=error), 3, NOW, random.Random(1))
    assert d.verdict is Verdict.RETRY
    assert 0.8 * STEPS[3] <= d.next_at - NOW <= 1.2 * STEPS[3]
    assert decide(answer(status, error=error), 10, NOW, random.Random(1)).verdict is Verdict.EXHAUSTED


def test_410_disables():
    assert decide(answer(410), 1, NOW, random.Random(1)) .verdict is Verdict.GONE


@pytest.mark.parametrize("status", [429, 503])
def test_429_and_503_honour_retry_after(status):
    assert decide(answer(status, "40"), 1, NOW, random.Random(1)).next_at == NOW + 40
    capped = decide(answer(status, "86400"), 1, NOW, random.Random(1), compression=10)
    assert capped.next_at == pytest.approx(NOW + (5 + 2 * HOUR) / 10)
    # Retry-After of another status is not honoured
    assert decide(answer(500, "40"), 1, NOW, random.Random(1)).next_at < NOW + 10


def test_answer_classes_are_a_closed_set():
    cases = [answer(200), answer(204), answer(302), answer(404), answer(410), answer(429), answer(503),
             answer(None, error="timeout"), answer(None, error="weird"), answer(100)]
    assert [result(a) for a in cases] == ["2xx", "2xx", "3xx", "4xx", "410", "429", "5xx", "timeout", "error",
                                          "1xx"]
    assert {result(a) for a in cases} <= set(RESULTS)


def test_a_delay_never_comes_from_a_clock_of_its_own():
    when = timedelta(seconds=decide(answer(500), 1, NOW, random.Random(7)).next_at - NOW)
    assert when == timedelta(seconds=decide(answer(500), 1, NOW, random.Random(7)).next_at - NOW)
