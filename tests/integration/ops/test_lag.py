"""Consumer lag from the real broker: records waiting before a worker runs, none after it caught up."""

from __future__ import annotations

import asyncio

from hub import metrics
from hub.connectors.village_desk import VillageDeskConnector
from hub.dev.simulator import village_requests
from hub.ops.lag import LagPoller, read_lag
from hub.wire.clients import kafka_options

N = 60


async def wait_lag(settings, predicate, timeout: float = 120.0) -> dict:  # type: ignore[no-untyped-def]
    loop = asyncio.get_running_loop()
    end = loop.time() + timeout
    lag = {}
    while loop.time() < end:
        lag = await read_lag(kafka_options(settings), settings.app_id, [intake_of(settings)])
        if predicate(lag):
            return lag
        await asyncio.sleep(0.5)
    raise AssertionError(f"lag never satisfied the condition; last {lag}")


def intake_of(settings) -> str:  # type: ignore[no-untyped-def]
    return settings.desk_intake_topic("banyuwangi")


def gauge_total(topic: str, partitions: int) -> float:
    return sum(metrics.CONSUMER_LAG.labels(topic, str(p))._value.get() for p in range(partitions))


async def test_lag_counts_waiting_records_and_drops_to_zero_once_a_worker_runs(make_settings, start_worker,
                                                                               as_principal):
    settings = make_settings()
    async with VillageDeskConnector(as_principal(settings, "desk-banyuwangi")) as desk:
        await desk.submit_many(village_requests(N, seed=41))
    # Operators read lag as the ops principal: offsets and descriptions, no payloads.
    ops = as_principal(settings, "ops")
    intake = intake_of(settings)

    lag = await read_lag(kafka_options(ops), settings.app_id, [intake])
    assert set(lag) == {(intake, p) for p in range(settings.topic_partitions)}
    assert sum(lag.values()) == N  # nobody has consumed: every record is behind

    poller = LagPoller(kafka_options(ops), settings.app_id, [intake], interval=0.3).start()
    try:
        loop = asyncio.get_running_loop()
        end = loop.time() + 60
        while gauge_total(intake, settings.topic_partitions) != N and loop.time() < end:
            await asyncio.sleep(0.2)
        assert gauge_total(intake, settings.topic_partitions) == N

        start_worker(settings)
        await wait_lag(ops, lambda lag: sum(lag.values()) == 0)
        while gauge_total(intake, settings.topic_partitions) != 0 and loop.time() < end + 60:
            await asyncio.sleep(0.2)
        assert gauge_total(intake, settings.topic_partitions) == 0
        assert metrics.LAG_POLLS.labels("ok")._value.get() > 0
    finally:
        await asyncio.to_thread(poller.stop)
