"""The demo: real Kafka + registry, a hub worker, villages and agencies from the simulator, and what
every subscriber received: agency topics, the service mall's feed, lifecycle, citizen notices, SLA
warnings and breaches, the audit trail and the dead letters.

Everything runs on loopback with free ports in a temporary folder, and stops at the end or on Ctrl-C.
"""

from __future__ import annotations

import asyncio
import re
import struct
import tempfile
import time
from collections import Counter, defaultdict
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx

from hub.access.catalogue import DISPATCHER, MALL, WORKER, desk_principal, principals
from hub.access.credentials import CredentialStore
from hub.core.models import RequestLifecycleEvent
from hub.core.records import CitizenNotice, SlaEvent
from hub.delivery.demo import WebhookAgency
from hub.dev.mall_demo import MallDemo
from hub.dev.provision import provision
from hub.dev.runner import WorkerProcess
from hub.dev.simulator import drive, schedule, village_requests
from hub.dev.sources import SourcePublishers
from hub.dev.stack import LocalStack, fetch, free_port
from hub.settings import Settings
from hub.wire import cloudevents as ce
from hub.wire.clients import kafka_options, registry
from hub.wire.codec import Codec
from hub.wire.tail import Record, collect
from hub.wire.topics import intake_topics, topic_specs

BACKLOG_AGES_DAYS = (1, 2, 3, 4, 6, 8)  # open requests submitted this long ago: SLA warnings and breaches


def say(text: str = "") -> None:
    print(text, flush=True)


def _backlog(n: int, now: datetime) -> list[RequestLifecycleEvent]:
    """Requests submitted days ago and never answered: the SLA timer must warn and breach."""
    out = []
    for i, event in enumerate(village_requests(n, seed=99, now=now)):
        age = timedelta(days=BACKLOG_AGES_DAYS[i % len(BACKLOG_AGES_DAYS)])
        out.append(event.model_copy(update={"occurred_at": event.occurred_at - age}))
    return out


async def _bad_records(settings: Settings, store: CredentialStore) -> int:
    """Two records no connector should send (garbage bytes, a valid frame with an unknown schema id), written
    by a village-desk node to its own intake topic."""
    from aiokafka import AIOKafkaProducer

    node = next(iter(settings.desk_node_prefixes))
    producer = AIOKafkaProducer(acks="all",
                                **kafka_options(store.settings_for(settings, desk_principal(node))))
    await producer.start()
    try:
        topic = settings.desk_intake_topic(node)
        headers = ce.to_headers(ce.CloudEvent("bad-1", "/demo/bad", "demo", "BAD-1", datetime.now(UTC)))
        await producer.send_and_wait(topic, b"\xde\xad\xbe\xef not avro", key=b"BAD-1", headers=headers)
        await producer.send_and_wait(topic, struct.pack(">BI", 0, 987654) + b"\x02x", key=b"BAD-2",
                                     headers=headers)
    finally:
        await producer.stop()
    return 2


async def _run_traffic(settings: Settings, store: CredentialStore, seed: int, rate: float, duration: float
                       ) -> tuple[set[str], Counter]:
    now = datetime.now(UTC)
    items = schedule(seed=seed, rate=rate, duration=duration, now=now, day_seconds=2.0)
    backlog = _backlog(36, now)
    requests = {s.event.request_id for s in items} | {e.request_id for e in backlog}
    say(f"simulating {len({s.event.request_id for s in items})} new requests at {rate:g}/s from "
        f"{len({s.event.region_code for s in items})} villages with their agencies' answers "
        f"({len(items)} events, 1 working day = 2 s), plus {len(backlog)} unanswered requests from past days")
    # every village desk and agency writes its own intake topic, as its own principal
    async with SourcePublishers(settings, store, connector="demo") as publisher:
        await publisher.publish_many((e, f"/smart-kampung/{e.region_code}") for e in backlog)
        counts = await drive(publisher, items)
    counts["malformed"] = await _bad_records(settings, store)
    return requests, counts


