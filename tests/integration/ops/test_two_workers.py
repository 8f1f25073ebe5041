"""Two worker processes in one consumer group share the intake partitions; every event is processed."""

from __future__ import annotations

import asyncio
from collections import Counter

from hub.connectors.village_desk import VillageDeskConnector
from hub.dev.simulator import village_requests
from hub.wire.tail import collect
from tests.ops_tools import group_assignment

N = 300


async def stable_assignment(settings, members: int, timeout: float = 120.0):  # type: ignore[no-untyped-def]
    loop = asyncio.get_running_loop()
    end = loop.time() + timeout
    found: dict = {}
    while loop.time() < end:
        found = await group_assignment(settings, settings.app_id)
        desk = settings.desk_intake_topic("banyuwangi")
        intake = {m: {tp for tp in parts if tp[0] == desk} for m, parts in found.items()}
        if len(intake) == members and all(intake.values()):
            return intake
        await asyncio.sleep(0.5)
    raise AssertionError(f"the group never settled on {members} members with partitions each: {found}")


async def test_two_workers_share_the_partitions_and_process_every_event_once(make_settings, start_worker,
                                                                          capsys, as_principal):
    settings = make_settings(topic_partitions=4)
    first = start_worker(settings, name="worker-a")
    second = start_worker(settings, name="worker-b")  # both up before publishing: no rebalance mid-stream
    intake = await stable_assignment(settings, members=2)

    everything = {(settings.desk_intake_topic("banyuwangi"), p) for p in range(settings.topic_partitions)}
    a, b = intake.values()
    assert a | b == everything and not (a & b), intake  # spread over both, each partition owned once
    assert first.proc.poll() is None and second.proc.poll() is None

    events = list(village_requests(N, seed=53))
    async with VillageDeskConnector(as_principal(settings, "desk-banyuwangi")) as desk:
        assert await desk.submit_many(events) == N
    records = await collect(settings, [settings.topic_feed], until=lambda rs: len(rs) >= N, timeout=120)
    records = await collect(settings, [settings.topic_feed], until=lambda rs: len(rs) > N, timeout=3)

    unique = {(r.headers["ce_source"], r.headers["ce_id"]): r for r in records}
    raw_duplicates = len(records) - len(unique)
    by_key = Counter(r.key.decode() for r in unique.values())
    assert by_key == Counter(e.request_id for e in events)  # every event once after dedupe by source+id
    assert await stable_assignment(settings, members=2) == intake  # and no rebalance happened meanwhile
    with capsys.disabled():
        print(f"\n  two workers: partitions {sorted(p for _, p in a)} / {sorted(p for _, p in b)}; "
              f"{len(records)} feed records for {N} events, raw duplicates {raw_duplicates}")
