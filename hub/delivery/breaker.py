"""Per-endpoint circuit breaker (no I/O: every method takes the time; the lane owns one per endpoint).

Closed until a failure leaves, within the last 5 minutes, at least 10 attempts of which at least 70 %
failed (Convoy's rule). Then open: nothing is sent to the endpoint, and deliveries falling due wait *without
using up an attempt*. After 30 s one probe is let through (half-open): success closes the breaker,
failure opens it again for twice as long, up to 10 minutes.

Separately, an endpoint that has not had one success for 5 days is disabled
(:func:`should_disable`), and its agency is told at most once a day (:func:`may_notify`).

All intervals are divided by ``compression`` (``HUB_DELIVERY_TIME_COMPRESSION``, tests and demos).

Invariants: in ``open`` :meth:`Breaker.allow` is False until ``probe_at``; in ``half_open`` exactly one
caller got True (the probe) and only the probe's result changes the state; the window holds at most
``BUCKETS`` buckets, whatever the rate.
"""

from __future__ import annotations

from collections import deque
from enum import StrEnum

from hub.delivery.schedule import DAY, MINUTE

WINDOW = 5 * MINUTE
MIN_ATTEMPTS = 10
FAILURE_RATIO = 0.7
FIRST_PROBE = 30.0
MAX_PROBE = 10 * MINUTE
DISABLE_AFTER = 5 * DAY
NOTIFY_EVERY = DAY
BUCKETS = 30


class State(StrEnum):
    CLOSED = "closed"
    HALF_OPEN = "half_open"
    OPEN = "open"


#: ``hub_delivery_breaker_state`` values.
GAUGE = {State.CLOSED: 0, State.HALF_OPEN: 1, State.OPEN: 2}


class Breaker:
    def __init__(self, compression: float = 1.0):
        self.compression = compression
        self.state = State.CLOSED
        self.probe_interval = FIRST_PROBE
        self.probe_at = 0.0
        self._bucket = WINDOW / BUCKETS / compression
        self._window: deque[list[float]] = deque()  # [bucket start, successes, failures]

    def _trim(self, now: float) -> None:
        horizon = now - WINDOW / self.compression
        while self._window and self._window[0][0] + self._bucket <= horizon:
            self._window.popleft()

    def counts(self, now: float) -> tuple[int, int]:
        """(attempts, failures) within the window."""
        self._trim(now)
        return (int(sum(b[1] + b[2] for b in self._window)), int(sum(b[2] for b in self._window)))

    def allow(self, now: float) -> bool:
        """May an attempt go now? In ``open`` past ``probe_at`` the caller's attempt is the probe."""
        if self.state is State.CLOSED:
            return True
        if self.state is State.OPEN and now >= self.probe_at:
            self.state = State.HALF_OPEN
            return True
        return False

    def record(self, now: float, ok: bool, *, probe: bool = False) -> State:
        """An attempt's result. ``probe``: it is the attempt :meth:`allow` let through in ``open``."""
        if self.state is State.HALF_OPEN:
            if probe:
                if ok:
                    self._close()
                else:
                    self._open(now, self.probe_interval * 2)
            return self.state
        if self.state is State.OPEN:
            return self.state
        self._trim(now)
        if not self._window or now >= self._window[-1][0] + self._bucket:
            self._window.append([now, 0, 0])
        self._window[-1][2 if not ok else 1] += 1
        if not ok:  # only a failure trips it (a success never opens a breaker)
            attempts, failures = self.counts(now)
            if attempts >= MIN_ATTEMPTS and failures >= FAILURE_RATIO * attempts:
                self._open(now, FIRST_PROBE)
        return self.state

    def _open(self, now: float, interval: float) -> None:
        self.state = State.OPEN
        self.probe_interval = min(interval, MAX_PROBE)
        self.probe_at = now + self.probe_interval / self.compression
        self._window.clear()

    def _close(self) -> None:
        self.state = State.CLOSED
        self.probe_interval = FIRST_PROBE
        self._window.clear()

    def next_change(self, now: float) -> float | None:
        """When :meth:`allow` may next answer True, if it does not now (for a scheduler's sleep)."""
        return self.probe_at if self.state is State.OPEN and now < self.probe_at else None


def should_disable(failing_since: float | None, now: float, compression: float = 1.0) -> bool:
    """True once an endpoint has failed without a single success for 5 days."""
    return failing_since is not None and now - failing_since >= DISABLE_AFTER / compression


def may_notify(last_notice: float | None, now: float, compression: float = 1.0) -> bool:
    """At most one notice a day to an agency's admins."""
    return last_notice is None or now - last_notice >= NOTIFY_EVERY / compression
