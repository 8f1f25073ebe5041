"""The service mall's view, API and live stream (``python -m bench --only mall``).

* **apply**: feed, SLA and audit records (the worker's own outputs: simulated traffic run through the real
  lifecycle engine offline, ``hub.dev.feed``) decoded and applied to the view in the follower's batches, one
  transaction each, on SQLite and on PostgreSQL (a throwaway local server). Figure: feed events applied per
  second, to hold against the worker's saturation rate (the view must keep up with it).
* **api**: ``GET /v1/requests/{id}`` (a status look-up with its history) at a fixed rate from concurrent
  clients against ``hub mall serve``'s app in its own process; p50/p99 latency and the rate achieved.
* **sse**: 200 clients on ``/v1/stream`` while the view applies new events; every client must receive every
  event; latency from the view's commit to each client's receipt.

The server runs in a child process (spawned) so the load generator does not share its event loop or GIL.
"""

from __future__ import annotations

import asyncio
import json
import multiprocessing
import random
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from bench.common import percentile

TOKEN = "bench-manager-token-0001"
SSE_CLIENTS = 200
# The live tail during the fan-out: 10 records (about 5 feed events) every 0.1 s, ~50 feed events/s: far above
# the mall's daily average (700-900 documents a day, a handful of events each): ~10,000 frames/s in all.
TAIL_BATCH, TAIL_TICK = 10, 0.1


def _items(events_target: int) -> tuple[list[Any], Any]:
    from hub.dev.feed import traffic
    from hub.mall.consumer import Decoder
    from hub.settings import Settings

    settings = Settings(citizen_ref_key="bench-key", topic_partitions=6)
    rate = max(events_target / 5 / 60, 5.0)  # ~5 feed events per request, 60 s of arrivals
    hub = traffic(settings, seed=17, rate=rate, duration=60.0, backlog=50, journeys=20,
                  now=datetime.now(UTC).replace(microsecond=0))
    decoder = Decoder(settings, hub.codec)
    records = [(w.topic, w.partition, w.offset, w.value,
                w.headers) for w in hub.written if w.topic in decoder.topics]
    return records, decoder


async def _apply_rate(store: Any, decoder: Any, records: list[Any], batch: int) -> dict:
    await store.open()
    try:
        feed = sum(1 for r in records if r[0] == decoder.settings.topic_feed)
        started = time.perf_counter()
        for i in range(0, len(records), batch):
            chunk = records[i:i + batch]
            items = [decoder.item(*r) for r in chunk]
            offsets = {(r[0], r[1]): r[2] + 1 for r in chunk}
            await store.apply(items, offsets)
        elapsed = time.perf_counter() - started
        return {"records": len(records), "feed_events": feed, "seconds": round(elapsed, 2),
                "feed_events_per_s": round(feed / elapsed), "records_per_s": round(len(records) / elapsed),
                "batch": batch}
    finally:
        await store.close()


def apply_bench(records: list[Any], decoder: Any, workdir: Path, batch: int = 2000) -> dict:
    from hub.dev.postgres import LocalPostgres
    from hub.mall.postgres import PostgresDriver
    from hub.mall.sqlite import SqliteDriver
    from hub.mall.store import SqlViewStore

    out = {"sqlite": asyncio.run(_apply_rate(SqlViewStore(SqliteDriver(workdir / "apply.sqlite")), decoder,
                                             records, batch))}
    with LocalPostgres() as pg:
        out["postgresql"] = asyncio.run(_apply_rate(SqlViewStore(PostgresDriver(pg.dsn)), decoder, records,
                                                    batch))
    return out


# ------------------------------------------------------------------ the server (child process) ---------
def _serve(db: str, port_box: Any, go: Any, times_path: str, records: list[Any], preload: int,
           decoder: Any) -> None:
    from hub.mall.auth import StaffDirectory, digest
    from hub.mall.service import MallService
    from hub.settings import Settings

    async def main() -> None:
        settings = Settings(citizen_ref_key="bench-key", mall_port=0, metrics_port=0,
                            mall_database=f"sqlite:{db}",
                            mall_sse_heartbeat_seconds=5.0)
        staff = StaffDirectory([{"name": "b", "role": "manager", "token_sha256": digest(TOKEN)}])
        service = MallService(settings, staff=staff, follow=False)
        await service.start()
        for i in range(0, preload, 2000):
            await service.store.apply([decoder.item(*r) for r in records[i:min(i + 2000, preload)]])
        await service.broadcaster.start()  # the preload went around it: the live end is after it
        port_box.value = service.server.port
        while not go.is_set():
            await asyncio.sleep(0.05)
        times: dict[int, float] = {}
        for i in range(preload, len(records), TAIL_BATCH):  # the live tail, at TAIL_BATCH records per tick
            applied = await service.store.apply([decoder.item(*r) for r in records[i:i + TAIL_BATCH]])
            service.broadcaster.publish(applied)
            now = time.time()
            times.update({e.seq: now for e in applied.events})
            await asyncio.sleep(TAIL_TICK)
        Path(times_path).write_text(json.dumps(times))
        await asyncio.sleep(3600)  # until terminated

    asyncio.run(main())


