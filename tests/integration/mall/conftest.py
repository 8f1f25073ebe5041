"""Real traffic for the mall's integration tests: one hub worker on the session's real broker and registry,
fed through the connector publisher with simulated requests (duplicates, late and out-of-order answers), a
backlog of old unanswered requests (SLA breaches) and journeys. The worker keeps running for the session, so
tests can add traffic and watch the mall follow it."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

import pytest

from hub.access.catalogue import MALL, WORKER
from hub.access.credentials import store_of
from hub.core.models import RequestLifecycleEvent
from hub.dev.feed import journey_events
from hub.dev.runner import WorkerProcess
from hub.dev.simulator import schedule, village_requests
from hub.dev.sources import SourcePublishers
from hub.mall.consumer import Decoder
from hub.mall.view import Item
from hub.settings import Settings
from hub.wire.clients import kafka_options, registry
from hub.wire.codec import Codec
from hub.wire.tail import read_to_end

KEY = "mall-integration-key"


@dataclass
class Traffic:
    settings: Settings
    worker: WorkerProcess
    submitted: list[RequestLifecycleEvent] = field(default_factory=list)

    async def publish(self, events: Iterable[tuple[RequestLifecycleEvent, str]]) -> None:
        events = list(events)
        self.submitted += [e for e, _ in events]
        # each village desk and agency on its own intake topic, as its own principal
        async with SourcePublishers(self.settings, store_of(self.settings),
                                    connector="mall-test") as publisher:
            await publisher.publish_many(events)

    async def items(self) -> list[Item]:
        """Everything on the three topics now, decoded as the mall's follower decodes it."""
        decoder = Decoder(self.settings, Codec(registry(self.settings)))
        out: list[Item] = []
        for topic in decoder.topics:
            async for m in read_to_end(kafka_options(self.settings), topic):
                out.append(decoder.item(m.topic, m.partition, m.offset, m.value, m.headers))
        return out

    async def quiet(self, seconds: float = 3.0, timeout: float = 120.0) -> int:
        """Wait until the worker's outputs stop growing for ``seconds``; returns the feed's size."""
        last, since, deadline = -1, time.monotonic(), time.monotonic() + timeout
        while time.monotonic() < deadline:
            n = 0
            for topic in (self.settings.topic_feed, self.settings.topic_sla, self.settings.topic_audit):
                n += sum([1 async for _ in read_to_end(kafka_options(self.settings), topic)])
            if n != last:
                last, since = n, time.monotonic()
            elif time.monotonic() - since >= seconds:
                return n
            await asyncio.sleep(0.5)
        raise TimeoutError("the worker's outputs kept growing")


def simulated(seed: int, now: datetime, *, rate: float = 15.0, duration: float = 8.0, backlog: int = 10,
              journeys: int = 2) -> list[tuple[RequestLifecycleEvent, str]]:
    items = [(s.event, s.source) for s in schedule(seed=seed, rate=rate, duration=duration, now=now,
                                                   day_seconds=2.0)]
    old = [(e.model_copy(update={"occurred_at": e.occurred_at - timedelta(days=1 + i % 6)}),
            f"/smart-kampung/{e.region_code}") for i, e in enumerate(village_requests(backlog, seed=seed + 9,
                                                                                      now=now))]
    first = sorted(old + journey_events(journeys, seed=seed, now=now), key=lambda p: p[0].occurred_at)
    return first + items


@pytest.fixture(scope="session")
def mall_traffic(make_settings, tmp_path_factory):
    settings = make_settings(citizen_ref_key=KEY, sla_tick_seconds=0.5)
    worker = WorkerProcess(store_of(settings).settings_for(settings, WORKER).to_env(),
                           tmp_path_factory.mktemp("mall-worker") / "worker.log", name="mall-worker").start()
    try:
        worker.wait_ready()
        yield Traffic(settings, worker)
    finally:
        worker.stop()


def with_(settings: Settings, **overrides: object) -> Settings:
    """The settings with some fields changed, validated again (secrets stay secrets)."""
    return Settings(**{**settings.model_dump(), **overrides})


def as_mall(settings: Settings, **overrides: object) -> Settings:
    """The mall service's settings: its own principal (reads the feed, SLA and audit topics only)."""
    return with_(store_of(settings).settings_for(settings, MALL), **overrides)


def now() -> datetime:
    return datetime.now(UTC).replace(microsecond=0)
