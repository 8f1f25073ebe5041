"""Long-running loops of a connector process: run until SIGTERM/SIGINT, and start/stop loops together."""

from __future__ import annotations

import asyncio
import contextlib
import signal
from collections.abc import Awaitable, Callable


async def run_until_signalled(main: Callable[[asyncio.Event], Awaitable[object]]) -> None:
    """Run ``main(stopping)``; SIGTERM/SIGINT set ``stopping`` so it can flush and return (graceful)."""
    stopping = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        with contextlib.suppress(NotImplementedError, RuntimeError):
            loop.add_signal_handler(sig, stopping.set)
    try:
        await main(stopping)
    finally:
        for sig in (signal.SIGTERM, signal.SIGINT):
            with contextlib.suppress(NotImplementedError, RuntimeError):
                loop.remove_signal_handler(sig)


class Loops:
    """Long-running loops (objects with ``run(stopping)``, e.g. a Forwarder and a Follower) started
    together and stopped together: ``stop`` sets the shared event and waits for each to finish."""

    def __init__(self) -> None:
        self.stopping = asyncio.Event()
        self._tasks: list[asyncio.Task] = []

    def start(self, *loops: object) -> None:
        for loop in loops:
            if loop is not None:
                self._tasks.append(asyncio.create_task(loop.run(self.stopping)))  # type: ignore[attr-defined]

    async def stop(self, timeout: float = 30.0) -> None:
        self.stopping.set()
        for task in self._tasks:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(task, timeout=timeout)
        self._tasks.clear()
