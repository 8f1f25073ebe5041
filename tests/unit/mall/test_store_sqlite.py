"""The view on SQLite (the embedded default), held to the in-memory replay."""

from __future__ import annotations

from hub.mall.sqlite import SqliteDriver
from hub.mall.store import SqlViewStore
from tests.unit.mall.store_checks import check_replay_summary_and_queries


async def test_sqlite_store_equals_the_replay_and_answers_queries(items, tmp_path):
    store = SqlViewStore(SqliteDriver(tmp_path / "mall.sqlite"))
    await store.open()
    try:
        await check_replay_summary_and_queries(store, items)
    finally:
        await store.close()
