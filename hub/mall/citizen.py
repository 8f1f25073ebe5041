"""The public citizen page's look-up: one request by its number and a second factor, rate-limited.

The second factor is the last four digits of the applicant's NIK, checked against the ``citizen_check`` the
hub put in the feed event's enrichment: ``HMAC-SHA256(HUB_CITIZEN_REF_KEY, "<request_id>:<4 digits>")``, first
32 hex characters (``hub.core.enrichment.citizen_check``). The service computes the same from what the
citizen typed and compares in constant time; it never stores or logs the digits.

An unknown request number and a wrong factor get the same answer (same status, same body, the same HMAC
work), so the page does not tell which request numbers exist. :class:`RateLimiter` caps look-ups per client
address and per request number (10 000 possible factors: a per-number limit is what stops guessing).
"""

from __future__ import annotations

import hmac
import time
from collections import OrderedDict, deque
from typing import Any

from hub.core.enrichment import citizen_check

__all__ = ["RateLimiter", "matches"]

WINDOW_SECONDS = 60.0
MAX_KEYS = 50_000


def matches(expected: str | None, request_id: str, last4: str, key: bytes | None) -> bool:
    """Whether ``last4`` is the factor of ``request_id`` (constant time; False without a key or a check)."""
    computed = citizen_check(request_id, last4, key) if key else None
    return hmac.compare_digest(computed or "-", expected or "+") and computed is not None


class RateLimiter:
    """At most ``limit`` events per key in any ``window`` seconds (sliding window); bounded memory."""

    def __init__(self, limit: int, window: float = WINDOW_SECONDS, clock: Any = time.monotonic):
        self.limit = limit
        self.window = window
        self.clock = clock
        self._hits: OrderedDict[str, deque[float]] = OrderedDict()

    def allow(self, *keys: str) -> bool:
        """Count one event for every key; False (and nothing counted) if any key is over its limit."""
        now = self.clock()
        queues = []
        for key in keys:
            hits = self._hits.get(key)
            if hits is None:
                hits = self._hits[key] = deque()
            self._hits.move_to_end(key)
            while hits and hits[0] <= now - self.window:
                hits.popleft()
            if len(hits) >= self.limit:
                return False
            queues.append(hits)
        for hits in queues:
            hits.append(now)
        while len(self._hits) > MAX_KEYS:
            self._hits.popitem(last=False)
        return True

    def retry_after(self, *keys: str) -> int:
        now = self.clock()
        waits = [self.window - (now - hits[0]) for k in keys if (hits := self._hits.get(k))]
        return max(1, int(max(waits, default=1) + 0.999))
