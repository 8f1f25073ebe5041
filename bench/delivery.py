"""Push delivery (issue 13): deliveries/s from one ``hub deliver`` process to a fast local receiver, and the
latency it adds from the agency topic to the endpoint at a fixed load.

* A fast receiver in its own process (``python -m bench.delivery receiver PORT``): raw asyncio, HTTP/1.1
  keep-alive, answers ``200`` with no body and notes the arrival time (ns) of each ``webhook-id`` per path
  (one path per endpoint); ``GET /count`` and ``GET /dump`` let the bench read it. It verifies nothing
  (the hub's own receiver does that in the tests): what is measured is the dispatcher.
* ``HUB_DELIVERY_*`` defaults (4 requests in flight per endpoint), SQLite store, ``ENDPOINTS`` endpoints of
  one agency on that receiver, every event selected by each: a delivery is one event to one endpoint,
  with its journal rows, its attempt log row and its audit entry (the records carry personal data).
* Saturation: ``events`` records are put on the agency topic first, then the dispatcher starts; deliveries/s
  over the whole drain and in its steady middle (10 %-90 % of arrivals); CPU per delivery.
* Fixed load: ``rate`` events/s for ``seconds`` onto the caught-up dispatcher; latency from just before the
  producer sends to the receiver's arrival (the same clock), p50/p95/p99 per delivery.
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx

from bench.common import summary_ms
from bench.config import Config
from bench.pipeline import log
from bench.procmon import ProcMon
from hub.access.catalogue import DISPATCHER
from hub.core.models import RequestLifecycleEvent
from hub.dev.provision import provision
from hub.dev.runner import WorkerProcess
from hub.dev.simulator import village_requests
from hub.dev.stack import LocalStack, free_port
from hub.settings import Settings

AGENCY = "pln"
SERVICE = "PLN_PASANG_BARU_TANPA_PERLUASAN"
ENDPOINTS = 4
GOAL = 2000


# -- the receiver (its own process) ----------------------------------------------------------------
class _Fast(asyncio.Protocol):
    arrivals: dict[str, dict[str, int]] = {}

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport
        self.buffer = b""

    def data_received(self, data: bytes) -> None:
        self.buffer += data
        while True:
            end = self.buffer.find(b"\r\n\r\n")
            if end < 0:
                return
            head = self.buffer[:end].decode("latin-1")
            lines = head.split("\r\n")
            headers = {k.strip().lower(): v.strip() for k, _, v in (x.partition(":") for x in lines[1:])}
            size = int(headers.get("content-length", "0"))
            if len(self.buffer) < end + 4 + size:
                return
            self.buffer = self.buffer[end + 4 + size:]
            method, path, _ = lines[0].split(" ", 2)
            body = b""
            if method == "GET":
                total = sum(len(v) for v in self.arrivals.values())
                body = json.dumps(self.arrivals if path == "/dump" else {"count": total}).encode()
            else:
                self.arrivals.setdefault(path, {}).setdefault(headers.get("webhook-id", ""), time.time_ns())
            head = b"HTTP/1.1 200 OK\r\ncontent-length: %d\r\ncontent-type: application/json\r\n\r\n"
            self.transport.write(head % len(body) + body)  # type: ignore[attr-defined]


async def _serve(port: int) -> None:
    server = await asyncio.get_running_loop().create_server(_Fast, "127.0.0.1", port, backlog=512)
    stop = asyncio.Event()
    asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, stop.set)
    async with server:
        await stop.wait()


# -- the bench -------------------------------------------------------------------------------------
def _events(n: int, seed: int) -> list[RequestLifecycleEvent]:
    template = next(village_requests(1, seed=seed))
    template = template.model_copy(update={"agency": AGENCY, "service_code": SERVICE})
    return [template.model_copy(update={"event_id": f"bench-{seed}-{i}",
                                        "request_id": f"BENCH-{seed}-{i // 3}"}) for i in range(n)]


async def _publish(settings: Settings, events: list[RequestLifecycleEvent], rate: float | None = None,
                   ) -> dict[str, int]:
    """Onto the agency topic, at ``rate`` events/s (10 ms ticks) or as fast as it goes; send times (ns)."""
    from hub.connectors.publisher import Publisher

    sent: dict[str, int] = {}
    async with Publisher(settings, "bench", "/bench", topic=settings.agency_topic(AGENCY)) as publisher:
        if rate is None:
            for i in range(0, len(events), 2000):
                await publisher.publish_many((e, None) for e in events[i:i + 2000])
            return sent
        per_tick = max(1, round(rate / 100))
        start = time.monotonic()
        for i in range(0, len(events), per_tick):
            chunk = events[i:i + per_tick]
            now = time.time_ns()
            sent.update((e.event_id, now) for e in chunk)
            outcomes = await publisher.send_batch([(e, None, None) for e in chunk])
            if any(outcomes):
                raise RuntimeError(f"publishing failed: {next(o for o in outcomes if o)!r}")
            await asyncio.sleep(max(0.0, start + (i + per_tick) / rate - time.monotonic()))
    return sent


async def _setup(settings: Settings, url: str) -> None:
    from hub.delivery.model import Endpoint
    from hub.delivery.signing import generate_secret
    from hub.delivery.store import open_store
    from hub.wire.topics import ensure_topics, topic_specs

    await ensure_topics(settings, [s for s in topic_specs(settings, agencies=[AGENCY])
                                   if s.name in (settings.agency_topic(AGENCY), settings.topic_audit)])
    store = open_store(settings)
    await store.open()
    now = time.time() - 3600
    for n in range(ENDPOINTS):
        await store.add_endpoint(Endpoint(id=f"ep_bench{n}", agency=AGENCY, url=f"{url}/e{n}",
                                          secret=generate_secret(), created_at=now, updated_at=now))
    await store.close()


def _wait_count(client: httpx.Client, expected: int, timeout: float) -> float:
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if client.get("/count").json()["count"] >= expected:
            return time.monotonic()
        time.sleep(0.05)
    raise TimeoutError(f"the receiver has {client.get('/count').json()['count']} of {expected} deliveries")


def delivery_bench(stack: LocalStack, cfg: Config, workdir: Path) -> dict:
    quick = cfg.quick
    events_n = 4_000 if quick else 20_000
    rate, seconds = (100, 3.0) if quick else (150, 10.0)
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    # provisioned by the admin like a deployment; the dispatcher runs as its own principal
    settings = stack.settings(metrics_port=0, app_id="bench-delivery", topic_partitions=cfg.partitions,
                        topic_agency_template="bench.delivery.agency.{agency}.v1",
                        topic_audit="bench.delivery.audit.v1", worker_data_dir=workdir / "delivery",
                        delivery_store=f"sqlite:///{workdir}/delivery/store.sqlite", delivery_allow_http=True,
                        delivery_allow_private_networks=True)
    receiver = subprocess.Popen([sys.executable, "-m", "bench.delivery", "receiver", str(port)],
                                stdin=subprocess.DEVNULL)
    provision(settings)
    dispatcher = WorkerProcess(stack.credentials.settings_for(settings, DISPATCHER).to_env(),
                               workdir / "delivery" / "dispatcher.log", name="dispatcher",
                               command=("deliver", "--loglevel", "warn"))
    out: dict = {"endpoints": ENDPOINTS, "max_in_flight": settings.delivery_max_in_flight, "goal_dps": GOAL}
    try:
        asyncio.run(_setup(settings, url))
        saturation = _events(events_n, seed=1)
        asyncio.run(_publish(settings, saturation))
        expected = events_n * ENDPOINTS
        log(f"delivery: {events_n} events on the topic, {ENDPOINTS} endpoints: {expected} deliveries to make")
        with httpx.Client(base_url=url, timeout=30) as client:
            _wait_count(client, 0, 10)  # the receiver is up
            t0 = time.monotonic()
            dispatcher.start()
            mon = ProcMon({"dispatcher": dispatcher.proc.pid, "receiver": receiver.pid,  # type: ignore[union-attr]
                           "kafka": stack.pids["kafka"]}).start()
            done = _wait_count(client, expected, 300)
            usage = mon.stop()
            times = sorted(t for per in client.get("/dump").json().values() for t in per.values())
            lo, hi = times[len(times) // 10], times[len(times) * 9 // 10]
            steady = (0.8 * len(times)) / ((hi - lo) / 1e9) if hi > lo else None
            out["saturation"] = {
                "events": events_n, "deliveries": expected, "seconds_from_start": round(done - t0, 2),
                "dps_including_startup": round(expected / (done - t0)),
                "dps_first_to_last": round(expected / ((times[-1] - times[0]) / 1e9)),
                "dps_steady_10_90": round(steady) if steady else None,
                "dispatcher_cpu_us_per_delivery": round(
                    1e6 * usage["processes"]["dispatcher"]["cpu_s"] / expected),
                "usage": usage}
            log(f"delivery saturation: {out['saturation']['dps_steady_10_90']} deliveries/s steady "
                f"(goal {GOAL}), {out['saturation']['dispatcher_cpu_us_per_delivery']} µs CPU each")
            fixed = _events(int(rate * seconds), seed=2)
            before = client.get("/count").json()["count"]
            mon = ProcMon({"dispatcher": dispatcher.proc.pid, "receiver": receiver.pid,  # type: ignore[union-attr]
                           "kafka": stack.pids["kafka"]}).start()
            sent = asyncio.run(_publish(settings, fixed, rate=rate))
            _wait_count(client, before + len(fixed) * ENDPOINTS, 120)
            usage = mon.stop()
            arrivals = client.get("/dump").json()
            latencies = [t - sent[i] for per in arrivals.values() for i, t in per.items() if i in sent]
            out["fixed_load"] = {"rate_eps": rate, "seconds": seconds, "deliveries": len(latencies),
                                 "latency_ms": summary_ms(latencies), "usage": usage}
            lat = out["fixed_load"]["latency_ms"]
            log(f"delivery at {rate} ev/s x {ENDPOINTS} endpoints: topic -> endpoint p50 {lat.get('p50')} "
                f"ms, p99 {lat.get('p99')} ms")
    finally:
        dispatcher.stop()
        receiver.send_signal(signal.SIGTERM)
        receiver.wait(10)
    return out


def markdown(result: dict) -> list[str]:
    """The section of ``latest.md`` (``bench.report``)."""
    s, f = result.get("saturation") or {}, result.get("fixed_load") or {}
    lat = f.get("latency_ms") or {}
    return ["## Push delivery (one `hub deliver` process, fast local receiver)", "",
            f"{result.get('endpoints')} endpoints x every event, {result.get('max_in_flight')} requests in "
            f"flight each, SQLite store, audit entry per delivery (personal data).", "",
            "| deliveries | steady deliveries/s (10-90 %) | first-to-last /s | incl. start-up /s | "
            "dispatcher CPU µs per delivery | goal |", "|---|---|---|---|---|---|",
            f"| {s.get('deliveries')} | {s.get('dps_steady_10_90')} | {s.get('dps_first_to_last')} | "
            f"{s.get('dps_including_startup')} | {s.get('dispatcher_cpu_us_per_delivery')} | "
            f">= {result.get('goal_dps')} |",
            "", f"Added latency, agency topic -> endpoint, at {f.get('rate_eps')} events/s x "
            f"{result.get('endpoints')} endpoints: p50 {lat.get('p50')} ms, p95 {lat.get('p95')} ms, "
            f"p99 {lat.get('p99')} ms (n = {lat.get('n')}).", "",
            f"CPU used by processes outside the benchmark meanwhile (noise): {_other(s)} cpu-s of "
            f"{_wall(s)} s in the drain, {_other(f)} of {_wall(f)} s at the fixed load.", ""]


def _other(phase: dict) -> object:
    return (phase.get("usage") or {}).get("machine", {}).get("other_cpu_s")


def _wall(phase: dict) -> object:
    return (phase.get("usage") or {}).get("wall_s")


if __name__ == "__main__":  # python -m bench.delivery receiver PORT
    if sys.argv[1:2] != ["receiver"]:
        sys.exit("usage: python -m bench.delivery receiver PORT")
    os.nice(0)
    asyncio.run(_serve(int(sys.argv[2])))
