"""Outages against real receivers: an endpoint down for a stretch then back receives every event, in
per-request order in fifo mode; a dead endpoint beside a healthy one leaves the healthy one's latency as it
was (a ratio measured in the same run); every endpoint receives exactly what its filters select."""

from __future__ import annotations

import asyncio
import statistics
import time
from collections import Counter, defaultdict

from prometheus_client import REGISTRY

from hub.connectors.publisher import Publisher
from hub.core.models import RequestLifecycleEvent
from hub.delivery.filters import Filters, Subject, matches
from hub.delivery.model import Endpoint
from hub.delivery.receiver import Receiver
from hub.delivery.signing import generate_secret
from hub.settings import Settings
from tests.integration.delivery.tools import (
    AGENCY,
    eventually,
    lifecycle,
    opened,
    publish,
    register,
    running,
    topics,
    until,
)


async def test_an_endpoint_down_for_a_stretch_then_back_gets_every_event_in_request_order(delivery_settings,
                                                                                            receivers):
    settings = delivery_settings(delivery_time_compression=2000.0)
    await topics(settings)
    endpoint = await receivers(Receiver())
    endpoint_id = await register(settings, endpoint.url, mode="fifo")
    events = lifecycle(8, 4, seed=31)
    await endpoint.down()  # refuses connections from now on
    dispatcher = await running(settings)
    store = await opened(settings)
    try:
        await publish(settings, events)

        async def failing() -> bool:
            return any(n.kind == "failing" for n in await store.notices(AGENCY))

        await eventually(failing, "the breaker to open and the agency to be told", 30)
        labels = {"agency": AGENCY, "endpoint": endpoint_id}
        assert REGISTRY.get_sample_value("hub_delivery_breaker_state", labels) >= 1  # open or probing
        await asyncio.sleep(2.0)  # down for a stretch, the breaker probing
        assert REGISTRY.get_sample_value("hub_delivery_backlog", labels) > 0
        assert REGISTRY.get_sample_value("hub_delivery_oldest_pending_age_seconds", labels) > 1
        await endpoint.up()
        await until(lambda: endpoint.receiver.ids() >= {e.event_id for e in events}, "every event", 90)
    finally:
        await dispatcher.stop()
        await store.close()

    got = endpoint.receiver.received
    assert Counter(r.webhook_id for r in got).most_common(1)[0][1] == 1  # each event once here
    arrivals = defaultdict(list)
    for r in got:  # in the order they arrived
        arrivals[r.doc["subject"]].append((r.doc["sequence"], r.doc["data"]["status"]))
    expected = [s.value for s in (e.status for e in events[:4 * 8:8])]
    for request, seen in arrivals.items():
        assert [s for s, _ in seen] == [1, 2, 3, 4], request  # per-request order, fifo
        assert [status for _, status in seen] == expected


