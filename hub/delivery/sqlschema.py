"""The subscription store's tables, and rows to records and back (pure).

Times are stored as integer milliseconds since the epoch, JSON (filters, personal field names) as text.
``deliveries`` is unique on (endpoint, ce_source, ce_id): reading a record again after a crash finds the
delivery it already made. Partial indexes serve the scheduler's questions and stay small: what falls
due for one endpoint (scheduled ones), what a fifo request waits on (held ones), the backlog (unresolved
ones); what is old enough to purge goes by ``created_at`` and ``attempts.at``. Only the auto-increment
key differs between SQLite and PostgreSQL.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from typing import Any

from hub.delivery.filters import Filters
from hub.delivery.model import Attempt, Delivery, Endpoint, EndpointStatus, Mode, State

SCHEMA_VERSION = "1"
CHUNK = 400


def schema(dialect: str) -> list[str]:
    autoid = "INTEGER PRIMARY KEY AUTOINCREMENT" if dialect == "sqlite" else "BIGSERIAL PRIMARY KEY"
    return [
        "CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL)",
        """CREATE TABLE IF NOT EXISTS endpoints (
            id TEXT PRIMARY KEY, agency TEXT NOT NULL, url TEXT NOT NULL, secret TEXT NOT NULL,
            filters TEXT NOT NULL, mode TEXT NOT NULL, rate_limit DOUBLE PRECISION, description TEXT NOT NULL,
            status TEXT NOT NULL, disabled_reason TEXT, previous_secret TEXT, previous_until BIGINT,
            failing_since BIGINT, created_at BIGINT NOT NULL, updated_at BIGINT NOT NULL)""",
        """CREATE TABLE IF NOT EXISTS deliveries (
            id TEXT PRIMARY KEY, endpoint_id TEXT NOT NULL, agency TEXT NOT NULL,
            request_id TEXT NOT NULL, ce_source TEXT NOT NULL, ce_id TEXT NOT NULL, ce_type TEXT NOT NULL,
            seq BIGINT NOT NULL, topic TEXT NOT NULL, partition_no INTEGER NOT NULL,
            offset_no BIGINT NOT NULL, state TEXT NOT NULL, attempts INTEGER NOT NULL,
            round_start INTEGER NOT NULL, next_at BIGINT, created_at BIGINT NOT NULL,
            updated_at BIGINT NOT NULL, last_status INTEGER, last_error TEXT, payload TEXT,
            personal TEXT NOT NULL, UNIQUE (endpoint_id, ce_source, ce_id))""",
        # Partial indexes: a delivery delivered at the first attempt never enters ``deliveries_held`` and
        # leaves ``deliveries_unresolved`` with its outcome (queries name the states as literals, so that
        # SQLite's planner sees the index predicate holds).
        "CREATE INDEX IF NOT EXISTS deliveries_due ON deliveries (endpoint_id, next_at) "
        "WHERE state = 'scheduled'",
        "CREATE INDEX IF NOT EXISTS deliveries_unresolved ON deliveries (endpoint_id, state, created_at) "
        "WHERE state IN ('held', 'scheduled', 'sending')",
        "CREATE INDEX IF NOT EXISTS deliveries_held ON deliveries (endpoint_id, request_id, seq) "
        "WHERE state = 'held'",
        "CREATE INDEX IF NOT EXISTS deliveries_created ON deliveries (created_at)",
        f"""CREATE TABLE IF NOT EXISTS attempts (
            id {autoid}, delivery_id TEXT NOT NULL, endpoint_id TEXT NOT NULL, event_id TEXT NOT NULL,
            attempt INTEGER NOT NULL, at BIGINT NOT NULL, status_code INTEGER, duration_ms INTEGER NOT NULL,
            outcome TEXT NOT NULL, error_class TEXT, response TEXT, next_at BIGINT)""",
        "CREATE INDEX IF NOT EXISTS attempts_delivery ON attempts (delivery_id, attempt)",
        "CREATE INDEX IF NOT EXISTS attempts_at ON attempts (at)",
        """CREATE TABLE IF NOT EXISTS sequences (
            endpoint_id TEXT NOT NULL, request_id TEXT NOT NULL, last BIGINT NOT NULL,
            updated_at BIGINT NOT NULL, PRIMARY KEY (endpoint_id, request_id))""",
        """CREATE TABLE IF NOT EXISTS offsets (
            grp TEXT NOT NULL, topic TEXT NOT NULL, partition_no INTEGER NOT NULL,
            next_offset BIGINT NOT NULL, updated_at BIGINT NOT NULL,
            PRIMARY KEY (grp, topic, partition_no))""",
        f"""CREATE TABLE IF NOT EXISTS notices (
            id {autoid}, agency TEXT NOT NULL, endpoint_id TEXT NOT NULL, kind TEXT NOT NULL,
            message TEXT NOT NULL, at BIGINT NOT NULL)""",
        "CREATE INDEX IF NOT EXISTS notices_agency ON notices (agency, at)",
    ]


def ms(seconds: float | None) -> int | None:
    return None if seconds is None else int(round(seconds * 1000))


def sec(millis: int | None) -> float | None:
    return None if millis is None else millis / 1000


def marks(n: int) -> str:
    return ",".join("?" * n)


def chunks(items: Sequence[Any]) -> Iterable[Sequence[Any]]:
    for i in range(0, len(items), CHUNK):
        yield items[i:i + CHUNK]


ENDPOINT_COLUMNS = ("id, agency, url, secret, filters, mode, rate_limit, description, status, "
                    "disabled_reason, previous_secret, previous_until, failing_since, created_at, updated_at")
ENDPOINT_TIMES = ("previous_until", "failing_since", "created_at", "updated_at")
ENDPOINT_FIELDS = frozenset(ENDPOINT_COLUMNS.replace(" ", "").split(",")) - {"id", "created_at", "updated_at"}


def endpoint_row(e: Endpoint) -> tuple[Any, ...]:
    return (e.id, e.agency, e.url, e.secret, json.dumps(e.filters.to_dict()), e.mode.value, e.rate_limit,
            e.description, e.status.value, e.disabled_reason, e.previous_secret, ms(e.previous_until),
            ms(e.failing_since), ms(e.created_at), ms(e.updated_at))


def endpoint(row: Sequence[Any]) -> Endpoint:
    (id_, agency, url, secret, filters, mode, rate, description, status, reason, previous, previous_until,
     failing_since, created, updated) = row
    return Endpoint(id=id_, agency=agency, url=url, secret=secret,
                    filters=Filters.from_dict(json.loads(filters)), mode=Mode(mode), rate_limit=rate,
                    description=description, status=EndpointStatus(status), disabled_reason=reason,
                    previous_secret=previous, previous_until=sec(previous_until),
                    failing_since=sec(failing_since), created_at=sec(created) or 0.0,
                    updated_at=sec(updated) or 0.0)


def field_value(name: str, value: Any) -> Any:
    if name in ENDPOINT_TIMES:
        return ms(value)
    if name == "filters":
        return json.dumps(value.to_dict())
    if name in ("mode", "status"):
        return str(value.value if hasattr(value, "value") else value)
    return value


DELIVERY_COLUMNS = ("id, endpoint_id, agency, request_id, ce_source, ce_id, ce_type, seq, topic, "
                    "partition_no, offset_no, state, attempts, round_start, next_at, created_at, "
                    "updated_at, last_status, last_error, payload, personal")


def delivery_row(d: Delivery) -> tuple[Any, ...]:
    return (d.id, d.endpoint_id, d.agency, d.request_id, d.ce_source, d.ce_id, d.ce_type, d.seq, d.topic,
            d.partition, d.offset, d.state.value, d.attempts, d.round_start, ms(d.next_at), ms(d.created_at),
            ms(d.updated_at), d.last_status, d.last_error, d.payload, json.dumps(list(d.personal)))


def delivery(row: Sequence[Any]) -> Delivery:
    (id_, endpoint_id, agency, request_id, ce_source, ce_id, ce_type, seq, topic, partition, offset, state,
     attempts, round_start, next_at, created, updated, last_status, last_error, payload, personal) = row
    return Delivery(id=id_, endpoint_id=endpoint_id, agency=agency, request_id=request_id,
                    ce_source=ce_source, ce_id=ce_id, ce_type=ce_type, seq=int(seq), topic=topic,
                    partition=int(partition), offset=int(offset), state=State(state), attempts=int(attempts),
                    round_start=int(round_start), next_at=sec(next_at), created_at=sec(created) or 0.0,
                    updated_at=sec(updated) or 0.0,
                    last_status=last_status, last_error=last_error, payload=payload,
                    personal=tuple(json.loads(personal)))


ATTEMPT_COLUMNS = ("delivery_id, endpoint_id, event_id, attempt, at, status_code, duration_ms, outcome, "
                   "error_class, response, next_at")


def attempt_row(a: Attempt) -> tuple[Any, ...]:
    return (a.delivery_id, a.endpoint_id, a.event_id, a.attempt, ms(a.at), a.status_code, a.duration_ms,
            a.outcome, a.error_class, a.response, ms(a.next_at))


def attempt(row: Sequence[Any]) -> Attempt:
    (delivery_id, endpoint_id, event_id, attempt, at, status, duration, outcome, error, response,
     next_at) = row
    return Attempt(delivery_id=delivery_id, endpoint_id=endpoint_id, event_id=event_id, attempt=int(attempt),
                   at=sec(at) or 0.0, status_code=status, duration_ms=int(duration), outcome=outcome,
                   error_class=error, response=response, next_at=sec(next_at))
