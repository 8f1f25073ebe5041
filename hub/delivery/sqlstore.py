"""The subscription store in SQL, once, for SQLite and PostgreSQL (``hub.delivery.db`` adapts the two;
``hub.delivery.sqlschema`` has the tables and the row mapping).

Every method is one transaction. The journal's :class:`_SqlUnit` works inside the transaction the
journal opens, so a cycle's admissions, outcomes and offsets commit together.
"""

from __future__ import annotations

import base64
import contextlib
from collections.abc import AsyncIterator, Iterable, Sequence
from dataclasses import replace
from typing import Any

from hub.delivery.db import Database, Tx
from hub.delivery.model import UNRESOLVED, Attempt, Delivery, Endpoint, Notice, State
from hub.delivery.sqlschema import (
    ATTEMPT_COLUMNS,
    DELIVERY_COLUMNS,
    ENDPOINT_COLUMNS,
    ENDPOINT_FIELDS,
    SCHEMA_VERSION,
    attempt,
    attempt_row,
    chunks,
    delivery,
    delivery_row,
    endpoint,
    endpoint_row,
    field_value,
    marks,
    ms,
    schema,
    sec,
)
from hub.delivery.store import TP, Backlog, Key, Page

#: States as SQL literals: a partial index serves a query only if its planner sees the predicate hold.
SCHEDULED, HELD = f"'{State.SCHEDULED.value}'", f"'{State.HELD.value}'"
UNRESOLVED_SQL = "(" + ", ".join(f"'{s.value}'" for s in sorted(UNRESOLVED)) + ")"


def _partitions(partitions: Iterable[int] | None) -> tuple[str, list[Any]]:
    if partitions is None:
        return "", []
    found = sorted(set(partitions))
    if not found:
        return " AND 1 = 0", []
    return f" AND partition_no IN ({marks(len(found))})", list(found)


class _SqlUnit:
    """One transaction of the journal (see ``hub.delivery.store.Unit``)."""

    def __init__(self, tx: Tx):
        self.tx = tx

    async def find(self, keys: Sequence[Key]) -> dict[Key, Delivery]:
        found: dict[Key, Delivery] = {}
        unique = sorted(set(keys))
        for chunk in chunks(unique):
            rows = await self.tx.fetch(
                f"SELECT {DELIVERY_COLUMNS} FROM deliveries WHERE (endpoint_id, ce_source, ce_id) IN "
                f"({','.join(['(?,?,?)'] * len(chunk))})", [v for key in chunk for v in key])
            for row in rows:
                d = delivery(row)
                found[(d.endpoint_id, d.ce_source, d.ce_id)] = d
        return found

    async def reserve(self, counts: dict[tuple[str, str], int], now: float) -> dict[tuple[str, str], int]:
        pairs = sorted(counts)
        last: dict[tuple[str, str], int] = {}
        for chunk in chunks(pairs):
            rows = await self.tx.fetch(
                f"SELECT endpoint_id, request_id, last FROM sequences WHERE (endpoint_id, request_id) IN "
                f"({','.join(['(?,?)'] * len(chunk))})", [v for pair in chunk for v in pair])
            last.update({(r[0], r[1]): int(r[2]) for r in rows})
        first = {pair: last.get(pair, 0) + 1 for pair in pairs}
        await self.tx.executemany(
            "INSERT INTO sequences (endpoint_id, request_id, last, updated_at) VALUES (?, ?, ?, ?) "
            "ON CONFLICT (endpoint_id, request_id) DO UPDATE SET last = excluded.last, "
            "updated_at = excluded.updated_at",
            [(e, r, first[(e, r)] + counts[(e, r)] - 1, ms(now)) for e, r in pairs])
        return first

    async def insert(self, deliveries: Sequence[Delivery]) -> None:
        await self.tx.executemany(
            f"INSERT INTO deliveries ({DELIVERY_COLUMNS}) VALUES ({marks(21)}) "
            f"ON CONFLICT (endpoint_id, ce_source, ce_id) DO NOTHING", [delivery_row(d) for d in deliveries])

    async def update(self, deliveries: Sequence[Delivery]) -> None:
        await self.tx.executemany(
            "UPDATE deliveries SET state = ?, attempts = ?, round_start = ?, next_at = ?, updated_at = ?, "
            "last_status = ?, last_error = ?, payload = ? WHERE id = ?",
            [(d.state.value, d.attempts, d.round_start, ms(d.next_at), ms(d.updated_at), d.last_status,
              d.last_error, d.payload, d.id) for d in deliveries])

    async def log(self, attempts: Sequence[Attempt]) -> None:
        await self.tx.executemany(f"INSERT INTO attempts ({ATTEMPT_COLUMNS}) VALUES ({marks(11)})",
                                  [attempt_row(a) for a in attempts])

    async def release(self, endpoint_id: str, request_id: str, now: float) -> Delivery | None:
        rows = await self.tx.fetch(
            f"SELECT {DELIVERY_COLUMNS} FROM deliveries WHERE endpoint_id = ? AND request_id = ? "
            f"AND state = {HELD} ORDER BY seq LIMIT 1", [endpoint_id, request_id])
        if not rows:
            return None
        await self.tx.execute("UPDATE deliveries SET state = ?, next_at = ?, updated_at = ? WHERE id = ?",
                              [State.SCHEDULED.value, ms(now), ms(now), rows[0][0]])
        return replace(delivery(rows[0]), state=State.SCHEDULED, next_at=now, updated_at=now)

    async def save_offsets(self, group: str, offsets: dict[TP, int], now: float) -> None:
        await self.tx.executemany(
            "INSERT INTO offsets (grp, topic, partition_no, next_offset, updated_at) VALUES (?, ?, ?, ?, ?) "
            "ON CONFLICT (grp, topic, partition_no) DO UPDATE SET next_offset = excluded.next_offset, "
            "updated_at = excluded.updated_at",
            [(group, topic, partition, offset, ms(now))
             for (topic, partition), offset in sorted(offsets.items())])

    async def set_endpoint(self, endpoint_id: str, now: float, **fields: Any) -> None:
        await _set_endpoint(self.tx, endpoint_id, now, fields)

    async def notice(self, notice: Notice) -> None:
        await self.tx.execute("INSERT INTO notices (agency, endpoint_id, kind, message, at) "
                              "VALUES (?, ?, ?, ?, ?)",
                              [notice.agency, notice.endpoint_id, notice.kind, notice.message, ms(notice.at)])


