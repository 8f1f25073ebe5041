"""The one retry helper of the hub: exponential back-off for every loop that waits for something to come back.

Every loop that retries (the worker's agent and its output path, the schema look-up at start-up, the
connectors' publisher, forwarder, SQL outbox poller and follower, the service mall's follower) holds a
:class:`Backoff` and calls :meth:`Backoff.wait` after a failure and :meth:`Backoff.reset` after a success;
:func:`retry` wraps a single call that must eventually succeed. Pure asyncio, no third-party imports.

Invariants: the first wait is ``start``, each next one ``factor`` times longer, never longer than ``limit``;
a success starts over at ``start``; a wait ends early when ``stopping`` is set (a loop that is asked to stop
never sleeps through it). Never gives up: a loop that backs off retries until it succeeds or is stopped
(records are never dropped because a dependency was away for a while).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable
from typing import TypeVar

T = TypeVar("T")

#: Reconnecting to a broker, registry or database that went away: quick at first, every 5 s at most.
RECONNECT_START, RECONNECT_MAX = 0.2, 5.0


class Backoff:
    """Exponential back-off state of one loop (see the module doc)."""

    __slots__ = ("start", "limit", "factor", "delay", "failures")

    def __init__(self, start: float, limit: float, factor: float = 2.0):
        if start <= 0 or limit < start or factor < 1:
            raise ValueError("back-off needs 0 < start <= limit and factor >= 1")
        self.start = start
        self.limit = limit
        self.factor = factor
        self.delay = start
        self.failures = 0  # consecutive failures since the last success

    def reset(self) -> None:
        """A success: the next failure waits ``start`` again."""
        self.delay = self.start
        self.failures = 0

    def next(self) -> float:
        """The delay to wait now; the one after it grows by ``factor`` up to ``limit``."""
        delay = self.delay
        self.failures += 1
        self.delay = min(self.delay * self.factor, self.limit)
        return delay

    async def wait(self, stopping: asyncio.Event | None = None) -> float:
        """Sleep the current delay (less if ``stopping`` is set meanwhile); returns the delay."""
        delay = self.next()
        if stopping is None:
            await asyncio.sleep(delay)
        else:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stopping.wait(), delay)
        return delay


async def retry(call: Callable[[], Awaitable[T]], *, retry_on: tuple[type[BaseException], ...],
                backoff: Backoff, log: logging.Logger, what: str) -> T:
    """``await call()`` until it returns; an exception of ``retry_on`` is logged (naming ``what``) and waited
    out with ``backoff``, any other propagates."""
    while True:
        try:
            result = await call()
        except retry_on as exc:
            log.warning("%s failed (%s); retrying in %.1fs", what, exc, backoff.delay)
            await backoff.wait()
            continue
        backoff.reset()
        return result
