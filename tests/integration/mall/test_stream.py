"""The live stream on the real broker: a client that disconnects and resumes with Last-Event-ID misses
nothing and sees nothing twice, while the view keeps applying the feed."""

from __future__ import annotations

import asyncio
import json

import httpx

from hub.mall.auth import StaffDirectory, digest
from hub.mall.service import MallService
from tests.integration.mall.conftest import as_mall, now, simulated

TOKEN = "stream-test-manager-token"


async def read_events(client: httpx.AsyncClient, headers: dict, count: int, timeout: float) -> list[dict]:
    """Up to ``count`` request events (id + data) from one connection."""
    out: list[dict] = []
    event: dict = {}

    async def go() -> None:
        async with client.stream("GET", "/v1/stream", headers=headers) as response:
            assert response.status_code == 200
            assert response.headers["content-type"].startswith("text/event-stream")
            async for line in response.aiter_lines():
                if line.startswith("id: "):
                    event["id"] = line[4:]
                elif line.startswith("data: ") and "id" in event:
                    event["data"] = json.loads(line[6:])
                elif line == "" and "data" in event:
                    out.append(dict(event))
                    event.clear()
                    if len(out) >= count:
                        return

    try:
        await asyncio.wait_for(go(), timeout)
    except TimeoutError:
        pass
    return out


async def test_resume_with_last_event_id_misses_nothing(mall_traffic, tmp_path):
    traffic = mall_traffic
    settings = as_mall(traffic.settings, mall_database=f"sqlite:{tmp_path / 'mall.sqlite'}", mall_port=0,
                     mall_batch_records=40, mall_sse_buffer=100)
    staff = StaffDirectory([{"name": "m", "role": "manager", "token_sha256": digest(TOKEN)}])
    async with MallService(settings, staff=staff) as mall:
        auth = {"Authorization": f"Bearer {TOKEN}"}
        async with httpx.AsyncClient(base_url=mall.url, timeout=30) as client:
            await asyncio.wait_for(mall.follower.caught_up.wait(), 60)
            start = await mall.store.last_seq()
            reading = asyncio.create_task(read_events(client, auth, 30, 90))  # live end: nothing old
            await asyncio.sleep(0.5)
            await traffic.publish(simulated(seed=77, now=now(), duration=5.0, backlog=2, journeys=1))
            first = await reading  # then disconnected, while the worker goes on
            assert len(first) == 30
            await traffic.quiet()
            await asyncio.sleep(2)
            total = await mall.store.last_seq()
            rest = await read_events(client, {**auth, "Last-Event-ID": first[-1]["id"]}, total - start - 30,
                                     60)
            ids = [e["id"] for e in first + rest]
            want = [e.id for e in await mall.store.stream_after(start, limit=1_000_000)]
            assert ids == want, (len(ids), len(want))
            assert len(set(ids)) == len(ids)
            assert len(rest) > 100  # beyond the memory buffer: the database served some
            assert all(e["data"]["request_id"] and "citizen" not in e["data"] for e in first + rest)
            # An id the view does not know: the client is told to reload, then gets the live end.
            async with client.stream("GET", "/v1/stream", headers={**auth,
                                                                   "Last-Event-ID": "99:99999999"}) as r:
                lines = []
                async for line in r.aiter_lines():
                    lines.append(line)
                    if line == "event: reset" or len(lines) > 5:
                        break
            assert "event: reset" in lines
