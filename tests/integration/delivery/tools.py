"""Helpers of the push-delivery integration tests: receivers that go down and come back, endpoints
registered through the service layer, requests with several events, a dispatcher run in this process."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from typing import Any

from hub.access.catalogue import DISPATCHER
from hub.access.credentials import store_of
from hub.connectors.publisher import Publisher
from hub.core.lifecycle import Status
from hub.core.models import RequestLifecycleEvent
from hub.delivery import service
from hub.delivery.dispatcher import Dispatcher
from hub.delivery.receiver import PATH, Receiver
from hub.delivery.store import SubscriptionStore, open_store
from hub.dev.simulator import village_requests
from hub.dev.stack import free_port
from hub.http.server import ApiServer
from hub.settings import Settings
from hub.wire.topics import ensure_topics, topic_specs

AGENCY = "dukcapil"
STEPS = (Status.SUBMITTED, Status.VERIFIED, Status.IN_PROCESS, Status.APPROVED, Status.COMPLETED)


class Endpoint:
    """A receiver on a fixed loopback port that can be taken down and brought back."""

    def __init__(self, receiver: Receiver):
        self.receiver = receiver
        self.port = free_port()
        self.server: ApiServer | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}{PATH}"

    async def up(self) -> Endpoint:
        if self.server is None:
            self.server = await ApiServer(self.receiver.app, "127.0.0.1", self.port).start()
        return self

    async def down(self) -> None:
        if self.server is not None:
            await self.server.stop()
            self.server = None


async def topics(settings: Settings) -> None:
    await ensure_topics(settings, topic_specs(settings, agencies=[AGENCY, "pln"]))


async def opened(settings: Settings) -> SubscriptionStore:
    store = open_store(settings)
    await store.open()
    return store


async def register(settings: Settings, url: str, *, secret: str | None = None, agency: str = AGENCY,
                   **spec: Any) -> str:
    """An endpoint registered (and verified) through the service layer; its id."""
    store = await opened(settings)
    try:
        endpoint = await service.create_endpoint(store, settings, service.EndpointIn(
            agency=agency, url=url, secret=secret, **spec))
    finally:
        await store.close()
    return endpoint.id


def lifecycle(requests: int, steps: int = 3, *, seed: int = 5, agency: str = AGENCY,
              ) -> list[RequestLifecycleEvent]:
    """``requests`` valid requests of ``agency`` (from the simulator) with ``steps`` events each (submitted,
    verified, in process...), one step of every request after the other."""
    firsts = [e for e in village_requests(requests * 12, seed=seed) if e.agency == agency][:requests]
    assert len(firsts) == requests, f"the simulator gave fewer than {requests} {agency} requests"
    base = datetime.now(UTC) - timedelta(hours=1)
    firsts = [e.model_copy(update={"occurred_at": base + timedelta(seconds=i)}) for i, e in enumerate(firsts)]
    out = []
    for step in range(steps):
        for first in firsts:
            out.append(first if step == 0 else first.model_copy(update={
                "event_id": f"{first.event_id}-{step}", "status": STEPS[step], "native_status": None,
                "occurred_at": first.occurred_at + timedelta(minutes=step)}))
    return out


async def publish(settings: Settings, events: list[RequestLifecycleEvent], agency: str = AGENCY) -> None:
    """Straight onto the agency topic, as the worker would have routed them."""
    async with Publisher(settings, "test", "/smart-kampung/test", topic=settings.agency_topic(agency)) as p:
        await p.publish_many((e, None) for e in events)


def as_dispatcher(settings: Settings) -> Settings:
    """The dispatcher's own settings: the same hub as the principal ``dispatcher`` (reads the agency topics,
    writes the audit topic, groups under ``dispatcher.``)."""
    return store_of(settings).settings_for(settings, DISPATCHER)


async def running(settings: Settings) -> Dispatcher:
    dispatcher = await Dispatcher(as_dispatcher(settings), agencies=[AGENCY, "pln"]).start()
    await asyncio.wait_for(dispatcher.ready.wait(), 60)
    return dispatcher


async def until(check: Callable[[], bool], what: str, timeout: float = 60.0) -> None:
    end = time.monotonic() + timeout
    while not check():
        if time.monotonic() > end:
            raise AssertionError(f"gave up waiting for {what}")
        await asyncio.sleep(0.05)


async def eventually(check: Callable[[], Awaitable[bool]], what: str, timeout: float = 60.0) -> None:
    """``until`` for a check that awaits (the store)."""
    end = time.monotonic() + timeout
    while not await check():
        if time.monotonic() > end:
            raise AssertionError(f"gave up waiting for {what}")
        await asyncio.sleep(0.1)
