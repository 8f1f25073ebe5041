"""Store and forward against the real broker: a broker outage and a SIGKILLed connector lose nothing.

Downstream deduplication by (ce_source, ce_id) is allowed; raw duplicates are counted and printed.
"""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import time
from collections import Counter, defaultdict
from datetime import UTC, datetime

from hub.connectors.outbox import Forwarder, Outbox
from hub.connectors.publisher import Publisher
from hub.dev.simulator import schedule
from hub.wire.tail import collect

DESK = "desk-banyuwangi"


def _traffic(n: int, seed: int):
    items = schedule(seed=seed, rate=50, duration=n / 5, now=datetime.now(UTC), day_seconds=0.5,
                     anomalies=False)[:n]
    return [(s.event, s.source) for s in items]


async def _delivered(settings, expected: int, timeout: float = 120):
    intake = [settings.desk_intake_topic("banyuwangi")]
    records = await collect(settings, intake, until=lambda rs: len(rs) >= expected, timeout=timeout)
    return await collect(settings, intake, until=lambda rs: len(rs) > len(records), timeout=2) or records


def _check(records, sent) -> int:
    """Nothing lost, per-request order kept after dedupe; returns the raw duplicate count."""
    keys = [(r.headers["ce_source"], r.headers["ce_id"]) for r in records]
    assert set(keys) == {(s, e.event_id) for e, s in sent}, "events lost or foreign events present"
    first_seen: dict[str, list[str]] = defaultdict(list)
    done = set()
    for r in sorted(records, key=lambda r: (r.partition, r.offset)):
        k = (r.headers["ce_source"], r.headers["ce_id"])
        if k not in done:
            done.add(k)
            first_seen[r.key.decode()].append(r.headers["ce_id"])
    expected: dict[str, list[str]] = defaultdict(list)
    for e, _ in sent:
        expected[e.request_id].append(e.event_id)
    assert first_seen == expected, "a request's events arrived out of their original order"
    return sum(c - 1 for c in Counter(keys).values())


async def _restart_broker(stack) -> None:
    await asyncio.to_thread(stack.restart_kafka)  # its KRaft storage is formatted already: not again


async def _wait(predicate, timeout: float, what: str) -> None:
    end = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < end, f"gave up waiting for {what}"
        await asyncio.sleep(0.2)


async def test_events_kept_while_the_broker_is_down_are_sent_in_order_when_it_returns(stack, make_settings,
                                                                                     tmp_path, as_principal):
    settings = make_settings()
    desk = as_principal(settings, DESK)
    traffic = _traffic(400, seed=31)
    before, during = traffic[:150], traffic[150:]
    box = Outbox(tmp_path / "outbox.sqlite")

    def forwarder() -> Forwarder:
        return Forwarder(box, Publisher(desk, "test_outage", "/test",
                                        topic=desk.desk_intake_topic("banyuwangi"),
                                        request_timeout_ms=5000),
                         chunk=50, idle_poll_s=0.2, max_backoff_s=1.0, grace_s=2.0)

    first, stopping = forwarder(), asyncio.Event()
    task = asyncio.create_task(first.run(stopping))
    second = None
    try:
        box.enqueue(before)
        first.wake()
        await _wait(lambda: box.depth()[0] == 0, 60, "the first events to be sent")

        stack.kill_kafka(signal.SIGTERM)  # the broker goes away
        attempts = first.attempts
        box.enqueue(during)
        first.wake()
        await _wait(lambda: first.attempts > attempts, 30, "the forwarder to try")
        await asyncio.sleep(3)  # the producer retries meanwhile
        assert box.depth()[0] == len(during)  # kept, nothing marked sent

        stopping.set()  # graceful stop during the outage: abort, keep the chunk
        assert await task == len(before)
        stopping = asyncio.Event()
        second = forwarder()  # a restarted connector, broker still down: cannot even connect
        task = asyncio.create_task(second.run(stopping))
        await _wait(lambda: second.failures >= 2, 60, "the restarted forwarder to retry")
        assert box.depth()[0] == len(during)

        await _restart_broker(stack)  # same data dir, same port
        await _wait(lambda: box.depth()[0] == 0, 180, "the outbox to drain after the outage")
    finally:
        if "kafka" not in stack.pids:
            await _restart_broker(stack)
        stopping.set()
        await task
        box.close()
    duplicates = _check(await _delivered(settings, len(traffic)), traffic)
    print(f"\nbroker outage: {len(traffic)} events, {second.failures} failed reconnects, "
          f"{duplicates} raw duplicates downstream")


async def test_a_connector_killed_mid_send_loses_nothing(make_settings, tmp_path, as_principal):
    settings = make_settings()
    traffic = _traffic(4000, seed=32)
    path = tmp_path / "outbox.sqlite"
    with Outbox(path) as box:
        box.enqueue(traffic)
    env = {**os.environ, **as_principal(settings, DESK).to_env()}
    cmd = [sys.executable, "-c", "from hub.cli.connectors import forward; forward()", "--outbox", str(path),
           "--chunk", "10", "--until-empty"]
    log = open(tmp_path / "forward.log", "ab")
    proc = subprocess.Popen(cmd, env=env, stdout=log, stderr=subprocess.STDOUT)
    with Outbox(path) as box:
        try:
            await _wait(lambda: box.counts()[0] >= 200, 120, "the connector to start sending")
        finally:
            proc.send_signal(signal.SIGKILL)
            proc.wait(10)
        sent_before_kill = box.counts()[0]
        assert proc.returncode == -signal.SIGKILL
        assert 0 < sent_before_kill < len(traffic), "the kill did not land mid-send"
    again = subprocess.run(cmd, env=env, stdout=log, stderr=subprocess.STDOUT, timeout=300)
    assert again.returncode == 0, (tmp_path / "forward.log").read_text()[-2000:]
    with Outbox(path) as box:
        assert box.counts() == (len(traffic), 0)
    duplicates = _check(await _delivered(settings, len(traffic)), traffic)
    print(f"\nSIGKILL after {sent_before_kill} of {len(traffic)} acknowledged: {duplicates} raw duplicates")
