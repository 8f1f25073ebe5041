"""The lifecycle engine end to end on the real broker and registry: journeys, SLA breaches, dedup, DLQ,
and restarts (SIGTERM and SIGKILL mid-stream) without losing state or outputs."""

from __future__ import annotations

import json
import re
import signal
from collections import Counter
from collections.abc import Iterable
from datetime import UTC, datetime, timedelta

from hub.access.catalogue import WORKER
from hub.access.credentials import store_of
from hub.core import sla
from hub.core.lifecycle import Status
from hub.core.models import RequestLifecycleEvent
from hub.dev.runner import WorkerProcess
from hub.dev.simulator import village_requests
from hub.dev.sources import SourcePublishers
from hub.settings import Settings
from hub.streams.entry import decode_journey, decode_request
from hub.wire.clients import registry
from hub.wire.codec import Codec
from hub.wire.tail import Record, collect


def isolated(make_settings, **extra: object) -> Settings:  # type: ignore[no-untyped-def]
    """An isolated, provisioned hub with a citizen_ref key and a fast SLA timer."""
    return make_settings(citizen_ref_key="integration-test-key", sla_tick_seconds=0.5, **extra)


def as_worker(settings: Settings) -> dict[str, str]:
    """The environment of a worker process of this hub (as the hub-worker principal)."""
    return store_of(settings).settings_for(settings, WORKER).to_env()


def table(settings: Settings, records: Iterable[Record], name: str) -> dict[str, dict]:
    """Latest value per key of a Faust table's changelog (JSON keys; the entries in their JSON shape)."""
    decode = decode_request if name == "requests" else decode_journey
    out: dict[str, dict] = {}
    for r in sorted((r for r in records if r.topic == settings.changelog_topic(name)),
                    key=lambda r: (r.partition, r.offset)):
        entry = decode(r.value)
        out[json.loads(r.key)] = entry.to_dict() if entry else None
    return out


def dedup(records: Iterable[Record]) -> tuple[dict[tuple[str, str, str], Record], int]:
    """Per topic, the first record of each (ce_source, ce_id), and how many raw duplicates there were."""
    records = list(records)
    counts = Counter((r.topic, r.headers["ce_source"], r.headers["ce_id"]) for r in records)
    first: dict[tuple[str, str, str], Record] = {}
    for r in records:
        first.setdefault((r.topic, r.headers["ce_source"], r.headers["ce_id"]), r)
    return first, sum(c - 1 for c in counts.values())


def later(event: RequestLifecycleEvent, status: Status, at: datetime,
          **extra: object) -> RequestLifecycleEvent:
    return event.model_copy(update={"event_id": f"{event.request_id}/{status.value}", "status": status,
                                    "occurred_at": at, "citizen": None, "native_status": None, **extra})


