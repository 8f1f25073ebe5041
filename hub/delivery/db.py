"""Two SQL databases behind one small async interface: SQLite (stdlib ``sqlite3``) and PostgreSQL (asyncpg).

The store (``hub.delivery.sqlstore``) writes its SQL once, with ``?`` placeholders, in the dialect both
share (``INSERT ... ON CONFLICT``, row values, ``BIGINT``/``TEXT``/``DOUBLE PRECISION``); only the
schema's auto-increment key differs (:attr:`Database.dialect`). PostgreSQL gets ``$1, $2...``.

* :class:`SqliteDatabase`: one connection in WAL mode with ``synchronous=FULL`` (a committed
  transaction survives a crash of the process and of the machine), driven from one dedicated thread so
  the event loop never blocks on the disk; transactions of this process are serialised by a lock, other
  processes (the CLI, the API) wait on ``busy_timeout``.
* :class:`PostgresDatabase`: an asyncpg pool; each transaction on one pooled connection.

Invariant: every statement runs inside :meth:`Database.transaction`; leaving it without an exception
commits, with one rolls back.
"""

from __future__ import annotations

import asyncio
import contextlib
import re
import sqlite3
from collections.abc import AsyncIterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from functools import lru_cache
from pathlib import Path
from typing import Any, Protocol

Row = tuple[Any, ...]
BUSY_TIMEOUT_MS = 10_000
POOL_SIZE = 4


class Tx(Protocol):
    async def execute(self, sql: str, args: Sequence[Any] = ()) -> int: ...
    async def executemany(self, sql: str, rows: Sequence[Sequence[Any]]) -> None: ...
    async def fetch(self, sql: str, args: Sequence[Any] = ()) -> list[Row]: ...


class Database(Protocol):
    dialect: str  # "sqlite" | "postgresql"

    async def open(self) -> None: ...
    async def close(self) -> None: ...
    def transaction(self, *, write: bool = True) -> contextlib.AbstractAsyncContextManager[Tx]: ...


class _SqliteTx:
    """Statements whose result nobody reads (``executemany``) and ``BEGIN`` wait in ``_pending`` and go to
    the database thread together with the next statement that answers (``fetch``, ``execute``) or with
    ``COMMIT``: a journal cycle costs two or three thread hops, not one per statement."""

    def __init__(self, db: SqliteDatabase, begin: str):
        self._db = db
        self._pending: list[tuple[str, Any, bool]] = [(begin, (), False)]  # (sql, args or rows, many)

    def _flush(self, conn: sqlite3.Connection) -> None:
        pending, self._pending = self._pending, []
        for sql, args, many in pending:
            (conn.executemany if many else conn.execute)(sql, args)

    async def _then(self, fn: Any) -> Any:
        def run(conn: sqlite3.Connection) -> Any:
            self._flush(conn)
            return fn(conn)

        return await self._db._run(run)

    async def execute(self, sql: str, args: Sequence[Any] = ()) -> int:
        return int(await self._then(lambda c: c.execute(sql, tuple(args)).rowcount))

    async def executemany(self, sql: str, rows: Sequence[Sequence[Any]]) -> None:
        if rows:
            self._pending.append((sql, [tuple(r) for r in rows], True))

    async def fetch(self, sql: str, args: Sequence[Any] = ()) -> list[Row]:
        return list(await self._then(lambda c: c.execute(sql, tuple(args)).fetchall()))

    async def commit(self) -> None:
        await self._then(lambda c: c.execute("COMMIT"))

    async def rollback(self) -> None:
        self._pending = []
        await self._db._run(lambda c: c.execute("ROLLBACK") if c.in_transaction else None)


class SqliteDatabase:
    dialect = "sqlite"

    def __init__(self, path: Path | str):
        self.path = Path(path)
        self._conn: sqlite3.Connection | None = None
        self._thread = ThreadPoolExecutor(max_workers=1, thread_name_prefix="hub-delivery-sqlite")
        self._lock = asyncio.Lock()

    async def _run(self, fn: Any) -> Any:
        conn = self._conn
        if conn is None:
            raise RuntimeError("SqliteDatabase.open() first")
        return await asyncio.get_running_loop().run_in_executor(self._thread, fn, conn)

    async def open(self) -> None:
        def connect() -> sqlite3.Connection:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            conn = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False)
            conn.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
            conn.execute("PRAGMA journal_mode = WAL")
            conn.execute("PRAGMA synchronous = FULL")
            return conn

        if self._conn is None:
            self._conn = await asyncio.get_running_loop().run_in_executor(self._thread, connect)

    async def close(self) -> None:
        conn, self._conn = self._conn, None
        if conn is not None:
            await asyncio.get_running_loop().run_in_executor(self._thread, conn.close)
        self._thread.shutdown(wait=False)

    @contextlib.asynccontextmanager
    async def transaction(self, *, write: bool = True) -> AsyncIterator[Tx]:
        async with self._lock:
            tx = _SqliteTx(self, "BEGIN IMMEDIATE" if write else "BEGIN")
            try:
                yield tx
            except BaseException:
                await asyncio.shield(tx.rollback())
                raise
            try:
                await tx.commit()
            except BaseException:
                await asyncio.shield(tx.rollback())
                raise


@lru_cache(maxsize=512)
def dollar(sql: str) -> str:
    """``?`` placeholders as PostgreSQL's ``$1, $2...`` (the store's SQL has no ``?`` in literals)."""
    counter = iter(range(1, 100_000))
    return re.sub(r"\?", lambda _: f"${next(counter)}", sql)


class _PgTx:
    def __init__(self, conn: Any):
        self._conn = conn

    async def execute(self, sql: str, args: Sequence[Any] = ()) -> int:
        status = await self._conn.execute(dollar(sql), *args)
        tail = status.rsplit(" ", 1)[-1]
        return int(tail) if tail.isdigit() else 0

    async def executemany(self, sql: str, rows: Sequence[Sequence[Any]]) -> None:
        if rows:
            await self._conn.executemany(dollar(sql), [tuple(r) for r in rows])

    async def fetch(self, sql: str, args: Sequence[Any] = ()) -> list[Row]:
        return [tuple(r) for r in await self._conn.fetch(dollar(sql), *args)]


class PostgresDatabase:
    dialect = "postgresql"

    def __init__(self, dsn: str):
        self._dsn = dsn
        self._pool: Any = None

    async def open(self) -> None:
        import asyncpg

        if self._pool is None:
            self._pool = await asyncpg.create_pool(self._dsn, min_size=1, max_size=POOL_SIZE)

    async def close(self) -> None:
        pool, self._pool = self._pool, None
        if pool is not None:
            await pool.close()

    @contextlib.asynccontextmanager
    async def transaction(self, *, write: bool = True) -> AsyncIterator[Tx]:
        if self._pool is None:
            raise RuntimeError("PostgresDatabase.open() first")
        async with self._pool.acquire() as conn:
            async with conn.transaction(readonly=not write):
                yield _PgTx(conn)
