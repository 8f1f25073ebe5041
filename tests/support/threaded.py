"""A server that lives on its own event loop in a thread, for synchronous tests (schemathesis calls over
real HTTP from the test's thread): ``with ThreadedServer(start) as url`` starts it; it stops when the ``with``
block ends."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Awaitable, Callable

#: ``start()`` runs on the thread's loop: it starts whatever the test needs and returns the URL to call and
#: a coroutine function that stops it all again.
Start = Callable[[], Awaitable[tuple[str, Callable[[], Awaitable[None]]]]]


class ThreadedServer:
    def __init__(self, start: Start):
        self._start = start
        self._started = threading.Event()
        self._stop: asyncio.Event | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread = threading.Thread(target=asyncio.run, args=(self._main(),), daemon=True)
        self.url = ""

    async def _main(self) -> None:
        self._loop, self._stop = asyncio.get_running_loop(), asyncio.Event()
        self.url, stop = await self._start()
        self._started.set()
        await self._stop.wait()
        await stop()

    def __enter__(self) -> str:
        self._thread.start()
        assert self._started.wait(60), "the server did not start within 60 s (its thread's error is above)"
        return self.url

    def __exit__(self, *exc: object) -> None:
        assert self._loop is not None and self._stop is not None
        self._loop.call_soon_threadsafe(self._stop.set)
        self._thread.join(30)