async def _lookups(url: str, ids: list[str], rate: float, seconds: float, clients: int = 20) -> dict:
    import httpx

    latencies: list[float] = []
    errors = 0
    interval = clients / rate
    loop = asyncio.get_running_loop()
    end = loop.time() + seconds

    async def client(k: int, http: httpx.AsyncClient) -> None:
        nonlocal errors
        rnd = random.Random(k)
        next_at = loop.time() + interval * k / clients
        while next_at < end:
            await asyncio.sleep(max(0.0, next_at - loop.time()))
            t0 = time.perf_counter()
            r = await http.get(f"/v1/requests/{rnd.choice(ids)}")
            latencies.append(time.perf_counter() - t0)
            errors += r.status_code != 200
            next_at += interval

    async with httpx.AsyncClient(base_url=url, headers={"Authorization": f"Bearer {TOKEN}"}, timeout=30,
                                 limits=httpx.Limits(max_connections=clients)) as http:
        await asyncio.gather(*(client(k, http) for k in range(clients)))
    lat = sorted(latencies)
    return {"offered_per_s": rate, "achieved_per_s": round(len(lat) / seconds), "errors": errors,
            "p50_ms": round((percentile(lat, 50) or 0) * 1000, 2),
            "p99_ms": round((percentile(lat, 99) or 0) * 1000, 2),
            "max_ms": round(lat[-1] * 1000, 2) if lat else None, "clients": clients}


async def _fan_out(url: str, expected: int, go: Any, timeout: float) -> tuple[list[list[tuple[int, float]]],
                                                                              int]:
    import httpx

    got: list[list[tuple[str, float]]] = [[] for _ in range(SSE_CLIENTS)]
    connected = 0

    async def client(k: int, http: httpx.AsyncClient) -> None:
        nonlocal connected
        async with http.stream("GET", "/v1/stream") as r:
            connected += 1
            async for line in r.aiter_lines():
                if line.startswith("id: "):
                    got[k].append((line[4:], time.time()))
                    if len(got[k]) >= expected:
                        return

    async with httpx.AsyncClient(base_url=url, headers={"Authorization": f"Bearer {TOKEN}"}, timeout=None,
                                 limits=httpx.Limits(max_connections=SSE_CLIENTS + 5)) as http:
        tasks = [asyncio.create_task(client(k, http)) for k in range(SSE_CLIENTS)]
        for _ in range(400):
            if connected >= SSE_CLIENTS:
                break
            await asyncio.sleep(0.05)
        go.set()
        await asyncio.wait(tasks, timeout=timeout)
        for t in tasks:
            t.cancel()
    return got, connected  # type: ignore[return-value]


def serve_bench(records: list[Any], decoder: Any, workdir: Path, *, rate: float = 200.0,
                seconds: float = 10.0,
                tail: int = 1000) -> dict:
    feed_topic = decoder.settings.topic_feed
    preload = len(records) - tail
    ids = sorted({decoder.item(*r).event.request_id for r in records[:preload] if r[0] == feed_topic})
    ctx = multiprocessing.get_context("fork")  # the child inherits the decoder and its schemas (no registry)
    port, go = ctx.Value("i", 0), ctx.Event()
    times_path = workdir / "sse-times.json"
    child = ctx.Process(target=_serve, args=(str(workdir / "serve.sqlite"), port, go, str(times_path),
                                             records,
                                             preload, decoder), daemon=True)
    child.start()
    try:
        deadline = time.monotonic() + 120
        while not port.value and time.monotonic() < deadline:
            time.sleep(0.1)
        url = f"http://127.0.0.1:{port.value}"
        api = asyncio.run(_lookups(url, ids, rate, seconds))
        expected = sum(1 for r in records[preload:] if r[0] == feed_topic)
        got, connected = asyncio.run(_fan_out(url, expected, go, timeout=120))
        for _ in range(100):
            if times_path.exists():
                break
            time.sleep(0.1)
        published = {int(k): v for k, v in json.loads(times_path.read_text()).items()}
    finally:
        child.terminate()
        child.join(10)
    first_seq = min(published) if published else 0
    lat = sorted(t - published[first_seq + i] for client in got for i, (_, t) in enumerate(client)
                 if first_seq + i in published)
    complete = sum(len(c) >= expected for c in got)
    return {"api_status_lookups": api,
            "sse": {"clients": SSE_CLIENTS, "connected": connected, "events": expected,
                    "feed_events_per_s": round(expected / (len(records[preload:]) / TAIL_BATCH * TAIL_TICK),
                                               1),
                    "clients_with_every_event": complete, "deliveries": sum(len(c) for c in got),
                    "p50_ms": round((percentile(lat, 50) or 0) * 1000, 1),
                    "p99_ms": round((percentile(lat, 99) or 0) * 1000, 1)}}


def mall_bench(events: int = 30_000) -> dict:
    """Every figure of the mall's phase."""
    started = time.perf_counter()
    records, decoder = _items(events)
    with tempfile.TemporaryDirectory(prefix="bench-mall-") as tmp:
        out: dict = {"generated_s": round(time.perf_counter() - started, 1)}
        out["apply"] = apply_bench(records, decoder, Path(tmp))
        out.update(serve_bench(records, decoder, Path(tmp)))
    return out


if __name__ == "__main__":
    print(json.dumps(mall_bench(), indent=1))
