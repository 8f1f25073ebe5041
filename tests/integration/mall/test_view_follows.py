"""The mall's view on the real broker: it equals a replay of the topics the worker wrote, and a
``hub mall serve`` killed (SIGKILL) in the middle of the traffic loses and duplicates nothing."""

from __future__ import annotations

import asyncio
import sqlite3
import time
from collections import Counter

from hub.dev.runner import WorkerProcess
from hub.mall.sqlite import SqliteDriver
from hub.mall.store import SqlViewStore
from hub.mall.view import FeedItem, replay
from hub.wire.clients import kafka_options
from tests.integration.mall.conftest import as_mall, now, simulated


def steps_in(path) -> int:
    try:
        with sqlite3.connect(f"file:{path}?mode=ro", uri=True) as db:
            return db.execute("SELECT COUNT(*) FROM mall_steps").fetchone()[0]
    except sqlite3.Error:
        return 0


async def test_view_equals_the_replay_after_a_kill_in_the_middle(mall_traffic, tmp_path):
    traffic = mall_traffic
    db = tmp_path / "mall.sqlite"
    settings = as_mall(traffic.settings, mall_database=f"sqlite:{db}", mall_port=0, mall_batch_records=25)
    events = simulated(seed=41, now=now())
    half = len(events) // 2

    def start() -> WorkerProcess:
        process = WorkerProcess(settings.to_env(), tmp_path / "mall.log", name="mall",
                                command=("mall", "serve"))
        process.start().wait_ready(marker="readiness: ready (view caught up)")
        return process

    mall = start()
    try:
        await traffic.publish(events[:half])
        deadline = time.monotonic() + 60
        while steps_in(db) < 20 and time.monotonic() < deadline:
            await asyncio.sleep(0.05)
        mall.kill()  # SIGKILL: mid-traffic, mid-batch perhaps
        killed_at = steps_in(db)
        await traffic.publish(events[half:])
        await traffic.quiet()
        mall = start()
        await traffic.quiet(seconds=2)
        await asyncio.sleep(3)  # let the mall apply the tail
    finally:
        mall.stop()
    items = await traffic.items()
    store = SqlViewStore(SqliteDriver(db))
    await store.open()
    try:
        rows = {r.request_id: r for r in await store.rows()}
        expected = replay(items)
        assert rows == expected
        feed_keys = {i.key for i in items if isinstance(i, FeedItem)}
        stream = await store.stream_after(0, limit=1_000_000)
        assert len(stream) == len(feed_keys)  # nothing lost, nothing stored twice
        assert [e.seq for e in stream] == list(range(1, len(stream) + 1))
        ends = {}
        from aiokafka import AIOKafkaConsumer

        consumer = AIOKafkaConsumer(**kafka_options(settings))
        await consumer.start()
        try:
            from hub.wire.tail import partitions

            for topic in (settings.topic_feed, settings.topic_sla, settings.topic_audit):
                tps = await partitions(consumer, topic)
                for tp, end in (await consumer.end_offsets(tps)).items():
                    if end:
                        ends[(tp.topic, tp.partition)] = end
        finally:
            await consumer.stop()
        assert await store.positions() == ends
    finally:
        await store.close()
    assert 0 < killed_at < len(stream), "the kill should land in the middle"
    submitted = {e.request_id for e in traffic.submitted}
    assert submitted <= set(rows) | {e.parent_request_id for e in traffic.submitted if e.parent_request_id}
    kinds = Counter(r.kind for r in rows.values())
    assert kinds["journey"] >= 2 and any(r.sla.value == "breached" for r in rows.values())
