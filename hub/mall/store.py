"""The view's storage: one interface (:class:`ViewStore`), one SQL implementation over two databases.

:class:`SqlViewStore` holds the logic, its SQL is in ``hub.mall.sql`` (the common subset of both databases),
and a :class:`Driver` runs it on SQLite (``hub.mall.sqlite``, the embedded default) or PostgreSQL
(``hub.mall.postgres``, asyncpg).

Invariants:

* :meth:`SqlViewStore.apply` writes a batch's steps, SLA marks, disclosures, the rebuilt rows *and the next
  offset of every partition the batch read* in one transaction. A restart resumes from the stored offsets:
  a batch is either wholly in the view with its offsets, or not at all, so nothing is lost; a record read
  twice (the worker's own redelivery, or a batch replayed) is recognised by its key and changes nothing.
* Rows are rebuilt from the stored set of their steps (``hub.mall.view.build_row``), so they do not depend
  on the order of arrival. :meth:`SqlViewStore.reset` empties everything: the view rebuilds from the topics.
* ``seq`` numbers new steps in the order the view stored them (the live stream's order, resumable).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Protocol

from hub.core.lifecycle import Status
from hub.core.records import SlaStage
from hub.mall.disclosures import Disclosure, disclosures_of
from hub.mall.sql import (
    AT_RISK,
    BREACHED,
    COUNTS,
    DDL,
    DISCLOSURE_ORDER,
    DISCLOSURE_SELECT,
    INSERT_DISCLOSURE,
    INSERT_SLA,
    INSERT_STEP,
    ORDERS,
    SLA_SELECT,
    STEP_COLUMNS,
    STEP_SELECT,
    TABLES,
    UPSERT_OFFSET,
    UPSERT_ROW,
    BadCursor,
    chunks,
    decode_cursor,
    disclosure_of,
    disclosure_values,
    encode_cursor,
    from_ms,
    in_list,
    mark_of,
    mark_values,
    ms,
    row_of,
    row_values,
    step_of,
    step_values,
)
from hub.mall.summary import Breakdown, Counts, Summary, lead_of
from hub.mall.view import (
    AuditItem,
    FeedItem,
    Info,
    Item,
    RequestRow,
    SlaItem,
    SlaMark,
    Step,
    StreamEvent,
    build_row,
    info_from_row,
    info_of,
    journey_row,
    today_start,
    window_start,
)
from hub.settings import Settings

__all__ = ["Applied", "BadCursor", "Driver", "Page", "Query", "SqlViewStore", "Tx", "ViewStore", "open_store"]

class Tx(Protocol):
    async def execute(self, sql: str, *args: Any) -> None: ...
    async def executemany(self, sql: str, rows: Sequence[Sequence[Any]]) -> None: ...
    async def fetch(self, sql: str, *args: Any) -> Sequence[Sequence[Any]]: ...


class Driver(Protocol):
    """A database: reads outside transactions, writes inside one (``?`` placeholders in every statement)."""

    name: str

    async def open(self, ddl: str) -> None: ...
    async def close(self) -> None: ...
    async def fetch(self, sql: str, *args: Any) -> Sequence[Sequence[Any]]: ...
    def transaction(self) -> AbstractAsyncContextManager[Tx]: ...


@dataclass(frozen=True, slots=True)
class Query:
    """A list request's filters (None: any), order and page."""

    agency: str | None = None
    service: str | None = None
    village: str | None = None
    kecamatan: str | None = None
    status: Status | None = None
    sla: str | None = None  # "at_risk" | "breached"
    updated_since: datetime | None = None
    kind: str | None = None
    open: bool | None = None
    actor: str | None = None
    parent: str | None = None
    order: str = "oldest"
    limit: int = 50
    cursor: str | None = None


@dataclass(frozen=True, slots=True)
class Page:
    rows: list[RequestRow]
    next_cursor: str | None


@dataclass(slots=True)
class Applied:
    """What one batch changed: the new steps for the live stream, the rows rebuilt, duplicates ignored."""

    events: list[StreamEvent] = field(default_factory=list)
    rows: int = 0
    duplicates: int = 0
    marks: int = 0
    disclosures: int = 0