async def _set_endpoint(tx: Tx, endpoint_id: str, now: float, fields: dict[str, Any]) -> int:
    unknown = set(fields) - ENDPOINT_FIELDS
    if unknown:
        raise ValueError(f"not endpoint fields: {sorted(unknown)}")
    names = sorted(fields)
    assignments = ", ".join(f"{name} = ?" for name in [*names, "updated_at"])
    return await tx.execute(f"UPDATE endpoints SET {assignments} WHERE id = ?",
                            [*(field_value(n, fields[n]) for n in names), ms(now), endpoint_id])


def _cursor(created_ms: int, id_: str) -> str:
    return base64.urlsafe_b64encode(f"{created_ms}|{id_}".encode()).decode()


def _uncursor(cursor: str) -> tuple[int, str]:
    try:
        created, _, id_ = base64.urlsafe_b64decode(cursor.encode()).decode().partition("|")
        return int(created), id_
    except (ValueError, UnicodeDecodeError):
        raise ValueError("cursor: not a cursor this API gave out") from None


class SqlStore:
    """``hub.delivery.store.SubscriptionStore`` over a ``hub.delivery.db.Database``."""

    def __init__(self, db: Database):
        self.db = db

    async def open(self) -> None:
        await self.db.open()
        async with self.db.transaction() as tx:
            for statement in schema(self.db.dialect):
                await tx.execute(statement)
            await tx.execute("INSERT INTO meta (key, value) VALUES ('schema', ?) "
                             "ON CONFLICT (key) DO NOTHING", [SCHEMA_VERSION])

    async def close(self) -> None:
        await self.db.close()

    @contextlib.asynccontextmanager
    async def unit(self) -> AsyncIterator[_SqlUnit]:
        async with self.db.transaction() as tx:
            yield _SqlUnit(tx)

    async def _fetch(self, sql: str, args: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
        async with self.db.transaction(write=False) as tx:
            return await tx.fetch(sql, args)

    # -- endpoints -----------------------------------------------------------------------------------
    async def add_endpoint(self, endpoint: Endpoint) -> None:
        async with self.db.transaction() as tx:
            await tx.execute(f"INSERT INTO endpoints ({ENDPOINT_COLUMNS}) VALUES ({marks(15)})",
                             endpoint_row(endpoint))

    async def get_endpoint(self, endpoint_id: str) -> Endpoint | None:
        rows = await self._fetch(f"SELECT {ENDPOINT_COLUMNS} FROM endpoints WHERE id = ?", [endpoint_id])
        return endpoint(rows[0]) if rows else None

    async def list_endpoints(self, agency: str | None = None) -> list[Endpoint]:
        where, args = (" WHERE agency = ?", [agency]) if agency else ("", [])
        rows = await self._fetch(f"SELECT {ENDPOINT_COLUMNS} FROM endpoints{where} "
                                 f"ORDER BY agency, created_at, id", args)
        return [endpoint(r) for r in rows]

    async def update_endpoint(self, endpoint_id: str, now: float, **fields: Any) -> Endpoint | None:
        async with self.db.transaction() as tx:
            if fields and not await _set_endpoint(tx, endpoint_id, now, fields):
                return None
            rows = await tx.fetch(f"SELECT {ENDPOINT_COLUMNS} FROM endpoints WHERE id = ?", [endpoint_id])
        return endpoint(rows[0]) if rows else None

    async def remove_endpoint(self, endpoint_id: str) -> bool:
        """The endpoint with its deliveries (payloads included), attempt log and sequences."""
        async with self.db.transaction() as tx:
            await tx.execute("DELETE FROM attempts WHERE endpoint_id = ?", [endpoint_id])
            await tx.execute("DELETE FROM deliveries WHERE endpoint_id = ?", [endpoint_id])
            await tx.execute("DELETE FROM sequences WHERE endpoint_id = ?", [endpoint_id])
            return await tx.execute("DELETE FROM endpoints WHERE id = ?", [endpoint_id]) > 0

    # -- the scheduler -------------------------------------------------------------------------------
    async def due(self, endpoint_id: str, partitions: Iterable[int] | None, now: float, limit: int,
                  exclude: Iterable[str] = ()) -> list[Delivery]:
        skip = set(exclude)
        where, args = _partitions(partitions)
        rows = await self._fetch(
            f"SELECT {DELIVERY_COLUMNS} FROM deliveries WHERE endpoint_id = ? AND state = {SCHEDULED} "
            f"AND next_at <= ?{where} ORDER BY next_at, seq LIMIT ?",
            [endpoint_id, ms(now), *args, limit + len(skip)])
        return [d for d in map(delivery, rows) if d.id not in skip][:limit]

    async def earliest(self, endpoint_id: str, partitions: Iterable[int] | None,
                       after: float) -> float | None:
        where, args = _partitions(partitions)
        rows = await self._fetch(f"SELECT MIN(next_at) FROM deliveries WHERE endpoint_id = ? "
                                 f"AND state = {SCHEDULED} AND next_at > ?{where}",
                                 [endpoint_id, ms(after), *args])
        return sec(rows[0][0]) if rows and rows[0][0] is not None else None

    async def busy_requests(self, endpoint_id: str, partitions: Iterable[int] | None) -> set[str]:
        where, args = _partitions(partitions)
        rows = await self._fetch(f"SELECT DISTINCT request_id FROM deliveries WHERE endpoint_id = ? "
                                 f"AND state IN {UNRESOLVED_SQL}{where}", [endpoint_id, *args])
        return {r[0] for r in rows}

    async def offsets(self, group: str, tps: Iterable[TP]) -> dict[TP, int]:
        wanted = set(tps)
        rows = await self._fetch("SELECT topic, partition_no, next_offset FROM offsets WHERE grp = ?",
                                 [group])
        return {(t, int(p)): int(o) for t, p, o in rows if (t, int(p)) in wanted}

    async def backlog(self) -> list[Backlog]:
        rows = await self._fetch(f"SELECT endpoint_id, COUNT(*), MIN(created_at) FROM deliveries "
                                 f"WHERE state IN {UNRESOLVED_SQL} GROUP BY endpoint_id")
        return [Backlog(r[0], int(r[1]), sec(r[2])) for r in rows]

    async def last_notice(self, agency: str) -> float | None:
        rows = await self._fetch("SELECT MAX(at) FROM notices WHERE agency = ?", [agency])
        return sec(rows[0][0]) if rows and rows[0][0] is not None else None

    # -- deliveries, attempts, notices ---------------------------------------------------------------
    async def get_delivery(self, delivery_id: str) -> Delivery | None:
        rows = await self._fetch(f"SELECT {DELIVERY_COLUMNS} FROM deliveries WHERE id = ?", [delivery_id])
        return delivery(rows[0]) if rows else None

    async def find_delivery(self, endpoint_id: str, ce_id: str) -> Delivery | None:
        rows = await self._fetch(f"SELECT {DELIVERY_COLUMNS} FROM deliveries WHERE endpoint_id = ? "
                                 f"AND ce_id = ? ORDER BY created_at LIMIT 1", [endpoint_id, ce_id])
        return delivery(rows[0]) if rows else None

    async def list_deliveries(self, *, endpoint_id: str | None = None, agency: str | None = None,
                              states: Iterable[State] = (), since: float | None = None,
                              until: float | None = None, limit: int = 100,
                              cursor: str | None = None) -> Page:
        clauses: list[str] = []
        args: list[Any] = []
        for column, value in (("endpoint_id", endpoint_id), ("agency", agency)):
            if value is not None:
                clauses.append(f"{column} = ?")
                args.append(value)
        wanted = sorted({State(s).value for s in states})
        if wanted:
            clauses.append(f"state IN ({marks(len(wanted))})")
            args += wanted
        if since is not None:
            clauses.append("created_at >= ?")
            args.append(ms(since))
        if until is not None:
            clauses.append("created_at < ?")
            args.append(ms(until))
        if cursor:
            created, id_ = _uncursor(cursor)
            clauses.append("(created_at > ? OR (created_at = ? AND id > ?))")
            args += [created, created, id_]
        where = f" WHERE {' AND '.join(clauses)}" if clauses else ""
        rows = await self._fetch(f"SELECT {DELIVERY_COLUMNS} FROM deliveries{where} ORDER BY created_at, id "
                                 f"LIMIT ?", [*args, limit + 1])
        found = [delivery(r) for r in rows[:limit]]
        more = len(rows) > limit and found
        return Page(found, _cursor(ms(found[-1].created_at) or 0, found[-1].id) if more else None)

    async def attempts(self, delivery_id: str) -> list[Attempt]:
        rows = await self._fetch(f"SELECT {ATTEMPT_COLUMNS} FROM attempts WHERE delivery_id = ? "
                                 f"ORDER BY attempt, id", [delivery_id])
        return [attempt(r) for r in rows]

    async def resend(self, delivery_ids: Sequence[str], now: float) -> int:
        """Due now, a new round of the schedule (the attempt count goes on). Unresolved ones are left be."""
        unresolved = sorted(s.value for s in UNRESOLVED)
        changed = 0
        async with self.db.transaction() as tx:
            for chunk in chunks(sorted(set(delivery_ids))):
                changed += await tx.execute(
                    f"UPDATE deliveries SET state = ?, next_at = ?, updated_at = ?, round_start = attempts "
                    f"WHERE id IN ({marks(len(chunk))}) AND state NOT IN ({marks(len(unresolved))})",
                    [State.SCHEDULED.value, ms(now), ms(now), *chunk, *unresolved])
        return changed

    async def notices(self, agency: str | None = None, limit: int = 100) -> list[Notice]:
        where, args = (" WHERE agency = ?", [agency]) if agency else ("", [])
        rows = await self._fetch(f"SELECT agency, endpoint_id, kind, message, at FROM notices{where} "
                                 f"ORDER BY at DESC, id DESC LIMIT ?", [*args, limit])
        return [Notice(r[0], r[1], r[2], r[3], sec(r[4]) or 0.0) for r in rows]

    async def purge(self, before: float) -> dict[str, int]:
        """Attempt rows, finished deliveries and notices older than ``before`` (unresolved ones stay)."""
        resolved = sorted({State.DELIVERED.value, State.EXHAUSTED.value, State.SKIPPED.value})
        async with self.db.transaction() as tx:
            attempts = await tx.execute("DELETE FROM attempts WHERE at < ?", [ms(before)])
            deliveries = await tx.execute(f"DELETE FROM deliveries WHERE created_at < ? AND updated_at < ? "
                                          f"AND state IN ({marks(len(resolved))})",
                                          [ms(before), ms(before), *resolved])
            notices = await tx.execute("DELETE FROM notices WHERE at < ?", [ms(before)])
        return {"attempts": attempts, "deliveries": deliveries, "notices": notices}
