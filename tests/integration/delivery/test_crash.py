"""``kill -9`` of a ``hub deliver`` process in the middle of retries: after a restart nothing is lost and,
deduplicated by ``webhook-id``, nothing was delivered twice as distinct events (a repeat is the same
event, byte for byte: same id, same sequence number, same body)."""

from __future__ import annotations

import json
from collections import defaultdict

from hub.delivery.model import State
from hub.delivery.receiver import Receiver
from hub.dev.runner import WorkerProcess
from tests.integration.delivery.tools import (
    as_dispatcher,
    eventually,
    lifecycle,
    opened,
    publish,
    register,
    topics,
    until,
)


async def test_kill_9_mid_retries_then_restart_loses_nothing_and_repeats_no_event_as_another(
        delivery_settings, receivers, tmp_path):
    settings = delivery_settings(delivery_time_compression=2000.0)
    await topics(settings)
    failing = {"on": True}
    endpoint = await receivers(Receiver(reply=lambda _: (503, {}) if failing["on"] else (200, {})))
    endpoint_id = await register(settings, endpoint.url)
    events = lifecycle(10, 3, seed=41)
    first, second = events[:20], events[20:]

    def dispatcher(n: int) -> WorkerProcess:
        process = WorkerProcess(as_dispatcher(settings).to_env(), tmp_path / f"deliver-{n}.log",
                                name=f"dispatcher {n}", command=("deliver",))
        process.start().wait_ready()
        return process

    store = await opened(settings)
    process = dispatcher(1)
    try:
        await publish(settings, first)

        async def retrying() -> bool:
            page = await store.list_deliveries(endpoint_id=endpoint_id, states=[State.SCHEDULED], limit=100)
            return len(page.deliveries) == 20 and sum(d.attempts >= 2 for d in page.deliveries) >= 5

        await eventually(retrying, "deliveries parked, some retried already", 60)
        await publish(settings, second)  # more records coming in while it dies
        process.kill()  # SIGKILL: no goodbye
        failing["on"] = False
        process = dispatcher(2)
        await until(lambda: endpoint.receiver.ids() >= {e.event_id for e in events}, "every event", 90)
    finally:
        process.stop()
        await store.close()
    bodies = defaultdict(set)
    for received in endpoint.receiver.received:
        bodies[received.webhook_id].add(received.body)
    assert set(bodies) == {e.event_id for e in events}  # nothing lost
    assert all(len(b) == 1 for b in bodies.values())  # a repeat is the same event, byte for byte
    sequences = defaultdict(list)
    for (body,) in bodies.values():
        doc = json.loads(body)
        sequences[doc["subject"]].append(doc["sequence"])
    assert all(sorted(s) == [1, 2, 3] for s in sequences.values())  # no number twice, none skipped
