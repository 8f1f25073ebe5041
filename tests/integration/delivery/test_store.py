"""The subscription store passes the same tests on SQLite and on a real PostgreSQL (one interface)."""

from __future__ import annotations

import itertools
import time
from collections.abc import AsyncIterator
from dataclasses import replace

import asyncpg
import pytest

from hub.delivery.db import PostgresDatabase, SqliteDatabase
from hub.delivery.filters import Filters
from hub.delivery.model import Attempt, Delivery, Endpoint, EndpointStatus, Mode, Notice, State
from hub.delivery.sqlstore import SqlStore

_databases = itertools.count()
T0 = 1_800_000_000.0
TOPIC = "agency.pln.v1"


@pytest.fixture(params=["sqlite", "postgresql"])
async def store(request, tmp_path) -> AsyncIterator[SqlStore]:
    if request.param == "sqlite":
        db = SqliteDatabase(tmp_path / "delivery.sqlite")
    else:
        dsn = request.getfixturevalue("postgres")
        name = f"delivery_{next(_databases)}_{int(time.time())}"
        admin = await asyncpg.connect(dsn)
        await admin.execute(f"CREATE DATABASE {name}")
        await admin.close()
        db = PostgresDatabase(dsn.rsplit("/", 1)[0] + f"/{name}")
    found = SqlStore(db)
    await found.open()
    await found.open()  # opening twice (a second process) changes nothing
    yield found
    await found.close()


def endpoint(n: int = 1, **changes) -> Endpoint:
    e = Endpoint(id=f"ep_{n}", agency="pln", url=f"https://pln.example/{n}", secret=f"whsec_{n}",
                 filters=Filters(statuses=("COMPLETED", "SUBMITTED")), mode=Mode.FIFO, rate_limit=5.0,
                 created_at=T0, updated_at=T0)
    return replace(e, **changes)


def delivery(n: int, *, ep: str = "ep_1", request: str = "R1", state: State = State.SCHEDULED, seq: int = 1,
             next_at: float | None = T0, partition: int = 0, created: float = T0, **changes) -> Delivery:
    d = Delivery(id=f"dl_{n:04d}", endpoint_id=ep, agency="pln", request_id=request, ce_source="/src",
                 ce_id=f"evt-{n}", ce_type="t", seq=seq, topic=TOPIC, partition=partition, offset=n,
                 state=state, next_at=next_at, created_at=created, updated_at=created, payload='{"x":1}',
                 personal=("nik",))
    return replace(d, **changes)


async def test_endpoints_round_trip_update_and_list(store):
    await store.add_endpoint(endpoint(1))
    await store.add_endpoint(endpoint(2, agency="dukcapil"))
    assert await store.get_endpoint("ep_1") == endpoint(1)
    assert [e.id for e in await store.list_endpoints()] == ["ep_2", "ep_1"]  # by agency
    assert [e.id for e in await store.list_endpoints("pln")] == ["ep_1"]
    changed = await store.update_endpoint("ep_1", T0 + 5, status=EndpointStatus.PAUSED, rate_limit=None,
                                          filters=Filters(), previous_secret="whsec_old",
                                          previous_until=T0 + 9)
    assert changed == replace(endpoint(1), status=EndpointStatus.PAUSED, rate_limit=None, filters=Filters(),
                              previous_secret="whsec_old", previous_until=T0 + 9, updated_at=T0 + 5)
    assert await store.update_endpoint("ep_9", T0, status=EndpointStatus.PAUSED) is None
    with pytest.raises(ValueError):
        await store.update_endpoint("ep_1", T0, created_at=0)


async def test_a_unit_commits_everything_or_nothing(store):
    await store.add_endpoint(endpoint(1))
    with pytest.raises(RuntimeError):
        async with store.unit() as unit:
            await unit.insert([delivery(1)])
            await unit.save_offsets("g", {(TOPIC, 0): 2}, T0)
            raise RuntimeError("crash")
    assert await store.get_delivery("dl_0001") is None and await store.offsets("g", [(TOPIC, 0)]) == {}
    async with store.unit() as unit:
        await unit.insert([delivery(1)])
        await unit.insert([delivery(1, payload="other")])  # same (endpoint, source, id): ignored
        await unit.save_offsets("g", {(TOPIC, 0): 2, (TOPIC, 1): 7}, T0)
        await unit.save_offsets("g", {(TOPIC, 0): 3}, T0)
        found = await unit.find([("ep_1", "/src", "evt-1"), ("ep_1", "/src", "evt-2")])
    assert list(found.values()) == [delivery(1)]
    assert await store.offsets("g", [(TOPIC, 0), (TOPIC, 1), (TOPIC, 2)]) == {(TOPIC, 0): 3, (TOPIC, 1): 7}
    assert await store.offsets("other", [(TOPIC, 0)]) == {}


async def test_sequences_are_reserved_per_endpoint_and_request(store):
    async with store.unit() as unit:
        assert await unit.reserve({("ep_1", "R1"): 3, ("ep_1", "R2"): 1, ("ep_2", "R1"): 1}, T0) == {
            ("ep_1", "R1"): 1, ("ep_1", "R2"): 1, ("ep_2", "R1"): 1}
    async with store.unit() as unit:
        assert await unit.reserve({("ep_1", "R1"): 1, ("ep_2", "R1"): 2}, T0) == {("ep_1", "R1"): 4,
                                                                                   ("ep_2", "R1"): 2}