async def test_journey_sla_breach_dedup_and_dead_letters(make_settings):
    settings = isolated(make_settings)
    worker = WorkerProcess(as_worker(settings), settings.worker_data_dir / "worker.log").start()
    try:
        worker.wait_ready()
        now = datetime.now(UTC).replace(microsecond=0)
        a, b, c, d = village_requests(4, seed=21, now=now)
        # A journey across two agencies: NIK verification at Dukcapil, then a new PLN connection.
        parent = "JR-LISTRIK-0001"
        t0 = now - timedelta(hours=3)
        nik = a.model_copy(update={"request_id": "NIK-0001", "event_id": "NIK-0001/SUBMITTED",
                                   "occurred_at": t0,
                                   "service_code": "DUKCAPIL_VERIFIKASI_NIK", "agency": "dukcapil",
                                   "parent_request_id": parent})
        pln = a.model_copy(update={"request_id": "PLN-0001", "event_id": "PLN-0001/SUBMITTED",
                                   "occurred_at": t0 + timedelta(minutes=30), "agency": "pln",
                                   "service_code": "PLN_PASANG_BARU_TANPA_PERLUASAN",
                                   "parent_request_id": parent})
        # A KTP-el request submitted 12 days ago and still open: its breach must fire once, from the timer.
        late = b.model_copy(update={"service_code": "DUKCAPIL_KTP_EL", "agency": "dukcapil",
                                    "occurred_at": now - timedelta(days=12)})
        # A KK request completed 6 days after submission: breach detected at completion.
        slow = c.model_copy(update={"service_code": "DUKCAPIL_KK", "agency": "dukcapil",
                                    "occurred_at": now - timedelta(days=10)})
        events = [nik, later(nik, Status.COMPLETED, t0 + timedelta(minutes=20)), pln,
                  later(pln, Status.IN_PROCESS, t0 + timedelta(hours=1)),
                  later(pln, Status.COMPLETED, t0 + timedelta(hours=2)),
                  late, slow, later(slow, Status.COMPLETED, now - timedelta(days=4)),
                  d]
        async with SourcePublishers(settings, store_of(settings)) as publisher:
            for event in events:
                await publisher.publish(event)
            await publisher.publish(d)                                          # resend: a duplicate
            await publisher.publish(d.model_copy(update={"note": "other"}))     # same id, other content
            await publisher.publish(later(d, Status.SUBMITTED, now).model_copy(
                update={"event_id": "bad", "status": Status.COMPLETED}))        # fine: SUBMITTED -> COMPLETED
            # after COMPLETED
            await publisher.publish(later(d, Status.IN_PROCESS, now + timedelta(seconds=1)))

        topics = [settings.topic_lifecycle, settings.topic_sla, settings.topic_notify, settings.topic_dlq,
                  settings.topic_audit, settings.changelog_topic("journeys"),
                  settings.changelog_topic("requests")]

        def done(rs: list[Record]) -> bool:
            by = Counter(r.topic for r in rs)
            journeys = table(settings, rs, "journeys")
            return (by[settings.topic_lifecycle] >= 10 and by[settings.topic_dlq] >= 2
                    and by[settings.topic_sla] >= 2
                    and (journeys.get(parent) or {}).get("journey", {}).get("status") == "COMPLETED")

        records = await collect(settings, topics, until=done, timeout=90)
        records = await collect(settings, topics, until=lambda rs: False, timeout=3)  # let stragglers show
    finally:
        worker.stop()
    codec = Codec(registry(settings))

    # The journey: COMPLETED, clock from the first child's submission, 0 + 5 working days end to end.
    journey = table(settings, records, "journeys")[parent]["journey"]
    assert journey["status"] == "COMPLETED" and set(journey["children"]) == {"NIK-0001", "PLN-0001"}
    clock = sla.SlaClock.from_dict(journey["clock"])
    assert clock.started_at == t0 and clock.sla_working_days == 5
    assert sla.due_at(clock) == sla.deadline(t0, 5)
    notices = [codec.decode(r.value).record for r in records if r.topic == settings.topic_notify]
    assert [n["status"] for n in notices if n["request_id"] == parent] == ["COMPLETED"]
    # Children are enriched with their own deadlines, and carry the parent id.
    life = [RequestLifecycleEvent.from_avro(codec.decode(r.value).record) for r in records
            if r.topic == settings.topic_lifecycle]
    pln_events = [e for e in life if e.request_id == "PLN-0001"]
    assert len(pln_events) == 3 and all(e.parent_request_id == parent for e in pln_events)
    assert pln_events[0].enrichment.due_at == sla.deadline(pln.occurred_at, 5)
    assert all(e.citizen is None and e.enrichment.citizen_ref for e in life)

    # SLA: exactly one breach per late request (warnings superseded), none for the punctual ones.
    sla_events = [codec.decode(r.value).record for r in records if r.topic == settings.topic_sla]
    assert sorted((s["request_id"], s["kind"]) for s in sla_events) == sorted([
        (late.request_id, "BREACH"), (slow.request_id, "BREACH")])
    by_request = {s["request_id"]: s for s in sla_events}
    assert by_request[late.request_id]["detected_by"] == "timer"
    # (the timer may see the slow request before its late completion does: either way, one breach)
    assert by_request[slow.request_id]["detected_by"] in ("timer", "completion")
    assert sla_events[0]["due_at"] < now

    # Dedup and dead letters: the resend dropped; the conflicting copy and the illegal transition
    # dead-lettered.
    assert Counter(e.request_id for e in life)[d.request_id] == 2  # SUBMITTED and COMPLETED
    dlq = sorted((r for r in records if r.topic == settings.topic_dlq), key=lambda r: r.headers["dlq_time"])
    assert [r.headers["dlq_reason"] for r in dlq] == ["conflict", "illegal_transition"]
    assert "COMPLETED (terminal)" in dlq[1].headers["dlq_error"]
    assert dlq[0].headers["dlq_topic"] == settings.desk_intake_topic("banyuwangi")
    # Audit: every accepted event that delivered personal data logged (issue 15: only those), with the
    # personal fields each audience got and no payload.
    audits = [codec.decode(r.value).record for r in records if r.topic == settings.topic_audit]
    phoned = {n["notice_id"][len(n["request_id"]) + 1:-len("/notice")] for n in notices
              if n["phone"] and n["notice_id"].startswith(f"{n['request_id']}/")
              and "/journey/" not in n["notice_id"]}
    moved = {e.event_id for e in events if e.citizen} | (phoned & {e.event_id for e in life})
    assert {a["event_ce_id"] for a in audits} >= moved
    assert all(any(d["personal_fields"] for d in a["deliveries"]) for a in audits)
    first = next(a for a in audits if a["event_ce_id"] == late.event_id)
    assert {x["audience"]: x["personal_fields"] for x in first["deliveries"]} == {
        "agency:dukcapil": ["kk_number", "name", "nik"], "mpp": [], "lifecycle": [], "citizen": ["phone"]}