class ViewStore(Protocol):
    """The view's storage, whatever the database."""

    async def open(self) -> None: ...
    async def close(self) -> None: ...
    async def reset(self) -> None: ...
    async def positions(self) -> dict[tuple[str, int], int]: ...
    async def apply(self, items: Sequence[Item],
                    offsets: Mapping[tuple[str, int], int] | None = None) -> Applied: ...
    async def get(self, request_id: str) -> RequestRow | None: ...
    async def steps(self, request_id: str) -> list[Step]: ...
    async def children(self, parent_id: str) -> list[RequestRow]: ...
    async def rows(self) -> list[RequestRow]: ...
    async def page(self, query: Query) -> Page: ...
    async def summary(self, now: datetime, *, agency: str | None = None, window_days: int = 30,
                      breakdowns: bool = True) -> Summary: ...
    async def last_seq(self) -> int: ...
    async def seq_at(self, partition: int, offset: int) -> int | None: ...
    async def stream_after(self, seq: int, limit: int = 500) -> list[StreamEvent]: ...
    async def disclosures(self, citizen_ref: str) -> list[Disclosure]: ...
    async def request_disclosures(self, request_id: str) -> list[Disclosure]: ...
    async def breach_scope(self, recipient: str, start: datetime, end: datetime) -> list[Disclosure]: ...