async def _collect_quiet(settings: Settings, topics: list[str], quiet: float, timeout: float) -> list[Record]:
    """Read until nothing new has arrived for ``quiet`` seconds."""
    state = {"n": -1, "since": time.monotonic()}

    def settled(records: list[Record]) -> bool:
        if len(records) != state["n"]:
            state["n"], state["since"] = len(records), time.monotonic()
        return time.monotonic() - state["since"] > quiet

    return await collect(settings, topics, until=settled, timeout=timeout)


def _metric(text: str, name: str) -> float:
    return sum(float(v) for v in re.findall(rf"^{name}(?:{{[^}}]*}})? ([0-9.e+-]+)$", text, re.M))


def _report(settings: Settings, requests: set[str], counts: Counter, records: list[Record],
            metrics_text: str) -> bool:
    codec = Codec(registry(settings))
    by_topic: dict[str, list[Record]] = defaultdict(list)
    for r in records:
        by_topic[r.topic].append(r)

    say(f"\n{'topic':28} {'records':>7}  personal fields delivered")
    for topic in sorted(by_topic):
        fields: set[str] = set()
        if topic.startswith("agency.") or topic in (settings.topic_feed, settings.topic_lifecycle):
            for r in by_topic[topic]:
                event = RequestLifecycleEvent.from_avro(codec.decode(r.value).record)
                fields |= set(event.citizen.model_dump(exclude_none=True)) if event.citizen else set()
        elif topic == settings.topic_notify:
            fields = {"phone"}
        say(f"{topic:28} {len(by_topic[topic]):>7}  {', '.join(sorted(fields)) or '-'}")

    final: dict[str, RequestLifecycleEvent] = {}
    log_topic = settings.topic_lifecycle or settings.topic_feed  # the feed is the record (README)
    for r in sorted(by_topic[log_topic], key=lambda r: (r.partition, r.offset)):
        event = RequestLifecycleEvent.from_avro(codec.decode(r.value).record)
        final[event.request_id] = event
    say(f"\nlifecycle ({log_topic}): where the {len(final)} requests stand now")
    for status, n in Counter(e.status.value for e in final.values()).most_common():
        say(f"  {status:17} {n:>5}")
    sample = next((e for e in final.values() if e.enrichment and e.enrichment.due_at), None)
    if sample and sample.enrichment:
        en = sample.enrichment
        say(f"  e.g. {sample.request_id}: {en.service_name} ({en.agency_name}), {en.village_name}, "
            f"Kec. {en.kecamatan_name}; SLA {en.sla_working_days} working day(s), due "
            f"{en.due_at:%Y-%m-%d %H:%M} UTC, citizen_ref {str(en.citizen_ref)[:12]}...")

    sla = [SlaEvent.model_validate(codec.decode(r.value).record) for r in by_topic[settings.topic_sla]]
    say(f"\nSLA ({settings.topic_sla}): " + ", ".join(f"{n} {k}" for k, n in
                                                 Counter(e.kind.value for e in sla).most_common()))
    for agency, n in Counter((e.agency, e.kind.value) for e in sla).most_common(6):
        say(f"  {agency[0]:16} {agency[1]:8} {n:>4}")

    notices = [CitizenNotice.model_validate(codec.decode(r.value).record)
               for r in by_topic[settings.topic_notify]]
    say(f"\ncitizen notices ({settings.topic_notify}): {len(notices)}, for example:")
    for notice in list({n.status: n for n in notices}.values())[:4]:
        say(f"  [{notice.status.value}] {notice.message}")

    dlq = by_topic[settings.topic_dlq]
    say(f"\ndead letters ({settings.topic_dlq}): " + (", ".join(
        f"{n} {reason}" for reason, n in Counter(r.headers.get("dlq_reason") for r in dlq).most_common())
        or "none"))
    for r in dlq[:4]:
        say(f"  {r.headers.get('dlq_reason')} at {r.headers.get('dlq_topic')}"
            f"[{r.headers.get('dlq_partition')}]@{r.headers.get('dlq_offset')}: "
            f"{r.headers.get('dlq_error', '')[:100]}")

    say(f"\nworker /metrics: {_metric(metrics_text, 'hub_events_in_total'):.0f} in, "
        f"{_metric(metrics_text, 'hub_events_out_total'):.0f} out, "
        f"{_metric(metrics_text, 'hub_duplicates_total'):.0f} duplicates dropped, "
        f"{_metric(metrics_text, 'hub_dead_letters_total'):.0f} dead letters")
    say("simulator anomalies sent on purpose: "
        + ", ".join(f"{n} {k}" for k, n in counts.items() if k != "published"))

    feed_ids = {r.key.decode() for r in by_topic[settings.topic_feed] if r.key}
    missing = requests - set(final) - feed_ids
    say(f"\n{len(requests)} requests in; {len(requests) - len(missing)} on the lifecycle topic and the feed"
        + (f"; MISSING {len(missing)}: {sorted(missing)[:5]}" if missing else "; none lost"))
    return not missing and len(dlq) >= counts["malformed"]


