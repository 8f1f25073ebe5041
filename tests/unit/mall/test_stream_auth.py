"""The live stream's fan-out, the citizen page's rate limit and sign-in sessions, without a server."""

from __future__ import annotations

import asyncio

from hub.mall.auth import Principal, Role, Sessions, StaffDirectory, digest
from hub.mall.citizen import RateLimiter
from hub.mall.sqlite import SqliteDriver
from hub.mall.store import SqlViewStore
from hub.mall.stream import HEARTBEAT, RESET, Broadcaster


async def test_stream_heartbeats_when_idle_resumes_and_filters_by_agency(items, tmp_path):
    store = SqlViewStore(SqliteDriver(tmp_path / "mall.sqlite"))
    await store.open()
    try:
        hub = Broadcaster(store, buffer=50, heartbeat=0.05)
        await hub.start()
        frames = hub.frames(0)
        assert (await anext(frames)).startswith("retry: ")
        assert await asyncio.wait_for(anext(frames), 2) == HEARTBEAT  # nothing new: a comment line
        hub.publish(await store.apply(items[:400]))
        got = [await asyncio.wait_for(anext(frames), 2) for _ in range(5)]
        assert all(f.startswith("id: ") and "event: request" in f for f in got)
        await frames.aclose()
        every = await store.stream_after(0, 100_000)
        after, reload = await hub.resume_point(every[10].id)  # older than the buffer: read from the database
        assert (after, reload) == (every[10].seq, False)
        tail = hub.frames(after)
        await anext(tail)
        assert (await anext(tail)).startswith(f"id: {every[11].id}\n")
        await tail.aclose()
        assert await hub.resume_point("not-an-id") == (hub.latest, True)
        reset = hub.frames(hub.latest, reload=True)
        await anext(reset)
        assert await anext(reset) == RESET
        await reset.aclose()
        pln = hub.frames(0, "pln")
        await anext(pln)
        first = await asyncio.wait_for(anext(pln), 2)
        assert '"agency":"pln"' in first
        await pln.aclose()
        assert hub.clients == 0
    finally:
        await store.close()


def test_rate_limiter_counts_per_key_in_a_sliding_window():
    now = [0.0]
    limiter = RateLimiter(3, window=60, clock=lambda: now[0])
    assert all(limiter.allow("ip:a", "id:1") for _ in range(3))
    assert not limiter.allow("ip:b", "id:1")  # the request number is worn out, whoever asks
    assert limiter.allow("ip:b", "id:2")
    assert limiter.retry_after("ip:a", "id:1") == 60
    now[0] = 61.0
    assert limiter.allow("ip:a", "id:1")


def test_sessions_expire_and_staff_files_hold_digests_only(tmp_path):
    now = [0.0]
    sessions = Sessions(minutes=1, clock=lambda: now[0])
    sid = sessions.create(Principal("x", Role.COUNTER))
    assert sessions.get(sid) == Principal("x", Role.COUNTER)
    now[0] = 61.0
    assert sessions.get(sid) is None
    path = tmp_path / "staff.json"
    token = StaffDirectory.add(path, "Pak Liaison", Role.LIAISON, "pln")
    assert token not in path.read_text() and digest(token) in path.read_text()
    assert StaffDirectory.load(path).principal(token) == Principal("Pak Liaison", Role.LIAISON, "pln")
    assert oct(path.stat().st_mode)[-3:] == "600"
