"""The view on PostgreSQL (asyncpg): a small pool for the API's reads, one connection per write transaction.

Statements are written with ``?`` placeholders (the SQL shared with SQLite, ``hub.mall.store``) and numbered
``$1, $2, ...`` here, once per statement text. Several mall processes may read one database; only one may
follow the topics into it (the offsets table has one owner).
"""

from __future__ import annotations

import re
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from functools import lru_cache
from typing import Any

import asyncpg

POOL_MAX = 8
COMMAND_TIMEOUT = 60.0
_MARK = re.compile(r"\?")


@lru_cache(maxsize=512)
def numbered(sql: str) -> str:
    """``?`` placeholders as PostgreSQL's ``$n`` (the shared SQL holds no literal question mark)."""
    counter = iter(range(1, 10_000))
    return _MARK.sub(lambda _m: f"${next(counter)}", sql)


class _Tx:
    def __init__(self, conn: asyncpg.Connection):
        self.conn = conn

    async def execute(self, sql: str, *args: Any) -> None:
        await self.conn.execute(numbered(sql), *args)

    async def executemany(self, sql: str, rows: Sequence[Sequence[Any]]) -> None:
        if rows:
            await self.conn.executemany(numbered(sql), rows)

    async def fetch(self, sql: str, *args: Any) -> Sequence[Sequence[Any]]:
        return await self.conn.fetch(numbered(sql), *args)


class PostgresDriver:
    name = "postgres"

    def __init__(self, dsn: str):
        self.dsn = dsn
        self._pool: asyncpg.Pool | None = None

    async def open(self, ddl: str) -> None:
        self._pool = await asyncpg.create_pool(self.dsn, min_size=1, max_size=POOL_MAX,
                                               command_timeout=COMMAND_TIMEOUT)
        async with self._pool.acquire() as conn:
            await conn.execute(ddl)

    async def close(self) -> None:
        if self._pool is not None:
            await self._pool.close()
            self._pool = None

    async def fetch(self, sql: str, *args: Any) -> Sequence[Sequence[Any]]:
        assert self._pool is not None, "open() first"
        async with self._pool.acquire() as conn:
            return await conn.fetch(numbered(sql), *args)

    @asynccontextmanager
    async def transaction(self) -> AsyncIterator[_Tx]:
        assert self._pool is not None, "open() first"
        async with self._pool.acquire() as conn, conn.transaction():
            yield _Tx(conn)
