"""What an endpoint's answer means (pure).

* 2xx: delivered.
* 410 Gone: the endpoint does not want events any more: it is disabled; this delivery waits (it goes
  if an admin resumes the endpoint).
* 429 and 503 with ``Retry-After``: the next attempt waits what the endpoint asked, capped at the
  schedule's step + 2 h (``hub.delivery.schedule``).
* Anything else (1xx, 3xx: redirects are not followed, 4xx, 5xx, timeouts, refused connections, TLS
  errors, addresses the SSRF policy refuses): failed; the next attempt follows the schedule, and after
  the last one the delivery is exhausted.

Invariant: :func:`decide` reads no clock and no random source of its own.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from enum import StrEnum

from hub.delivery import schedule

#: ``error_class`` values (closed set: metric labels, attempt log).
ERROR_CLASSES = ("timeout", "connect", "tls", "blocked", "protocol", "error")
#: Answer classes for ``hub_delivery_attempts_total{result}``.
RESULTS = ("2xx", "1xx", "3xx", "4xx", "410", "429", "5xx", *ERROR_CLASSES)


@dataclass(frozen=True, slots=True)
class Answer:
    """What one attempt observed."""

    status: int | None  # None: no HTTP answer (see error_class)
    duration: float
    error_class: str | None = None
    excerpt: str | None = None  # the first 1 KB of the body, or the error's text
    retry_after: str | None = None  # the header, as sent


class Verdict(StrEnum):
    DELIVERED = "delivered"
    RETRY = "retry"
    EXHAUSTED = "exhausted"
    GONE = "gone"


@dataclass(frozen=True, slots=True)
class Decision:
    verdict: Verdict
    next_at: float | None = None


def result(answer: Answer) -> str:
    """The answer's class (a value of :data:`RESULTS`)."""
    if answer.status is None:
        return answer.error_class if answer.error_class in ERROR_CLASSES else "error"
    if answer.status in (410, 429):
        return str(answer.status)
    return f"{min(max(answer.status // 100, 1), 5)}xx"


def ok(answer: Answer) -> bool:
    return answer.status is not None and 200 <= answer.status < 300


def decide(answer: Answer, attempts_made: int, now: float, rng: random.Random,
           compression: float = 1.0) -> Decision:
    """After an attempt: ``attempts_made`` counts the attempts of this round, this one included."""
    if ok(answer):
        return Decision(Verdict.DELIVERED)
    if answer.status == 410:
        return Decision(Verdict.GONE, now)
    delay = None
    wait = (schedule.parse_retry_after(answer.retry_after, now)
            if answer.status in (429, 503) else None)
    if wait is not None:
        delay = schedule.honour_retry_after(attempts_made, wait, compression)
    else:
        delay = schedule.next_delay(attempts_made, rng, compression)
    if delay is None:
        return Decision(Verdict.EXHAUSTED)
    return Decision(Verdict.RETRY, now + delay)