class SqlViewStore:
    """The view on a SQL database (see the module doc for the invariants). One writer: the follower."""

    def __init__(self, driver: Driver):
        self.db = driver
        self._seq = 0

    async def open(self) -> None:
        await self.db.open(DDL)
        self._seq = await self.last_seq()

    async def close(self) -> None:
        await self.db.close()

    async def reset(self) -> None:
        async with self.db.transaction() as tx:
            for table in TABLES:
                await tx.execute(f"DELETE FROM {table}")
        self._seq = 0

    async def positions(self) -> dict[tuple[str, int], int]:
        rows = await self.db.fetch("SELECT topic, part, next_offset FROM mall_offsets")
        return {(r[0], int(r[1])): int(r[2]) for r in rows}

    # ------------------------------------------------------------------ writing ------------------------
    async def apply(self, items: Sequence[Item],
                    offsets: Mapping[tuple[str, int], int] | None = None) -> Applied:
        feed = [i for i in items if isinstance(i, FeedItem)]
        marks = {i.event.event_id: SlaMark.of(i.event) for i in items if isinstance(i, SlaItem)}
        found = [d for i in items if isinstance(i, AuditItem) for d in disclosures_of(i.entry)]
        rids = {f.event.request_id for f in feed} | {m.request_id for m in marks.values()
                                                     if m.stage is SlaStage.REQUEST}
        result = Applied()
        seq = self._seq
        async with self.db.transaction() as tx:
            steps = await self._steps_of(tx, rids)
            known = await self._marks_of(tx, rids | {m.request_id for m in marks.values()})
            infos: dict[str, Info] = {}
            new_steps: list[tuple[str, Step]] = []
            for f in feed:
                rid = f.event.request_id
                infos.setdefault(rid, info_of(f.event))
                held = steps.setdefault(rid, {})
                if f.key in held:
                    result.duplicates += 1
                    continue
                seq += 1
                held[f.key] = step = Step.of(f, seq)
                new_steps.append((rid, step))
            new_marks = [m for m in marks.values()
                         if m.event_id not in {k.event_id for k in known.get(m.request_id, [])}]
            for m in new_marks:
                known.setdefault(m.request_id, []).append(m)
            await tx.executemany(INSERT_STEP, [step_values(rid, s) for rid, s in new_steps])
            await tx.executemany(INSERT_SLA, [mark_values(m) for m in new_marks])
            missing = [rid for rid in rids if rid not in infos and steps.get(rid)]
            for old in await self._rows_of(tx, missing):
                infos[old.request_id] = info_from_row(old)
            rows = [build_row(infos[rid], steps[rid].values(), known.get(rid, ()))
                    for rid in sorted(rids) if steps.get(rid)]
            parents = ({r.parent_request_id for r in rows if r.parent_request_id}
                       | {m.request_id for m in marks.values() if m.stage is SlaStage.JOURNEY})
            await tx.executemany(UPSERT_ROW, [row_values(r) for r in rows])
            journeys = await self._journeys(tx, parents, known)
            await tx.executemany(UPSERT_ROW, [row_values(r) for r in journeys])
            await tx.executemany(INSERT_DISCLOSURE, [disclosure_values(d) for d in found])
            await tx.executemany(UPSERT_OFFSET, [(t, p, o) for (t, p), o in sorted((offsets or {}).items())])
        self._seq = seq
        result.events = [StreamEvent.of(infos[rid], s) for rid, s in new_steps]
        result.rows = len(rows) + len(journeys)
        result.marks = len(new_marks)
        result.disclosures = len(found)
        return result

    async def _steps_of(self, tx: Tx, rids: Iterable[str]) -> dict[str, dict[str, Step]]:
        out: dict[str, dict[str, Step]] = {}
        for chunk in chunks(rids):
            for r in await tx.fetch(f"{STEP_SELECT} WHERE request_id IN {in_list(len(chunk))}", *chunk):
                rid, step = step_of(r)
                out.setdefault(rid, {})[step.key] = step
        return out

    async def _marks_of(self, tx: Tx, rids: Iterable[str]) -> dict[str, list[SlaMark]]:
        out: dict[str, list[SlaMark]] = {}
        for chunk in chunks(rids):
            for r in await tx.fetch(f"{SLA_SELECT} WHERE request_id IN {in_list(len(chunk))}", *chunk):
                m = mark_of(r)
                out.setdefault(m.request_id, []).append(m)
        return out

    async def _rows_of(self, tx: Tx, rids: Iterable[str], column: str = "request_id") -> list[RequestRow]:
        out = []
        for chunk in chunks(rids):
            out += [row_of(r) for r in await tx.fetch(
                f"SELECT data FROM mall_requests WHERE {column} IN {in_list(len(chunk))}", *chunk)]
        return out

    async def _journeys(self, tx: Tx, parents: set[str], known: dict[str, list[SlaMark]]) -> list[RequestRow]:
        if not parents:
            return []
        lacking = [p for p in parents if p not in known]
        known = {**known, **await self._marks_of(tx, lacking)}
        children: dict[str, list[RequestRow]] = {}
        for row in await self._rows_of(tx, parents, "parent_request_id"):
            if row.kind == "request" and row.parent_request_id:
                children.setdefault(row.parent_request_id, []).append(row)
        out = []
        for parent in sorted(parents):
            journey = journey_row(parent, children.get(parent, []), known.get(parent, ()))
            if journey is not None:
                out.append(journey)
        return out

    # ------------------------------------------------------------------ reading ------------------------
    async def get(self, request_id: str) -> RequestRow | None:
        found = await self.db.fetch("SELECT data FROM mall_requests WHERE request_id = ?", request_id)
        return row_of(found[0]) if found else None

    async def steps(self, request_id: str) -> list[Step]:
        found = await self.db.fetch(f"{STEP_SELECT} WHERE request_id = ?", request_id)
        return sorted((step_of(r)[1] for r in found), key=lambda s: s.order)

    async def children(self, parent_id: str) -> list[RequestRow]:
        found = await self.db.fetch("SELECT data FROM mall_requests WHERE parent_request_id = ? "
                                    "ORDER BY submitted_ms, request_id", parent_id)
        return [row_of(r) for r in found]

    async def rows(self) -> list[RequestRow]:
        return [row_of(r) for r in await self.db.fetch("SELECT data FROM mall_requests ORDER BY request_id")]

    async def page(self, query: Query) -> Page:
        column, op, direction = ORDERS[query.order]
        where: list[str] = ["1 = 1"]
        args: list[Any] = []
        for col, value in (("agency", query.agency), ("service_code", query.service),
                           ("region_code", query.village), ("kecamatan_code", query.kecamatan),
                           ("kind", query.kind), ("next_actor", query.actor),
                           ("parent_request_id", query.parent),
                           ("status", query.status.value if query.status else None)):
            if value is not None:
                where.append(f"{col} = ?")
                args.append(value)
        if query.sla is not None:
            where.append("is_active = 1 AND sla = ?")
            args.append(query.sla)
        if query.open is not None:
            where.append("is_open = ?")
            args.append(int(query.open))
        if query.updated_since is not None:
            where.append("updated_ms >= ?")
            args.append(ms(query.updated_since))
        if query.cursor:
            key, rid = decode_cursor(query.order, query.cursor)
            where.append(f"({column}, request_id) {op} (?, ?)")
            args += [key, rid]
        found = await self.db.fetch(
            f"SELECT data FROM mall_requests WHERE {' AND '.join(where)} "
            f"ORDER BY {column} {direction}, request_id {direction} LIMIT ?", *args, query.limit + 1)
        rows = [row_of(r) for r in found]
        more = len(rows) > query.limit
        rows = rows[:query.limit]
        return Page(rows, encode_cursor(query.order, rows[-1]) if more and rows else None)

    async def summary(self, now: datetime, *, agency: str | None = None, window_days: int = 30,
                      breakdowns: bool = True) -> Summary:
        scope, args = ("", ()) if agency is None else (" AND agency = ?", (agency,))
        today = ms(today_start(now))
        c = (await self.db.fetch(COUNTS + scope, today, today, *args))[0]
        counts = Counts(*(int(v or 0) for v in c[1:]))
        oldest = await self.db.fetch(
            "SELECT request_id, submitted_ms FROM mall_requests WHERE kind = 'request' AND is_open = 1 AND "
            f"next_actor = 'agency'{scope} ORDER BY submitted_ms, request_id LIMIT 1", *args)
        leads = await self.db.fetch("SELECT lead_days, lead_ratio FROM mall_requests "
                                    f"WHERE kind = 'request' AND finished_ms >= ?{scope}",
                                    ms(window_start(now, window_days)), *args)
        when = from_ms(oldest[0][1]) if oldest else None
        result = Summary(agency, now, counts, (oldest[0][0], when) if oldest and when else None,
                         lead_of((r[0], r[1]) for r in leads))
        if breakdowns:
            for target, key, name in ((result.by_agency, "agency", "agency_name"),
                                      (result.by_service, "service_code", "service_name"),
                                      (result.by_kecamatan, "kecamatan_code", "kecamatan_name")):
                groups = await self.db.fetch(
                    f"SELECT {key}, MIN({name}), SUM(is_open), SUM({AT_RISK}), SUM({BREACHED}) "
                    f"FROM mall_requests WHERE kind = 'request'{scope} GROUP BY {key}", *args)
                found = [Breakdown(g[0], g[1], int(g[2] or 0), int(g[3] or 0), int(g[4] or 0))
                         for g in groups]
                target.extend(sorted((b for b in found if b.open or b.at_risk or b.breached),
                                     key=lambda b: (-b.breached, -b.at_risk, -b.open, b.key)))
        return result

    async def last_seq(self) -> int:
        found = await self.db.fetch("SELECT MAX(seq) FROM mall_steps")
        return int(found[0][0] or 0) if found else 0

    async def seq_at(self, partition: int, offset: int) -> int | None:
        found = await self.db.fetch("SELECT seq FROM mall_steps WHERE part = ? AND offs = ?", partition,
                                    offset)
        return int(found[0][0]) if found else None

    async def stream_after(self, seq: int, limit: int = 500) -> list[StreamEvent]:
        found = await self.db.fetch(
            f"SELECT {', '.join('s.' + c for c in STEP_COLUMNS)}, r.data "
            f"FROM mall_steps s JOIN mall_requests r "
            f"ON r.request_id = s.request_id WHERE s.seq > ? ORDER BY s.seq LIMIT ?", seq, limit)
        out = []
        for r in found:
            _, step = step_of(r)
            out.append(StreamEvent.of(info_from_row(row_of(r[len(STEP_COLUMNS):])), step))
        return out

    async def _disclosures(self, where: str, *args: Any) -> list[Disclosure]:
        found = await self.db.fetch(f"{DISCLOSURE_SELECT} WHERE {where}{DISCLOSURE_ORDER}", *args)
        return [disclosure_of(r) for r in found]

    async def disclosures(self, citizen_ref: str) -> list[Disclosure]:
        return await self._disclosures("citizen_ref = ?", citizen_ref)

    async def request_disclosures(self, request_id: str) -> list[Disclosure]:
        return await self._disclosures("request_id = ?", request_id)

    async def breach_scope(self, recipient: str, start: datetime, end: datetime) -> list[Disclosure]:
        return await self._disclosures("recipient = ? AND recorded_ms >= ? AND recorded_ms < ?", recipient,
                                       ms(start), ms(end))


def database_of(settings: Settings) -> str:
    """The view's database: ``settings.mall_database``, else a SQLite file in the worker data folder."""
    if settings.mall_database is not None:
        return settings.mall_database.get_secret_value()
    return f"sqlite:{settings.worker_data_dir / 'mall.sqlite'}"


def open_store(settings: Settings) -> SqlViewStore:
    """The store these settings name (``postgresql://...`` or ``sqlite:<path>``); ``await store.open()``."""
    url = database_of(settings)
    if url.startswith(("postgresql://", "postgres://")):
        from hub.mall.postgres import PostgresDriver

        return SqlViewStore(PostgresDriver(url))
    from hub.mall.sqlite import SqliteDriver

    return SqlViewStore(SqliteDriver(url.removeprefix("sqlite:")))

