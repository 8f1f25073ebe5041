"""The view on SQLite (the embedded default): ``aiosqlite`` runs each connection in its own thread, so the
event loop never waits on the disk.

One connection writes (the follower's batches, ``BEGIN IMMEDIATE`` ... ``COMMIT``), another reads (the API);
WAL mode lets the reader see the last committed batch while the next one is written. ``synchronous=NORMAL``
in WAL mode keeps every committed batch across a process crash (only a power loss may drop the last ones,
and the offsets stored with them make the view re-read exactly those).
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import aiosqlite

BUSY_TIMEOUT_MS = 10_000


class _Tx:
    def __init__(self, conn: aiosqlite.Connection):
        self.conn = conn

    async def execute(self, sql: str, *args: Any) -> None:
        await self.conn.execute(sql, args)

    async def executemany(self, sql: str, rows: Sequence[Sequence[Any]]) -> None:
        if rows:
            await self.conn.executemany(sql, rows)

    async def fetch(self, sql: str, *args: Any) -> Sequence[Sequence[Any]]:
        async with self.conn.execute(sql, args) as cursor:
            return list(await cursor.fetchall())


class SqliteDriver:
    name = "sqlite"

    def __init__(self, path: str | Path):
        self.path = Path(path)
        self._writer: aiosqlite.Connection | None = None
        self._reader: aiosqlite.Connection | None = None
        self._lock = asyncio.Lock()

    async def _connect(self) -> aiosqlite.Connection:
        conn = await aiosqlite.connect(self.path, isolation_level=None)
        await conn.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
        await conn.execute("PRAGMA synchronous = NORMAL")
        return conn

    async def open(self, ddl: str) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._writer = await self._connect()
        await self._writer.execute("PRAGMA journal_mode = WAL")
        await self._writer.executescript(ddl)
        self._reader = await self._connect()

    async def close(self) -> None:
        for conn in (self._reader, self._writer):
            if conn is not None:
                await conn.close()
        self._reader = self._writer = None

    async def fetch(self, sql: str, *args: Any) -> Sequence[Sequence[Any]]:
        assert self._reader is not None, "open() first"
        return await _Tx(self._reader).fetch(sql, *args)

    @asynccontextmanager
    async def transaction(self) -> AsyncIterator[_Tx]:
        assert self._writer is not None, "open() first"
        async with self._lock:
            await self._writer.execute("BEGIN IMMEDIATE")
            try:
                yield _Tx(self._writer)
            except BaseException:
                await self._writer.execute("ROLLBACK")
                raise
            await self._writer.execute("COMMIT")
