"""(b) SQL outbox integration (Debezium outbox style) for agencies whose systems only talk SQL.

The agency's database gets two tables (``DDL``, installed by the connector if missing):

* ``hub_inbox``: the requests the hub routes to the agency, upserted by the connector as they arrive
  on the agency topic (only the personal fields the agency's service needs, as the hub minimised them);
* ``hub_outbox``: the agency writes its business row *and* a ``hub_outbox`` row in one transaction
  (``request_id``, ``native_status``, ``occurred_at``, optional ``note``/``service_code``/``region_code``).

The poller takes unpublished rows in id order (``FOR UPDATE SKIP LOCKED``, so two pollers never take
the same row), translates them (``hub.connectors.agency.translate``), commits the events to the
connector's durable outbox and marks the rows ``published_at`` in the same database transaction that
locked them. A row that cannot be translated gets ``error`` (field + reason) and is skipped, so one
bad row never blocks the queue. The event id comes from the row id: re-reading a row after a crash
gives the same event (harmless). PostgreSQL via asyncpg.
"""

from __future__ import annotations

import asyncio
import logging

import asyncpg
from pydantic import ValidationError as PydanticError

from hub.backoff import RECONNECT_MAX, RECONNECT_START, Backoff
from hub.connectors.agency import AgencyConnector, NativeUpdate, occurred, translate
from hub.connectors.village_desk import errors_of
from hub.core.errors import ValidationError, ValidationErrors
from hub.core.models import RequestLifecycleEvent

log = logging.getLogger(__name__)

DDL = """
CREATE TABLE IF NOT EXISTS hub_inbox (
    request_id   text PRIMARY KEY,
    service_code text NOT NULL,
    region_code  text NOT NULL,
    status       text NOT NULL,
    event_id     text NOT NULL,
    occurred_at  timestamptz NOT NULL,
    citizen      jsonb,
    received_at  timestamptz NOT NULL DEFAULT now()
);
CREATE TABLE IF NOT EXISTS hub_outbox (
    id            bigserial PRIMARY KEY,
    request_id    text NOT NULL,
    native_status text NOT NULL,
    occurred_at   timestamptz NOT NULL DEFAULT now(),
    note          text,
    service_code  text,
    region_code   text,
    created_at    timestamptz NOT NULL DEFAULT now(),
    published_at  timestamptz,
    error         text
);
CREATE INDEX IF NOT EXISTS hub_outbox_unpublished ON hub_outbox (id)
    WHERE published_at IS NULL AND error IS NULL;
"""

UPSERT_INBOX = """
INSERT INTO hub_inbox (request_id, service_code, region_code, status, event_id, occurred_at, citizen)
VALUES ($1, $2, $3, $4, $5, $6, $7::jsonb)
ON CONFLICT (request_id) DO UPDATE SET status = EXCLUDED.status, event_id = EXCLUDED.event_id,
    occurred_at = EXCLUDED.occurred_at, citizen = COALESCE(EXCLUDED.citizen, hub_inbox.citizen)
WHERE hub_inbox.occurred_at <= EXCLUDED.occurred_at
"""

TAKE = """
SELECT id, request_id, native_status, occurred_at, note, service_code, region_code
FROM hub_outbox WHERE published_at IS NULL AND error IS NULL
ORDER BY id LIMIT $1 FOR UPDATE SKIP LOCKED
"""


def update_of(row: asyncpg.Record) -> NativeUpdate:
    """A ``hub_outbox`` row as a NativeUpdate (update id = ``hub_outbox:<id>``)."""
    return NativeUpdate(update_id=f"hub_outbox:{row['id']}", request_id=row["request_id"],
                        native_status=row["native_status"], occurred_at=occurred(row["occurred_at"]),
                        note=row["note"], service_code=row["service_code"], region_code=row["region_code"])


class SqlOutboxPoller:
    """Polls ``hub_outbox`` in the agency's PostgreSQL and fills ``hub_inbox`` from the agency topic."""

    def __init__(self, connector: AgencyConnector, dsn: str, *, batch: int = 200, poll_s: float = 0.5,
                 install_schema: bool = True):
        self.connector = connector
        self.dsn = dsn
        self.batch = batch
        self.poll_s = poll_s
        self.install_schema = install_schema
        self.pool: asyncpg.Pool | None = None
        connector.on_request = self.inbox
        self.published = 0
        self.refused = 0

    async def start(self) -> SqlOutboxPoller:
        self.pool = await asyncpg.create_pool(self.dsn, min_size=1, max_size=2)
        if self.install_schema:
            async with self.pool.acquire() as conn:
                await conn.execute(DDL)
        return self

    async def close(self) -> None:
        if self.pool is not None:
            await self.pool.close()
            self.pool = None

    async def inbox(self, event: RequestLifecycleEvent) -> None:
        assert self.pool is not None, "SqlOutboxPoller.start() first"
        citizen = event.citizen.model_dump_json(exclude_none=True) if event.citizen else None
        await self.pool.execute(UPSERT_INBOX, event.request_id, event.service_code, event.region_code,
                                event.status.value, event.event_id, event.occurred_at, citizen)

    async def poll_once(self) -> tuple[int, int]:
        """One batch: (rows published to the connector's outbox, rows refused with an error)."""
        assert self.pool is not None, "SqlOutboxPoller.start() first"
        async with self.pool.acquire() as conn, conn.transaction():
            rows = await conn.fetch(TAKE, self.batch)
            good: list[tuple[int, NativeUpdate]] = []
            bad: list[tuple[int, str]] = []
            for row in rows:
                try:
                    update = update_of(row)
                    translate(self.connector.profile, update, self.connector.known(update.request_id))
                    good.append((row["id"], update))
                except PydanticError as exc:
                    bad.append((row["id"], str(errors_of(exc))))
                except (ValidationError, ValidationErrors) as exc:
                    bad.append((row["id"], str(exc)))
            if good:
                await asyncio.to_thread(self.connector.accept, [u for _, u in good])
                await conn.execute("UPDATE hub_outbox SET published_at = now() WHERE id = ANY($1::bigint[])",
                                   [i for i, _ in good])
            for row_id, reason in bad:
                log.warning("%s: hub_outbox row %d refused: %s", self.connector.profile.agency, row_id,
                            reason)
                await conn.execute("UPDATE hub_outbox SET error = $2 WHERE id = $1", row_id, reason[:1000])
        self.published += len(good)
        self.refused += len(bad)
        return len(good), len(bad)

    async def run(self, stopping: asyncio.Event) -> None:
        backoff = Backoff(RECONNECT_START, RECONNECT_MAX)
        while not stopping.is_set():
            try:
                if self.pool is None:
                    await self.start()
                published, refused = await self.poll_once()
                backoff.reset()
                if published + refused >= self.batch:
                    continue
            except (OSError, asyncpg.PostgresError, asyncpg.InterfaceError) as exc:
                log.warning("%s: agency database unreachable (%r)", self.connector.profile.agency, exc)
                await self.close()
                await backoff.wait(stopping)
                continue
            try:
                await asyncio.wait_for(stopping.wait(), timeout=self.poll_s)
            except TimeoutError:
                pass


