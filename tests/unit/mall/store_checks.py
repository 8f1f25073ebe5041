"""Checks every ViewStore must pass, run on SQLite (unit tests) and PostgreSQL (integration tests)."""

from __future__ import annotations

import dataclasses
import random
from collections import Counter
from datetime import timedelta

import pytest

from hub.core.lifecycle import Status
from hub.mall.disclosures import disclosures_of
from hub.mall.store import BadCursor, Query, SqlViewStore
from hub.mall.summary import summarise
from hub.mall.view import AuditItem, FeedItem, replay
from tests.unit.mall.conftest import NOW


async def apply_shuffled(store: SqlViewStore, items, seed: int = 3) -> None:
    """The items in random batches, shuffled, a fifth of them twice."""
    rnd = random.Random(seed)
    mixed = list(items) + rnd.sample(list(items), len(items) // 5)
    rnd.shuffle(mixed)
    i = 0
    while i < len(mixed):
        n = rnd.randint(1, 400)
        await store.apply(mixed[i:i + n], {("t", 0): min(i + n, len(mixed))})
        i += n


async def check_replay_summary_and_queries(store: SqlViewStore, items) -> None:
    await apply_shuffled(store, items)
    expected = replay(items)
    rows = {r.request_id: r for r in await store.rows()}
    assert rows == expected
    assert await store.positions() == {("t", 0): len(items) + len(items) // 5}

    # Summaries: the SQL says what the pure definition says, for the mall and for one agency.
    for agency in (None, "dukcapil"):
        for now in (NOW, NOW + timedelta(days=2)):
            want = summarise(expected.values(), now, agency=agency)
            got = await store.summary(now, agency=agency)
            assert got == want

    # Paging: every row once, in order, whatever the page size; filters as the rows say.
    for order, key in (("oldest", lambda r: (r.submitted_at, r.request_id)),
                       ("newest", lambda r: (r.submitted_at, r.request_id)),
                       ("recent", lambda r: (r.updated_at, r.request_id))):
        seen, cursor = [], None
        while True:
            page = await store.page(Query(order=order, limit=37, cursor=cursor))
            seen += page.rows
            cursor = page.next_cursor
            if cursor is None:
                break
        want_order = sorted(expected.values(), key=key, reverse=order != "oldest")
        assert [r.request_id for r in seen] == [r.request_id for r in want_order]
    with pytest.raises(BadCursor):
        await store.page(Query(order="newest", cursor=(await store.page(Query(limit=1))).next_cursor))
    some = next(r for r in expected.values() if r.kind == "request" and r.status is Status.COMPLETED)
    for query, pick in (
        (Query(agency=some.agency), lambda r: r.agency == some.agency),
        (Query(service=some.service_code), lambda r: r.service_code == some.service_code),
        (Query(village=some.region_code), lambda r: r.region_code == some.region_code),
        (Query(kecamatan=some.kecamatan_code), lambda r: r.kecamatan_code == some.kecamatan_code),
        (Query(status=Status.SUBMITTED), lambda r: r.status is Status.SUBMITTED),
        (Query(sla="breached"), lambda r: r.active and r.sla.value == "breached"),
        (Query(kind="journey"), lambda r: r.kind == "journey"),
        (Query(open=True, agency="dukcapil"), lambda r: r.open and r.agency == "dukcapil"),
        (Query(updated_since=some.updated_at), lambda r: r.updated_at >= some.updated_at),
    ):
        got = await store.page(dataclasses.replace(query, limit=200))
        want = sorted((r for r in expected.values() if pick(r)), key=lambda r: (r.submitted_at, r.request_id))
        assert [r.request_id for r in got.rows] == [r.request_id for r in want][:200], query
        assert want, query

    # History, children, stream, disclosures.
    steps = await store.steps(some.request_id)
    assert [s.event_id for s in steps][-1] == some.last_event_id and len(steps) == some.events
    journey = next(r for r in expected.values() if r.kind == "journey")
    assert [c.request_id for c in await store.children(journey.request_id)] == list(journey.children)
    stream = await store.stream_after(0, limit=100_000)
    feed = {f.key for f in items if isinstance(f, FeedItem)}
    assert len(stream) == len(feed) and [e.seq for e in stream] == sorted(e.seq for e in stream)
    assert await store.seq_at(stream[10].partition, stream[10].offset) == stream[10].seq
    audits = [i.entry for i in items if isinstance(i, AuditItem)]
    ref = Counter(a.citizen_ref for a in audits if a.citizen_ref).most_common(1)[0][0]
    mine = await store.disclosures(ref)
    want_d = sorted((d for a in audits if a.citizen_ref == ref for d in disclosures_of(a)),
                    key=lambda d: (d.recorded_at, d.audit_id, d.index))
    assert mine == want_d and mine
    assert all(d.citizen_ref == ref and d.fields for d in mine)
    start, end = NOW - timedelta(days=30), NOW + timedelta(days=30)
    scope = await store.breach_scope("agency:dukcapil", start, end)
    assert scope and {d.recipient for d in scope} == {"agency:dukcapil"}

    # Reset: the view is empty and starts over.
    await store.reset()
    assert await store.rows() == [] and await store.positions() == {} and await store.last_seq() == 0
