"""The view on the real PostgreSQL: the same checks as on SQLite (hub.mall.store's shared SQL), held to the
in-memory replay of engine-generated traffic."""

from __future__ import annotations

import asyncpg

from hub.mall.postgres import PostgresDriver
from hub.mall.store import SqlViewStore
from tests.unit.mall.conftest import SETTINGS, decode
from tests.unit.mall.store_checks import check_replay_summary_and_queries


async def test_postgres_store_equals_the_replay_and_answers_queries(postgres):
    from hub.dev.feed import traffic
    from tests.unit.mall.conftest import NOW

    items = decode(traffic(SETTINGS, seed=11, rate=12.0, duration=20.0, backlog=16, journeys=4, now=NOW))
    admin = await asyncpg.connect(postgres)
    try:
        await admin.execute("DROP DATABASE IF EXISTS mall_view_test")
        await admin.execute("CREATE DATABASE mall_view_test")
    finally:
        await admin.close()
    store = SqlViewStore(PostgresDriver(postgres.rsplit("/", 1)[0] + "/mall_view_test"))
    await store.open()
    try:
        await check_replay_summary_and_queries(store, items)
    finally:
        await store.close()
