"""The service mall in the demo: ``hub mall serve`` as a thread of the demo process (its own event loop, so it
stays up while the demo's traffic runs), a manager's token, and a screenshot of the dashboard at the end."""

from __future__ import annotations

import asyncio
import logging
import threading
from pathlib import Path

from hub.mall.auth import Role, StaffDirectory
from hub.mall.service import MallService
from hub.settings import Settings

log = logging.getLogger("hub.mall")
START_TIMEOUT = 60.0


class MallDemo:
    """``MallDemo(settings, workdir, port).start()``; ``.url``, ``.token``; ``.finish(png)`` at the end."""

    def __init__(self, settings: Settings, workdir: Path, port: int):
        self.workdir = Path(workdir)
        tokens = self.workdir / "mall-staff.json"
        self.token = StaffDirectory.add(tokens, "Demo manager", Role.MANAGER)
        self.settings = Settings(**{**settings.model_dump(), "mall_port": port,
                                    "mall_tokens_file": str(tokens),
                                    "mall_database": f"sqlite:{self.workdir / 'mall.sqlite'}"})
        self.url = f"http://{self.settings.mall_host}:{port}/"
        self._ready = threading.Event()
        self._thread = threading.Thread(target=self._main, name="mall", daemon=True)
        self._loop: asyncio.AbstractEventLoop | None = None
        self._stop: asyncio.Event | None = None
        self.error: BaseException | None = None

    def _main(self) -> None:
        async def run() -> None:
            self._loop, self._stop = asyncio.get_running_loop(), asyncio.Event()
            try:
                async with MallService(self.settings):
                    self._ready.set()
                    await self._stop.wait()
            except BaseException as exc:  # reported by start()/finish()
                self.error = exc
                self._ready.set()

        asyncio.run(run())

    def start(self) -> MallDemo:
        self._thread.start()
        if not self._ready.wait(START_TIMEOUT) or self.error:
            raise RuntimeError(f"the mall service did not start: {self.error!r}")
        return self

    def finish(self, screenshot: Path | None) -> Path | None:
        """Screenshot the dashboard (None if no browser is at hand), then stop the service."""
        taken = None
        if screenshot is not None:
            from hub.dev.browser import dashboard_screenshot

            try:
                taken = asyncio.run(dashboard_screenshot(self.url, self.token, screenshot))
            except Exception as exc:  # a demo without Chromium still ends well
                log.warning("no dashboard screenshot: %s", exc)
        if self._loop is not None and self._stop is not None:
            self._loop.call_soon_threadsafe(self._stop.set)
        self._thread.join(30)
        return taken