async def test_due_earliest_and_the_owned_partitions(store):
    async with store.unit() as unit:
        await unit.insert([delivery(1, next_at=T0 - 5), delivery(2, next_at=T0 - 1, partition=1),
                           delivery(3, next_at=T0 + 60), delivery(4, state=State.HELD, next_at=None),
                           delivery(5, ep="ep_2", next_at=T0 - 9),
                           delivery(6, state=State.DELIVERED, next_at=None)])
    assert [d.id for d in await store.due("ep_1", None, T0, 10)] == ["dl_0001", "dl_0002"]
    assert [d.id for d in await store.due("ep_1", [1], T0, 10)] == ["dl_0002"]
    assert [d.id for d in await store.due("ep_1", [], T0, 10)] == []
    assert [d.id for d in await store.due("ep_1", None, T0, 1, exclude={"dl_0001"})] == ["dl_0002"]
    assert await store.earliest("ep_1", [0, 1], T0) == T0 + 60
    assert await store.earliest("ep_1", [1], T0) is None
    assert await store.busy_requests("ep_1", [0]) == {"R1"}
    backlog = {b.endpoint_id: (b.unresolved, b.oldest_created_at) for b in await store.backlog()}
    assert backlog == {"ep_1": (4, T0), "ep_2": (1, T0)}


async def test_fifo_release_takes_the_lowest_held_sequence(store):
    async with store.unit() as unit:
        await unit.insert([delivery(1, state=State.HELD, next_at=None, seq=3),
                           delivery(2, state=State.HELD, next_at=None, seq=2),
                           delivery(3, state=State.HELD, next_at=None, seq=4, request="R2")])
        released = await unit.release("ep_1", "R1", T0 + 1)
        assert released is not None and released.seq == 2 and released.state is State.SCHEDULED
        assert await unit.release("ep_1", "R9", T0) is None
    assert (await store.get_delivery("dl_0002")).next_at == T0 + 1
    assert (await store.get_delivery("dl_0001")).state is State.HELD


async def test_updates_the_attempt_log_resend_and_listing(store):
    async with store.unit() as unit:
        await unit.insert([delivery(n, created=T0 + n) for n in range(1, 8)])
        await unit.update([delivery(1, created=T0 + 1, state=State.EXHAUSTED, attempts=10, next_at=None,
                                    last_status=500, last_error="HTTP 500", updated_at=T0 + 99)])
        await unit.log([Attempt("dl_0001", "ep_1", "evt-1", 10, T0 + 98, 12, "exhausted", 500, None, "oops",
                                None),
                        Attempt("dl_0001", "ep_1", "evt-1", 9, T0 + 50, 5000, "retry", None, "timeout", None,
                                T0 + 90)])
    exhausted = await store.get_delivery("dl_0001")
    assert (exhausted.state, exhausted.attempts, exhausted.last_error) == (State.EXHAUSTED, 10, "HTTP 500")
    assert [(a.attempt, a.status_code, a.error_class) for a in await store.attempts("dl_0001")] == [
        (9, None, "timeout"), (10, 500, None)]
    page = await store.list_deliveries(limit=3)
    assert [d.id for d in page.deliveries] == ["dl_0001", "dl_0002", "dl_0003"] and page.next_cursor
    rest = await store.list_deliveries(limit=10, cursor=page.next_cursor)
    assert [d.id for d in rest.deliveries] == [f"dl_{n:04d}" for n in range(4, 8)]
    assert rest.next_cursor is None
    window = await store.list_deliveries(since=T0 + 2, until=T0 + 4, states=[State.SCHEDULED])
    assert [d.id for d in window.deliveries] == ["dl_0002", "dl_0003"]
    assert (await store.list_deliveries(states=[State.EXHAUSTED])).deliveries == [exhausted]
    with pytest.raises(ValueError):
        await store.list_deliveries(cursor="garbage")
    assert await store.resend(["dl_0001", "dl_0002", "dl_0099"], T0 + 200) == 1  # an unresolved one stays
    again = await store.get_delivery("dl_0001")
    assert (again.state, again.next_at, again.round_start, again.attempts) == (State.SCHEDULED, T0 + 200, 10,
                                                                                10)
    assert await store.find_delivery("ep_1", "evt-3") == delivery(3, created=T0 + 3)


async def test_notices_purge_and_removal(store):
    await store.add_endpoint(endpoint(1))
    async with store.unit() as unit:
        await unit.notice(Notice("pln", "ep_1", "failing", "endpoint ep_1 is failing", T0))
        await unit.notice(Notice("pln", "ep_1", "disabled", "endpoint ep_1 disabled", T0 + 10))
        await unit.set_endpoint("ep_1", T0 + 10, status=EndpointStatus.DISABLED, disabled_reason="gone",
                                failing_since=T0)
        await unit.insert([delivery(1, state=State.DELIVERED, next_at=None, created=T0),
                           delivery(2, state=State.SCHEDULED, created=T0), delivery(3, created=T0 + 100)])
        await unit.log([Attempt("dl_0001", "ep_1", "evt-1", 1, T0, 3, "delivered", 200)])
        await unit.reserve({("ep_1", "R1"): 3}, T0)
    assert [n.kind for n in await store.notices("pln")] == ["disabled", "failing"]
    assert await store.last_notice("pln") == T0 + 10 and await store.last_notice("bpn") is None
    e = await store.get_endpoint("ep_1")
    assert (e.status, e.disabled_reason, e.failing_since) == (EndpointStatus.DISABLED, "gone", T0)
    assert await store.purge(T0 + 5) == {"attempts": 1, "deliveries": 1, "notices": 1}  # unresolved ones stay
    assert await store.get_delivery("dl_0002") is not None
    assert await store.remove_endpoint("ep_1") and not await store.remove_endpoint("ep_1")
    assert await store.get_delivery("dl_0002") is None and (await store.list_deliveries()).deliveries == []
    async with store.unit() as unit:  # the sequences went with it
        assert await unit.reserve({("ep_1", "R1"): 1}, T0) == {("ep_1", "R1"): 1}