class Hang:
    """An endpoint that accepts connections and never answers (the worst kind of dead)."""

    async def start(self) -> Hang:
        self.server = await asyncio.start_server(self._hold, "127.0.0.1", 0)
        self.port = self.server.sockets[0].getsockname()[1]
        return self

    async def _hold(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            await reader.read()  # until the client gives up
        finally:
            writer.close()

    async def stop(self) -> None:
        self.server.close()


async def _timed(settings: Settings, events: list[RequestLifecycleEvent], rate: float) -> dict[str, float]:
    sent = {}
    async with Publisher(settings, "test", "/smart-kampung/test", topic=settings.agency_topic(AGENCY)) as p:
        for event in events:
            sent[event.event_id] = time.time()
            await p.publish(event)
            await asyncio.sleep(1 / rate)
    return sent


async def test_a_dead_endpoint_beside_a_healthy_one_leaves_the_healthy_ones_latency_alone(delivery_settings,
                                                                                          receivers):
    settings = delivery_settings(delivery_timeout_seconds=4.0, delivery_connect_timeout_seconds=1.0)
    await topics(settings)
    healthy = await receivers(Receiver())
    await register(settings, healthy.url)
    hang = await Hang().start()
    events = lifecycle(30, 2, seed=32)
    first, second = events[:30], events[30:]
    dispatcher = await running(settings)
    store = await opened(settings)
    try:
        alone = await _timed(settings, first, rate=25)
        await until(lambda: len(healthy.receiver.received) >= 30, "the first half alone")
        now = time.time()
        await store.add_endpoint(Endpoint(id="ep_dead", agency=AGENCY, url=f"http://127.0.0.1:{hang.port}/h",
                                          secret=generate_secret(), created_at=now - 3600, updated_at=now))
        await until(lambda: "ep_dead" in dispatcher.lanes, "the dispatcher to take the dead endpoint", 10)
        beside = await _timed(settings, second, rate=25)
        await until(lambda: len(healthy.receiver.received) >= 60, "the second half beside a dead endpoint")
        dead = await store.list_deliveries(endpoint_id="ep_dead")
        assert len(dead.deliveries) == 30 and dispatcher.lanes["ep_dead"].in_flight > 0  # it was really hit
    finally:
        await dispatcher.stop()
        await store.close()
        await hang.stop()
    arrived = {r.webhook_id: r.at for r in healthy.receiver.received}

    def latencies(sent: dict[str, float]) -> list[float]:
        return sorted(arrived[i] - t for i, t in sent.items())

    a, b = latencies(alone), latencies(beside)
    p50 = statistics.median(b) / statistics.median(a)
    p90 = b[int(0.9 * len(b))] / a[int(0.9 * len(a))]
    assert p50 < 3.0 and p90 < 4.0, (a, b)  # generous: same machine, same run


async def test_each_endpoint_receives_exactly_what_its_filters_select(delivery_settings, receivers):
    settings = delivery_settings()
    await topics(settings)
    events = lifecycle(12, 3, seed=33)
    regions = sorted({e.region_code for e in events})
    services = sorted({e.service_code for e in events})
    wanted = {
        "statuses": Filters(statuses=("VERIFIED",)),
        "kecamatan": Filters(regions=(regions[0].rsplit(".", 1)[0],)),
        "service+status": Filters(service_codes=(services[0],), statuses=("SUBMITTED", "IN_PROCESS")),
        "prefix types": Filters(event_types=("request.*",), service_codes=("DUKCAPIL_*",)),
        "nothing": Filters(regions=("35.10.01.2001",), statuses=("COMPLETED",)),
    }
    endpoints = {}
    for name, f in wanted.items():
        endpoints[name] = await receivers(Receiver())
        await register(settings, endpoints[name].url, filters=f.to_dict())
    dispatcher = await running(settings)
    try:
        await publish(settings, events)
        expected = {name: {e.event_id for e in events if matches(f, Subject(
            RequestLifecycleEvent.CE_TYPE, e.service_code, e.status.value, e.region_code))}
            for name, f in wanted.items()}
        assert all(expected[n] for n in wanted if n != "nothing") and not expected["nothing"]
        await until(lambda: all(endpoints[n].receiver.ids() >= expected[n] for n in wanted), "the selections")
        await asyncio.sleep(1.0)  # room for anything extra to show up
    finally:
        await dispatcher.stop()
    for name in wanted:
        assert endpoints[name].receiver.ids() == expected[name], name


async def test_a_rate_limited_endpoint_is_paced_while_its_neighbour_is_not(delivery_settings, receivers):
    settings = delivery_settings()
    await topics(settings)
    paced, free = await receivers(Receiver()), await receivers(Receiver())
    await register(settings, paced.url, rate_limit=10.0)
    await register(settings, free.url)
    events = lifecycle(40, 1, seed=34)
    dispatcher = await running(settings)
    try:
        await publish(settings, events)
        await until(lambda: len(paced.receiver.received) == len(free.receiver.received) == 40, "both", 60)
    finally:
        await dispatcher.stop()

    def busiest_second(receiver: Receiver) -> int:
        times = sorted(r.at for r in receiver.received)
        return max(sum(1 for t in times if s <= t < s + 1.0) for s in times)

    assert busiest_second(paced.receiver) <= 10 + 10  # rate + burst in any second
    assert busiest_second(free.receiver) > 20  # the neighbour was not held to it
