"""The demo: real Kafka + registry, a hub worker, village desks publishing, and what each subscriber got.

Everything runs on loopback with free ports in a temporary folder, and stops at the end or on Ctrl-C.
"""

from __future__ import annotations

import asyncio
import struct
import tempfile
import time
from collections import Counter, defaultdict
from pathlib import Path

from hub.connectors.village_desk import VillageDeskConnector
from hub.core import catalogue, regions
from hub.core.models import RequestLifecycleEvent
from hub.devstack import LocalStack, fetch, free_port
from hub.runner import WorkerProcess
from hub.settings import Settings
from hub.simulator import village_requests
from hub.wire import cloudevents as ce
from hub.wire.codec import Codec
from hub.wire.registry import SchemaRegistry
from hub.wire.tail import Record, collect
from hub.wire.topics import ensure_topics, topic_specs


def say(text: str = "") -> None:
    print(text, flush=True)


async def _inject_bad_records(settings: Settings) -> int:
    """Two records no connector should send: garbage bytes, and a valid frame with an unknown schema id."""
    from aiokafka import AIOKafkaProducer

    producer = AIOKafkaProducer(bootstrap_servers=settings.bootstrap_list, acks="all")
    await producer.start()
    try:
        headers = ce.to_headers(ce.CloudEvent("bad-1", "/demo/bad", "demo", "BAD-1", _now()))
        await producer.send_and_wait(settings.topic_intake, b"\xde\xad\xbe\xef not avro", key=b"BAD-1",
                                     headers=headers)
        await producer.send_and_wait(settings.topic_intake, struct.pack(">BI", 0, 987654) + b"\x02x",
                                     key=b"BAD-2", headers=headers)
    finally:
        await producer.stop()
    return 2


def _now():  # type: ignore[no-untyped-def]
    from datetime import UTC, datetime
    return datetime.now(UTC)


async def _publish_and_collect(settings: Settings, n: int, seed: int, timeout: float
                               ) -> tuple[list[RequestLifecycleEvent], list[Record], float]:
    events = list(village_requests(n, seed=seed))
    started = time.monotonic()
    async with VillageDeskConnector(settings) as desk:
        await desk.submit_many(events)
    bad = await _inject_bad_records(settings)
    say(f"published {len(events)} village requests from {len({e.region_code for e in events})} villages "
        f"(+{bad} malformed records) in {time.monotonic() - started:.2f}s")
    topics = [s.name for s in topic_specs(settings) if s.name != settings.topic_intake]

    def done(records: list[Record]) -> bool:
        by_topic = Counter(r.topic for r in records)
        agency_total = sum(c for t, c in by_topic.items() if t.startswith("agency."))
        return by_topic[settings.topic_feed] >= n and agency_total >= n and by_topic[settings.topic_dlq] >= bad

    records = await collect(settings, topics, until=done, timeout=timeout)
    return events, records, time.monotonic() - started


def _report(settings: Settings, events: list[RequestLifecycleEvent], records: list[Record], elapsed: float) -> bool:
    codec = Codec(SchemaRegistry(settings.registry_url))
    by_topic: dict[str, list[Record]] = defaultdict(list)
    for r in records:
        by_topic[r.topic].append(r)
    say(f"\n{'topic':32} {'events':>6}  personal fields delivered   example")
    for topic in sorted(by_topic):
        if topic == settings.topic_dlq:
            continue
        decoded = [RequestLifecycleEvent.from_avro(codec.decode(r.value).record) for r in by_topic[topic]]
        fields = sorted({f for e in decoded if e.citizen for f in e.citizen.model_dump(exclude_none=True)})
        e = decoded[0]
        village = regions.region(e.region_code)
        example = (f"{e.request_id} {catalogue.service(e.service_code).name_id[:34]} "
                   f"— {village.name}, {village.kecamatan_name}")
        say(f"{topic:32} {len(decoded):>6}  {', '.join(fields) or '(none)':26}  {example}")
    dlq = by_topic.get(settings.topic_dlq, [])
    say(f"\n{settings.topic_dlq}: {len(dlq)} dead letters")
    for r in dlq:
        say(f"  key={r.key!r} reason={r.headers.get('dlq_reason')} from {r.headers.get('dlq_topic')}"
            f"[{r.headers.get('dlq_partition')}]@{r.headers.get('dlq_offset')}: {r.headers.get('dlq_error', '')[:90]}")
    expected = {e.request_id for e in events}
    feed_ids = [r.key.decode() for r in by_topic.get(settings.topic_feed, []) if r.key]
    agency_ids = [r.key.decode() for t, rs in by_topic.items() if t.startswith("agency.") for r in rs if r.key]
    ok = set(feed_ids) == expected == set(agency_ids) and len(feed_ids) == len(agency_ids) == len(expected)
    say(f"\n{len(expected)} requests in; feed {len(feed_ids)}, agency topics {len(agency_ids)}, "
        f"{'none lost, none duplicated' if ok else 'MISMATCH'}; end to end in {elapsed:.2f}s")
    return ok


def run_demo(*, requests: int = 300, seed: int = 2026, timeout: float = 120.0) -> int:
    dist = fetch()
    workdir = Path(tempfile.mkdtemp(prefix="hub-demo-"))
    stack = LocalStack(workdir, dist=dist)
    say(f"starting Kafka (KRaft) and Apicurio Registry on loopback; logs in {stack.logs}")
    started = time.monotonic()
    stack.start()
    say(f"stack ready in {time.monotonic() - started:.1f}s: kafka {stack.bootstrap}, registry {stack.registry_url}")
    metrics_port = free_port()
    settings = Settings(bootstrap_servers=stack.bootstrap, registry_url=stack.registry_url,
                        metrics_port=metrics_port, worker_data_dir=workdir / "worker")
    worker = WorkerProcess(settings.to_env(), stack.logs / "worker.log")
    try:
        asyncio.run(ensure_topics(settings, topic_specs(settings)))
        worker.start().wait_ready()
        say(f"hub worker running (metrics on http://127.0.0.1:{metrics_port}/metrics)")
        events, records, elapsed = asyncio.run(_publish_and_collect(settings, requests, seed, timeout))
        ok = _report(settings, events, records, elapsed)
        return 0 if ok else 1
    except KeyboardInterrupt:
        say("\ninterrupted")
        return 130
    finally:
        say("stopping worker and stack")
        worker.stop()
        stack.stop()
