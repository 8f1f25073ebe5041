"""Run a FastAPI (ASGI) app with uvicorn inside the caller's event loop, on a port that may be 0.

``uvicorn.Server.serve`` installs signal handlers and owns the loop when run by ``uvicorn.run``; the
hub's processes own their signals (``hub.connectors.loops.run_until_signalled``), so the server runs
as a task of the current loop with ``install_signal_handlers`` disabled (uvicorn/server.py
``capture_signals``), ``start`` returns once it listens (``Server.started``), and ``stop`` asks it to
finish (``should_exit``) and waits, closing keep-alive connections.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Iterator
from typing import Any

import uvicorn


class _Server(uvicorn.Server):
    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        yield  # the process owns its signals


class ApiServer:
    """``await ApiServer(app, host, port).start()``; ``.port`` is the bound port; ``await .stop()``."""

    def __init__(self, app: Any, host: str = "127.0.0.1", port: int = 0, **config: Any):
        config.setdefault("log_level", "warning")
        config.setdefault("access_log", False)
        config.setdefault("lifespan", "on")
        self.config = uvicorn.Config(app, host=host, port=port, **config)
        self.server = _Server(self.config)
        self._task: asyncio.Task[None] | None = None

    @property
    def port(self) -> int:
        for server in getattr(self.server, "servers", []):
            for sock in server.sockets:
                return int(sock.getsockname()[1])
        return self.config.port

    @property
    def url(self) -> str:
        return f"http://{self.config.host}:{self.port}"

    async def start(self, timeout: float = 30.0) -> ApiServer:
        self._task = asyncio.create_task(self.server.serve())
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while not self.server.started:
            if self._task.done():
                self._task.result()  # raises what stopped it (port in use, ...)
                raise RuntimeError(f"HTTP server on {self.config.host}:{self.config.port} "
                                   "stopped during start-up")
            if loop.time() > deadline:
                raise TimeoutError(f"HTTP server on {self.config.host}:{self.config.port} "
                                   f"not up in {timeout}s")
            await asyncio.sleep(0.02)
        return self

    async def stop(self, timeout: float = 10.0) -> None:
        if self._task is None:
            return
        self.server.should_exit = True
        try:
            await asyncio.wait_for(asyncio.shield(self._task), timeout)
        except asyncio.TimeoutError:
            self.server.force_exit = True
            with contextlib.suppress(BaseException):
                await asyncio.wait_for(self._task, 5)
        self._task = None

    async def __aenter__(self) -> ApiServer:
        return await self.start()

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()