def run_demo(*, rate: float = 15.0, duration: float = 15.0, seed: int = 2026, timeout: float = 180.0) -> int:
    dist = fetch()
    workdir = Path(tempfile.mkdtemp(prefix="hub-demo-"))
    stack = LocalStack(workdir, dist=dist)
    say(f"starting Kafka (KRaft), Apicurio Registry and Keycloak on loopback; logs in {stack.logs}")
    started = time.monotonic()
    stack.start()
    say(f"stack ready in {time.monotonic() - started:.1f}s (TLS everywhere, SCRAM-SHA-512, ACLs; "
        f"registry behind Keycloak): kafka {stack.bootstrap}, registry {stack.registry_url}")
    metrics_port = free_port()
    settings = stack.settings(metrics_port=metrics_port, worker_data_dir=workdir / "worker",
                              sla_tick_seconds=1.0, citizen_ref_key="demo-only-key-not-for-production")
    worker = WorkerProcess(stack.credentials.settings_for(settings, WORKER).to_env(),
                           stack.logs / "worker.log")
    # push delivery (hub.delivery.demo): the dispatcher runs as its own principal
    webhooks = WebhookAgency(stack.credentials.settings_for(settings, DISPATCHER), workdir, free_port())
    try:
        provision(settings)
        say(f"as the hub admin: {len(topic_specs(settings))} topics, their schemas, and "
            f"{len(principals(settings)) - 1} principals each with its own password and ACLs "
            f"(e.g. agency-pln reads {settings.agency_topic('pln')} and writes "
            f"{settings.agency_intake_topic('pln')} only)")
        worker.start().wait_ready()
        say(f"hub worker ready as {WORKER} (metrics on http://127.0.0.1:{metrics_port}/metrics)")
        mall = MallDemo(stack.credentials.settings_for(settings, MALL), workdir, free_port()).start()
        say(f"service mall dashboard: {mall.url} (staff token {mall.token}); citizen page: {mall.url}citizen")
        webhooks.start()
        requests, counts = asyncio.run(_run_traffic(settings, stack.credentials, seed, rate, duration))
        intake = set(intake_topics(settings))
        topics = [s.name for s in topic_specs(settings) if s.name not in intake
                  and not s.name.startswith(settings.app_id)]
        records = asyncio.run(_collect_quiet(settings, topics, quiet=4.0, timeout=timeout))
        metrics_text = httpx.get(f"http://127.0.0.1:{metrics_port}/metrics", timeout=5).text
        shot = mall.finish(workdir / "mall-dashboard.png")
        say(f"service mall dashboard screenshot: {shot or 'not taken (no Chromium)'}")
        ok = _report(settings, requests, counts, records, metrics_text)
        return 0 if webhooks.finish() and ok else 1
    except KeyboardInterrupt:
        say("\ninterrupted")
        return 130
    finally:
        say("stopping worker and stack")
        webhooks.stop()
        worker.stop()
        stack.stop()
