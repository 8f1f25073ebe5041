"""The mall service as one object: the view's store, its follower, the live-stream fan-out and the HTTP
server, started and stopped together inside the caller's event loop (``hub mall serve``, the demo, tests)."""

from __future__ import annotations

import asyncio
import contextlib
import logging

from hub.http.server import ApiServer
from hub.mall.api import MallContext, create_app
from hub.mall.auth import Sessions, StaffDirectory
from hub.mall.citizen import RateLimiter
from hub.mall.consumer import ViewFollower
from hub.mall.store import Applied, SqlViewStore, open_store
from hub.mall.stream import Broadcaster
from hub.ops.runtime import mark_ready
from hub.settings import Settings
from hub.wire.codec import Codec

log = logging.getLogger("hub.mall")


class MallService:
    """``await MallService(settings).start()``; ``.url``; ``await .stop()``."""

    def __init__(self, settings: Settings, *, store: SqlViewStore | None = None, codec: Codec | None = None,
                 staff: StaffDirectory | None = None, rebuild: bool = False, follow: bool = True):
        self.settings = settings
        self.store = store or open_store(settings)
        self.broadcaster = Broadcaster(self.store, buffer=settings.mall_sse_buffer,
                                       heartbeat=settings.mall_sse_heartbeat_seconds)
        self.follower = ViewFollower(settings, self.store, codec=codec,
                                     on_applied=self._applied) if follow else None
        staff = staff if staff is not None else StaffDirectory.load(settings.mall_tokens_file)
        self.context = MallContext(settings, self.store, self.broadcaster, staff,
                                   Sessions(settings.mall_session_minutes),
                                   RateLimiter(settings.mall_citizen_lookups_per_minute))
        self.app = create_app(self.context)
        self.server = ApiServer(self.app, settings.mall_host, settings.mall_port)
        self.rebuild = rebuild
        self._stopping = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._ready: asyncio.Task[None] | None = None

    async def _when_caught_up(self, follower: ViewFollower) -> None:
        await follower.caught_up.wait()
        mark_ready(True, "view caught up")

    def _applied(self, applied: Applied) -> None:
        self.broadcaster.publish(applied)

    @property
    def url(self) -> str:
        return self.server.url

    async def start(self) -> MallService:
        await self.store.open()
        if self.rebuild:
            await self.store.reset()
            log.info("mall view emptied: rebuilding it from the topics")
        await self.broadcaster.start()
        if self.follower is not None:
            mark_ready(False, "catching up with the topics")
            self._task = asyncio.create_task(self.follower.run(self._stopping))
            self._ready = asyncio.create_task(self._when_caught_up(self.follower))
        await self.server.start()
        if not len(self.context.staff):
            log.warning("no staff tokens (HUB_MALL_TOKENS_FILE): only the citizen page is usable")
        if self.context.key is None:
            log.warning("HUB_CITIZEN_REF_KEY is not set: citizen look-ups and disclosures cannot match")
        log.info("mall service on %s (dashboard /, citizen page /citizen, OpenAPI /openapi.json)", self.url)
        return self

    async def stop(self) -> None:
        self._stopping.set()
        if self._ready is not None:
            self._ready.cancel()
        await self.broadcaster.aclose()
        await self.server.stop()
        if self._task is not None:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(self._task, 30)
            self._task = None
        await self.store.close()

    async def run(self, stopping: asyncio.Event) -> None:
        await self.start()
        try:
            await stopping.wait()
        finally:
            await self.stop()

    async def __aenter__(self) -> MallService:
        return await self.start()

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()