N = 150  # requests; 3 events each


def _story(n: int, seed: int) -> list[list[RequestLifecycleEvent]]:
    now = datetime.now(UTC).replace(microsecond=0)
    out = []
    for e in village_requests(n, seed=seed, now=now - timedelta(hours=2)):
        e = e.model_copy(update={"service_code": "DUKCAPIL_KTP_EL", "agency": "dukcapil"})
        out.append([e, later(e, Status.IN_PROCESS, e.occurred_at + timedelta(minutes=5)),
                    later(e, Status.READY, e.occurred_at + timedelta(minutes=10))])
    return out


async def _restart_run(make_settings, tmp_path, store: str, signals: list[str]) -> None:
    settings = isolated(make_settings, table_store=store)
    stories = _story(N, seed=31)
    waves = [[s[i] for s in stories] for i in range(3)]
    starts = iter(range(10))
    worker = WorkerProcess(as_worker(settings), tmp_path / f"worker-{next(starts)}.log").start()
    try:
        worker.wait_ready()
        async with SourcePublishers(settings, store_of(settings)) as publisher:
            for i, wave in enumerate(waves):
                await publisher.publish_many((e, None) for e in wave)
                sig = signals[i] if i < len(signals) else None  # signals[i]: stop the worker during wave i
                if sig is None:
                    continue
                # Mid-stream: stop the worker as soon as it has written the first outputs of this wave.
                await collect(settings, [settings.topic_lifecycle],
                              until=lambda rs, i=i: len(rs) >= i * N + 10, timeout=60)
                worker.stop(sig=signal.SIGKILL if sig == "KILL" else signal.SIGTERM)
                worker = WorkerProcess(as_worker(settings), tmp_path / f"worker-{next(starts)}.log").start()
                worker.wait_ready()
        topics = [settings.topic_lifecycle, settings.agency_topic("dukcapil"), settings.topic_feed,
                  settings.topic_notify, settings.topic_audit, settings.topic_dlq,
                  settings.changelog_topic("requests")]
        expected = {settings.topic_lifecycle: 3 * N, settings.agency_topic("dukcapil"): 3 * N,
                    settings.topic_feed: 3 * N, settings.topic_notify: 2 * N,
                    # audited: SUBMITTED (the citizen block), READY (the notice's phone);
                    # IN_PROCESS moves none
                    settings.topic_audit: 2 * N}

        def complete(rs: list[Record]) -> bool:
            unique, _ = dedup(r for r in rs if r.topic in expected)
            by = Counter(k[0] for k in unique)
            return all(by[t] >= n for t, n in expected.items())

        records = await collect(settings, topics, until=complete, timeout=120)
        records = await collect(settings, topics, until=lambda rs: False, timeout=3)
    finally:
        worker.stop()
    unique, raw_duplicates = dedup(r for r in records if r.topic in expected)
    by = Counter(k[0] for k in unique)
    assert {t: by[t] for t in expected} == expected, "after dedup by (ce_source, ce_id) nothing is missing"
    sent = {(e.request_id, e.event_id) for s in stories for e in s}
    assert {(r.key.decode(), r.headers["ce_id"]) for (t, _, _), r in unique.items()
            if t == settings.topic_lifecycle} == sent
    assert not [r for r in records if r.topic == settings.topic_dlq], \
        "a restart must not dead-letter anything"
    state = table(settings, records, "requests")
    assert {rid: v["state"]["status"] for rid, v in state.items()} == \
        {s[0].request_id: "READY" for s in stories}
    assert all(len(v["state"]["history"]) == 3 for v in state.values())
    if store == "memory://":  # the restarted workers filled the table from the changelog themselves
        logs = "".join((tmp_path / f"worker-{i}.log").read_text() for i in range(1, len(signals) + 1))
        read = [int(n) for n in re.findall(r"table requests: (\d+) changelog records", logs)]
        assert read and max(read) >= 10, f"no prefill of the requests table before Faust's recovery: {read}"
    print(f"\n[{store} {'+'.join(signals)}] raw duplicates at the outputs: {raw_duplicates} "
          f"(of {sum(expected.values()) + raw_duplicates} records)")


async def test_restarts_mid_stream_lose_no_state_memory_store(make_settings, tmp_path):
    await _restart_run(make_settings, tmp_path, "memory://", ["TERM", "KILL"])


async def test_restarts_mid_stream_lose_no_state_rocksdb_store(make_settings, tmp_path):
    await _restart_run(make_settings, tmp_path, "rocksdb://", ["KILL"])
