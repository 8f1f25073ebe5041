"""Where push delivery keeps what must survive a restart: one interface, SQLite or PostgreSQL behind it.

The store holds endpoints (with their secrets and filters), deliveries (the durable schedule: every parked
delivery with its payload and next attempt time), the attempt log (no payloads: endpoint, event id,
attempt number, time, status code, duration, error class, first 1 KB of the answer, next attempt time;
purged after ``HUB_DELIVERY_RETENTION_DAYS``), per-request sequence numbers, the dispatcher group's
committed offsets, and notices to agencies.

Two protocols:

* :class:`SubscriptionStore`: management and reads (API, CLI, dispatcher's scheduler).
* :class:`Unit`: one transaction of the dispatcher's journal (``async with store.unit() as u``): the
  admission of a batch, outcomes, attempt rows, releases of held deliveries and the input offsets
  commit together or not at all.

:func:`open_store` picks the implementation from ``HUB_DELIVERY_STORE``: ``postgresql://...`` (asyncpg),
``sqlite:///<path>``, or unset (SQLite file ``delivery.sqlite`` in ``HUB_WORKER_DATA_DIR``). Both are
:class:`hub.delivery.sqlstore.SqlStore` over a :mod:`hub.delivery.db` database, and pass the same tests.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

from hub.delivery.model import Attempt, Delivery, Endpoint, Notice, State
from hub.settings import Settings

#: (endpoint id, ce_source, ce_id): a delivery's identity.
Key = tuple[str, str, str]
TP = tuple[str, int]


@dataclass(frozen=True, slots=True)
class Backlog:
    endpoint_id: str
    unresolved: int
    oldest_created_at: float | None


@dataclass(frozen=True, slots=True)
class Page:
    deliveries: list[Delivery]
    next_cursor: str | None


class Unit(Protocol):
    async def find(self, keys: Sequence[Key]) -> dict[Key, Delivery]: ...
    async def reserve(self, counts: dict[tuple[str, str], int], now: float) -> dict[tuple[str, str], int]:
        """Reserve ``n`` sequence numbers per (endpoint id, request id); returns the first of each."""
        ...
    async def insert(self, deliveries: Sequence[Delivery]) -> None: ...
    async def update(self, deliveries: Sequence[Delivery]) -> None:
        """Write the mutable columns (state, attempts, round, next_at, last status/error, payload)."""
        ...
    async def log(self, attempts: Sequence[Attempt]) -> None: ...
    async def release(self, endpoint_id: str, request_id: str, now: float) -> Delivery | None:
        """The request's held delivery with the lowest sequence becomes due now (fifo); None if none."""
        ...
    async def save_offsets(self, group: str, offsets: dict[TP, int], now: float) -> None: ...
    async def set_endpoint(self, endpoint_id: str, now: float, **fields: Any) -> None: ...
    async def notice(self, notice: Notice) -> None: ...


class SubscriptionStore(Protocol):
    async def open(self) -> None: ...
    async def close(self) -> None: ...
    def unit(self) -> contextlib.AbstractAsyncContextManager[Unit]: ...

    # endpoints
    async def add_endpoint(self, endpoint: Endpoint) -> None: ...
    async def get_endpoint(self, endpoint_id: str) -> Endpoint | None: ...
    async def list_endpoints(self, agency: str | None = None) -> list[Endpoint]: ...
    async def update_endpoint(self, endpoint_id: str, now: float, **fields: Any) -> Endpoint | None: ...
    async def remove_endpoint(self, endpoint_id: str) -> bool: ...

    # the dispatcher's scheduler
    async def due(self, endpoint_id: str, partitions: Iterable[int] | None, now: float, limit: int,
                  exclude: Iterable[str] = ()) -> list[Delivery]: ...
    async def earliest(self, endpoint_id: str, partitions: Iterable[int] | None,
                       after: float) -> float | None:
        """The first ``next_at`` after ``after`` of the endpoint's scheduled deliveries."""
        ...
    async def busy_requests(self, endpoint_id: str, partitions: Iterable[int] | None) -> set[str]: ...
    async def offsets(self, group: str, tps: Iterable[TP]) -> dict[TP, int]: ...
    async def backlog(self) -> list[Backlog]: ...
    async def last_notice(self, agency: str) -> float | None: ...

    # deliveries, attempt log, notices
    async def get_delivery(self, delivery_id: str) -> Delivery | None: ...
    async def find_delivery(self, endpoint_id: str, ce_id: str) -> Delivery | None: ...
    async def list_deliveries(self, *, endpoint_id: str | None = None, agency: str | None = None,
                              states: Iterable[State] = (), since: float | None = None,
                              until: float | None = None, limit: int = 100,
                              cursor: str | None = None) -> Page: ...
    async def attempts(self, delivery_id: str) -> list[Attempt]: ...
    async def resend(self, delivery_ids: Sequence[str], now: float) -> int: ...
    async def notices(self, agency: str | None = None, limit: int = 100) -> list[Notice]: ...
    async def purge(self, before: float) -> dict[str, int]: ...


def open_store(settings: Settings) -> SubscriptionStore:
    """The store of these settings (call ``await store.open()`` before use)."""
    from hub.delivery.db import PostgresDatabase, SqliteDatabase
    from hub.delivery.sqlstore import SqlStore

    target = settings.delivery_store.get_secret_value() if settings.delivery_store else ""
    if target.startswith(("postgresql://", "postgres://")):
        return SqlStore(PostgresDatabase(target))
    if target.startswith("sqlite:///"):
        return SqlStore(SqliteDatabase(Path(target[len("sqlite:///"):])))
    if target:
        raise ValueError("HUB_DELIVERY_STORE must be postgresql://..., sqlite:///<path> or unset")
    return SqlStore(SqliteDatabase(Path(settings.worker_data_dir) / "delivery.sqlite"))
