"""The retry schedule: about three days, Friday evening to Monday (pure).

Attempt 1 goes immediately; after a failed attempt *n* the next waits ``STEPS[n]`` (±20 % jitter):
5 s, 5 min, 30 min, 2 h, 5 h, 10 h, 14 h, 20 h, 24 h. Ten attempts over ~75.6 h (the Standard Webhooks
example schedule is ~75 h; Svix's ~27 h does not outlast a long weekend). After the tenth failure the
delivery is *exhausted*.

A ``Retry-After`` answer (429, 503) replaces the step, capped at the step + 2 h: the endpoint says when
it can take more, but it cannot push an attempt further out than that.

``compression`` divides every interval (``HUB_DELIVERY_TIME_COMPRESSION``; tests and demos) but never a
``Retry-After`` the endpoint sent: that is real time at the endpoint. The cap is compressed.

Invariants: :func:`next_delay` is None exactly when ``attempts_made >= len(STEPS)``; every delay is
within ``[0.8, 1.2] × step / compression``; nothing here reads a clock or a random source of its own.
"""

from __future__ import annotations

import random
from datetime import UTC
from email.utils import parsedate_to_datetime

MINUTE = 60.0
HOUR = 3600.0
DAY = 24 * HOUR
#: Wait before attempt n+1 (index n); STEPS[0] = 0: the first attempt goes immediately.
STEPS: tuple[float, ...] = (0.0, 5.0, 5 * MINUTE, 30 * MINUTE, 2 * HOUR, 5 * HOUR, 10 * HOUR, 14 * HOUR,
                            20 * HOUR, 24 * HOUR)
ATTEMPTS = len(STEPS)
JITTER = 0.2
RETRY_AFTER_SLACK = 2 * HOUR


def step(attempts_made: int) -> float | None:
    """The unjittered, uncompressed wait before the next attempt; None when none is left."""
    if attempts_made < 0:
        raise ValueError("attempts_made must be >= 0")
    return STEPS[attempts_made] if attempts_made < ATTEMPTS else None


def next_delay(attempts_made: int, rng: random.Random, compression: float = 1.0) -> float | None:
    """Seconds to wait before the next attempt after ``attempts_made`` attempts; None = exhausted."""
    base = step(attempts_made)
    if base is None:
        return None
    return base * rng.uniform(1 - JITTER, 1 + JITTER) / compression


def parse_retry_after(value: str | None, now: float) -> float | None:
    """Seconds from ``now`` that a ``Retry-After`` header asks for (delta-seconds or an HTTP-date);
    None if absent or unreadable. Never negative."""
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(0.0, when.timestamp() - now)


def honour_retry_after(attempts_made: int, retry_after: float, compression: float = 1.0) -> float | None:
    """The wait when the endpoint asked for ``retry_after`` seconds: that, capped at the next step +
    2 h (compressed); None when no attempt is left."""
    base = step(attempts_made)
    if base is None:
        return None
    return min(retry_after, (base + RETRY_AFTER_SLACK) / compression)


def total(compression: float = 1.0) -> float:
    """Seconds from the first attempt to the last one, without jitter."""
    return sum(STEPS) / compression

