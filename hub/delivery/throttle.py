"""An endpoint's rate limit: a token bucket (no I/O: the caller passes the time and does the waiting).

``rate`` requests per second on average, bursts of up to ``burst`` (at least 1). ``rate=None``: no limit.
Invariant: over any interval of length t at most ``burst + rate * t`` requests are let through.
"""

from __future__ import annotations


class TokenBucket:
    def __init__(self, rate: float | None, burst: float | None = None, now: float = 0.0):
        self.rate = rate
        self.burst = max(1.0, burst if burst is not None else (rate or 1.0))
        self.tokens = self.burst
        self.at = now

    def _refill(self, now: float) -> None:
        if self.rate is not None and now > self.at:
            self.tokens = min(self.burst, self.tokens + (now - self.at) * self.rate)
        self.at = max(self.at, now)

    def take(self, now: float) -> float:
        """Take a token: 0.0 if one was there, else the seconds to wait before trying again."""
        if self.rate is None:
            return 0.0
        self._refill(now)
        if self.tokens >= 1.0:
            self.tokens -= 1.0
            return 0.0
        return (1.0 - self.tokens) / self.rate
