"""The demo's webhook agency: PLN with nothing but an HTTP endpoint, flaky and down for a while.

:class:`WebhookAgency` runs, in a thread with its own event loop beside the demo's: a reference receiver
(``hub.delivery.receiver``, FastAPI on loopback) that prints what it gets, answers 503 now and then and
is down (connection refused) for a stretch, a verified endpoint registered for it, and a dispatcher. Time
is compressed (``DEMO_COMPRESSION``): the retry schedule's 5 min step takes half a second. At the end,
:meth:`WebhookAgency.finish` compares what reached the endpoint with what the agency's topic holds.
"""

from __future__ import annotations

import asyncio
import random
import threading
import time
from collections import Counter
from pathlib import Path

from pydantic import SecretStr

from hub.delivery import service
from hub.delivery.dispatcher import Dispatcher
from hub.delivery.model import Attempt
from hub.delivery.receiver import PATH, Received, Receiver, Reply
from hub.delivery.signing import generate_secret
from hub.delivery.store import open_store
from hub.http.server import ApiServer
from hub.settings import Settings
from hub.wire.tail import read_to_end

AGENCY = "pln"
DEMO_COMPRESSION = 600.0  # 5 s -> 8 ms, 5 min -> 0.5 s, 30 min -> 3 s, 2 h -> 12 s
FLAKY = 0.12  # share of requests answered 503
DOWN_AFTER, DOWN_FOR = 5.0, 6.0  # seconds after the start
SHOWN = 8  # deliveries printed one by one


def say(text: str) -> None:
    print(text, flush=True)


class WebhookAgency:
    def __init__(self, settings: Settings, workdir: Path, port: int):
        self.settings = settings.model_copy(update={
            "delivery_allow_http": True, "delivery_allow_private_networks": True,  # a loopback receiver
            "delivery_store": SecretStr(f"sqlite:///{workdir}/delivery.sqlite"),
            "delivery_time_compression": DEMO_COMPRESSION,
            "delivery_poll_seconds": 0.2, "delivery_refresh_seconds": 0.5})
        self.port = port
        self.secret = generate_secret()
        self.rng = random.Random(13)
        self.receiver = Receiver([self.secret], reply=self._reply, on_receive=self._print)
        self.url = f"http://127.0.0.1:{port}{PATH}"
        self.flaky = 0
        self._ready = threading.Event()
        self._error: BaseException | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._stop: asyncio.Event | None = None
        self._thread = threading.Thread(target=self._run, name="webhook-agency", daemon=True)

    def _reply(self, got: Received) -> Reply:
        if self.rng.random() < FLAKY:
            self.flaky += 1
            return 503, {}
        return 200, {}

    def _print(self, got: Received, status: int) -> None:
        delivered = [r for r, s in self.receiver.attempts if 200 <= s < 300]
        doc = got.doc
        line = (f"  [pln endpoint] {status} {doc['subject']} #{doc['sequence']} {doc['data']['status']:<16} "
                f"fields: {','.join(sorted(doc['data'].get('citizen', {}))) or '-'}; "
                f"signature {'verified' if got.verified else 'WRONG'}")
        if status >= 300 or len(delivered) <= SHOWN:
            say(line + ("  (answered 503 on purpose)" if status == 503 else ""))
        elif len(delivered) % 25 == 0:
            say(f"  [pln endpoint] ... {len(delivered)} delivered so far")

    # -- the thread ----------------------------------------------------------------------------------
    def start(self) -> WebhookAgency:
        self._thread.start()
        self._ready.wait(60)
        if self._error is not None:
            raise RuntimeError(f"webhook demo did not start: {self._error!r}") from self._error
        say(f"agency {AGENCY} over webhooks: endpoint {self.url} verified (Standard Webhooks, fifo); "
            f"it will answer 503 to ~{FLAKY:.0%} of the requests and be down {DOWN_FOR:g} s "
            f"(retry schedule compressed {DEMO_COMPRESSION:g}x)")
        return self

    def _run(self) -> None:
        try:
            asyncio.run(self._main())
        except BaseException as exc:  # reported by start() / finish()
            self._error = exc
            self._ready.set()

    async def _main(self) -> None:
        self._loop = asyncio.get_running_loop()
        self._stop = asyncio.Event()
        server: ApiServer | None = await ApiServer(self.receiver.app, "127.0.0.1", self.port).start()
        store = open_store(self.settings)
        await store.open()
        await service.create_endpoint(store, self.settings, service.EndpointIn(
            agency=AGENCY, url=self.url, secret=self.secret, mode="fifo",
            description="demo: PLN branch office"))
        await store.close()
        dispatcher = await Dispatcher(self.settings).start()
        self._ready.set()
        started = time.monotonic()
        await asyncio.sleep(DOWN_AFTER)
        if server is not None:
            await server.stop()
            say(f"  [pln endpoint] DOWN for {DOWN_FOR:g} s (connection refused): deliveries are parked and "
                f"retried")
        await asyncio.sleep(max(0.0, DOWN_AFTER + DOWN_FOR - (time.monotonic() - started)))
        server = await ApiServer(self.receiver.app, "127.0.0.1", self.port).start()
        say("  [pln endpoint] back UP")
        await self._stop.wait()
        await dispatcher.stop()
        await server.stop()

    # -- the end -------------------------------------------------------------------------------------
    def finish(self, timeout: float = 60.0) -> bool:
        """Wait until the endpoint has every event of the PLN topic; print the count; True if it has."""
        expected = asyncio.run(self._on_topic())
        end = time.monotonic() + timeout
        while time.monotonic() < end and not self.receiver.ids() >= expected:
            time.sleep(0.2)
        got = self.receiver.ids()
        log = asyncio.run(self._attempt_log())
        results = Counter("delivered" if a.status_code and a.status_code < 300 else
                          f"HTTP {a.status_code}" if a.status_code else f"{a.error_class} (endpoint down)"
                          for a in log)
        per_event = Counter(a.event_id for a in log)
        verified = all(r.verified for r, _ in self.receiver.attempts)
        say(f"\nwebhooks ({AGENCY}): {len(expected)} events on {self.settings.agency_topic(AGENCY)}, "
            f"{len(got & expected)} delivered to the endpoint"
            + ("; none lost" if got >= expected else f"; MISSING {len(expected - got)}")
            + f"; signatures {'all verified' if verified else 'NOT verified'}")
        kinds = ", ".join(f"{n} {k}" for k, n in results.most_common())
        say(f"  attempt log: {len(log)} attempts ({kinds}); "
            f"{sum(1 for n in per_event.values() if n > 1)} events retried, at most "
            f"{max(per_event.values(), default=0)} attempts each")
        return got >= expected and verified

    async def _attempt_log(self) -> list[Attempt]:
        store = open_store(self.settings)
        await store.open()
        try:
            log = []
            cursor = None
            while True:
                page = await store.list_deliveries(agency=AGENCY, limit=500, cursor=cursor)
                for delivery in page.deliveries:
                    log += await store.attempts(delivery.id)
                cursor = page.next_cursor
                if cursor is None:
                    return log
        finally:
            await store.close()

    async def _on_topic(self) -> set[str]:
        from hub.wire.clients import kafka_options

        ids = set()
        async for record in read_to_end(kafka_options(self.settings), self.settings.agency_topic(AGENCY)):
            headers = {k: v.decode() for k, v in record.headers or ()}
            ids.add(headers.get("ce_id", ""))
        return ids

    def stop(self) -> None:
        if self._loop is not None and self._stop is not None and self._thread.is_alive():
            self._loop.call_soon_threadsafe(self._stop.set)
            self._thread.join(30)
