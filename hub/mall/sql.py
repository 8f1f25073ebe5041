"""The view's SQL, shared by SQLite and PostgreSQL: tables, statements, the summary's definitions in SQL,
and how rows, steps, SLA marks and disclosures become column values and back.

The SQL is the common subset of both databases (``ON CONFLICT``, row values, ``?`` placeholders, which
``hub.mall.postgres`` numbers ``$n``); instants are epoch milliseconds and flags 0/1, so both answer the same.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Iterable, Sequence
from datetime import UTC, datetime
from typing import Any

from hub.core.lifecycle import Status
from hub.core.records import SlaKind, SlaStage
from hub.mall.disclosures import Disclosure
from hub.mall.view import RequestRow, SlaMark, Step

CHUNK = 500  # ids per IN (...) list

DDL = """
CREATE TABLE IF NOT EXISTS mall_requests (
    request_id TEXT PRIMARY KEY, kind TEXT NOT NULL, parent_request_id TEXT, service_code TEXT NOT NULL,
    service_name TEXT NOT NULL, agency TEXT NOT NULL, agency_name TEXT NOT NULL, region_code TEXT NOT NULL,
    kecamatan_code TEXT NOT NULL, kecamatan_name TEXT NOT NULL, status TEXT NOT NULL,
    is_open INTEGER NOT NULL, is_active INTEGER NOT NULL, next_actor TEXT NOT NULL, sla TEXT NOT NULL,
    submitted_ms BIGINT NOT NULL, updated_ms BIGINT NOT NULL, finished_ms BIGINT,
    lead_days DOUBLE PRECISION, lead_ratio DOUBLE PRECISION, data TEXT NOT NULL);
CREATE INDEX IF NOT EXISTS mall_requests_submitted ON mall_requests (submitted_ms, request_id);
CREATE INDEX IF NOT EXISTS mall_requests_agency ON mall_requests (agency, submitted_ms);
CREATE INDEX IF NOT EXISTS mall_requests_parent ON mall_requests (parent_request_id);
CREATE INDEX IF NOT EXISTS mall_requests_finished ON mall_requests (finished_ms);
CREATE TABLE IF NOT EXISTS mall_steps (
    request_id TEXT NOT NULL, step_key TEXT NOT NULL, event_id TEXT NOT NULL, status TEXT NOT NULL,
    native_status TEXT, occurred_ms BIGINT NOT NULL, agency TEXT NOT NULL, source_system TEXT NOT NULL,
    note TEXT, part INTEGER NOT NULL, offs BIGINT NOT NULL, due_ms BIGINT, warn_ms BIGINT,
    citizen_check TEXT, seq BIGINT NOT NULL, PRIMARY KEY (request_id, step_key));
CREATE UNIQUE INDEX IF NOT EXISTS mall_steps_seq ON mall_steps (seq);
CREATE INDEX IF NOT EXISTS mall_steps_position ON mall_steps (part, offs);
CREATE TABLE IF NOT EXISTS mall_sla (
    event_id TEXT PRIMARY KEY, request_id TEXT NOT NULL, stage TEXT NOT NULL, kind TEXT NOT NULL,
    due_ms BIGINT NOT NULL, warn_ms BIGINT NOT NULL, detected_ms BIGINT NOT NULL,
    paused_days INTEGER NOT NULL);
CREATE INDEX IF NOT EXISTS mall_sla_request ON mall_sla (request_id);
CREATE TABLE IF NOT EXISTS mall_disclosures (
    audit_id TEXT NOT NULL, idx INTEGER NOT NULL, citizen_ref TEXT, request_id TEXT NOT NULL,
    service_code TEXT NOT NULL, recipient TEXT NOT NULL, topic TEXT NOT NULL, fields TEXT NOT NULL,
    purpose TEXT NOT NULL, channel TEXT NOT NULL, recorded_ms BIGINT NOT NULL, event_type TEXT NOT NULL,
    PRIMARY KEY (audit_id, idx));
CREATE INDEX IF NOT EXISTS mall_disclosures_ref ON mall_disclosures (citizen_ref, recorded_ms);
CREATE INDEX IF NOT EXISTS mall_disclosures_request ON mall_disclosures (request_id);
CREATE INDEX IF NOT EXISTS mall_disclosures_recipient ON mall_disclosures (recipient, recorded_ms);
CREATE TABLE IF NOT EXISTS mall_offsets (
    topic TEXT NOT NULL, part INTEGER NOT NULL, next_offset BIGINT NOT NULL, PRIMARY KEY (topic, part));
"""
TABLES = ("mall_requests", "mall_steps", "mall_sla", "mall_disclosures", "mall_offsets")


def insert(table: str, columns: tuple[str, ...], conflict: str) -> str:
    return (f"INSERT INTO {table} ({', '.join(columns)}) VALUES ({', '.join('?' * len(columns))}) "
            f"ON CONFLICT {conflict}")


ROW_COLUMNS = ("request_id", "kind", "parent_request_id", "service_code", "service_name", "agency",
               "agency_name", "region_code", "kecamatan_code", "kecamatan_name", "status", "is_open",
               "is_active", "next_actor", "sla", "submitted_ms", "updated_ms", "finished_ms", "lead_days",
               "lead_ratio", "data")
UPSERT_ROW = insert("mall_requests", ROW_COLUMNS, "(request_id) DO UPDATE SET "
                     + ", ".join(f"{c} = excluded.{c}" for c in ROW_COLUMNS[1:]))
STEP_COLUMNS = ("request_id", "step_key", "event_id", "status", "native_status", "occurred_ms", "agency",
                "source_system", "note", "part", "offs", "due_ms", "warn_ms", "citizen_check", "seq")
INSERT_STEP = insert("mall_steps", STEP_COLUMNS, "(request_id, step_key) DO NOTHING")
SLA_COLUMNS = ("event_id", "request_id", "stage", "kind", "due_ms", "warn_ms", "detected_ms", "paused_days")
INSERT_SLA = insert("mall_sla", SLA_COLUMNS, "(event_id) DO NOTHING")
DISCLOSURE_COLUMNS = ("audit_id", "idx", "citizen_ref", "request_id", "service_code", "recipient", "topic",
                      "fields", "purpose", "channel", "recorded_ms", "event_type")
INSERT_DISCLOSURE = insert("mall_disclosures", DISCLOSURE_COLUMNS, "(audit_id, idx) DO NOTHING")
UPSERT_OFFSET = insert("mall_offsets", ("topic", "part", "next_offset"),
                        "(topic, part) DO UPDATE SET next_offset = excluded.next_offset")
STEP_SELECT = f"SELECT {', '.join(STEP_COLUMNS)} FROM mall_steps"
SLA_SELECT = f"SELECT {', '.join(SLA_COLUMNS)} FROM mall_sla"
DISCLOSURE_SELECT = f"SELECT {', '.join(DISCLOSURE_COLUMNS)} FROM mall_disclosures"
DISCLOSURE_ORDER = " ORDER BY recorded_ms, audit_id, idx"

# The summary's definitions (hub.mall.summary) in SQL.
AT_RISK = "CASE WHEN is_active = 1 AND sla = 'at_risk' THEN 1 ELSE 0 END"
BREACHED = "CASE WHEN is_active = 1 AND sla = 'breached' THEN 1 ELSE 0 END"
COUNTS = (f"SELECT COUNT(*), SUM(is_open), SUM(CASE WHEN submitted_ms >= ? THEN 1 ELSE 0 END), "
          f"SUM(CASE WHEN finished_ms >= ? THEN 1 ELSE 0 END), "
          f"SUM(CASE WHEN is_open = 1 AND next_actor = 'agency' THEN 1 ELSE 0 END), "
          f"SUM(CASE WHEN next_actor = 'citizen' THEN 1 ELSE 0 END), SUM({AT_RISK}), SUM({BREACHED}) "
          f"FROM mall_requests WHERE kind = 'request'")
ORDERS = {"oldest": ("submitted_ms", ">", "ASC"), "newest": ("submitted_ms", "<", "DESC"),
          "recent": ("updated_ms", "<", "DESC")}


def ms(value: datetime | None) -> int | None:
    return None if value is None else int(value.timestamp() * 1000)


def from_ms(value: int | None) -> datetime | None:
    return None if value is None else datetime.fromtimestamp(value / 1000, UTC)


class BadCursor(ValueError):
    """A cursor this store did not give out (or for another order)."""


def chunks(values: Iterable[str]) -> Iterable[list[str]]:
    values = sorted(set(values))
    for i in range(0, len(values), CHUNK):
        yield values[i:i + CHUNK]


def in_list(n: int) -> str:
    return f"({', '.join('?' * n)})"


def row_values(row: RequestRow) -> tuple[Any, ...]:
    return (row.request_id, row.kind, row.parent_request_id, row.service_code, row.service_name, row.agency,
            row.agency_name, row.region_code, row.kecamatan_code, row.kecamatan_name, row.status.value,
            int(row.open), int(row.active), row.next_actor.value, row.sla.value, ms(row.submitted_at),
            ms(row.updated_at), ms(row.finished_at), row.lead_working_days, row.lead_ratio,
            json.dumps(row.to_dict(), separators=(",", ":")))


def step_values(request_id: str, s: Step) -> tuple[Any, ...]:
    return (request_id, s.key, s.event_id, s.status.value, s.native_status, ms(s.occurred_at), s.agency,
            s.source_system, s.note, s.partition, s.offset, ms(s.due_at), ms(s.warn_at), s.check, s.seq)


def mark_values(m: SlaMark) -> tuple[Any, ...]:
    return (m.event_id, m.request_id, m.stage.value, m.kind.value, ms(m.due_at), ms(m.warn_at),
            ms(m.detected_at), m.paused_working_days)


def disclosure_values(d: Disclosure) -> tuple[Any, ...]:
    return (d.audit_id, d.index, d.citizen_ref, d.request_id, d.service_code, d.recipient, d.topic,
            ",".join(d.fields), d.purpose, d.channel, ms(d.recorded_at), d.event_type)


def step_of(r: Sequence[Any]) -> tuple[str, Step]:
    occurred = from_ms(r[5])
    assert occurred is not None
    return r[0], Step(r[1], r[2], Status(r[3]), r[4], occurred, r[6], r[7], r[8], r[9], r[10], from_ms(r[11]),
                      from_ms(r[12]), r[13], r[14])


def mark_of(r: Sequence[Any]) -> SlaMark:
    due, warn, detected = from_ms(r[4]), from_ms(r[5]), from_ms(r[6])
    assert due is not None and warn is not None and detected is not None
    return SlaMark(r[0], r[1], SlaStage(r[2]), SlaKind(r[3]), due, warn, detected, r[7])


def disclosure_of(r: Sequence[Any]) -> Disclosure:
    recorded = from_ms(r[10])
    assert recorded is not None
    return Disclosure(r[0], r[1], r[2], r[3], r[4], r[5], r[6], tuple(f for f in r[7].split(",") if f), r[8],
                      r[9], recorded, r[11])


def row_of(r: Sequence[Any]) -> RequestRow:
    return RequestRow.from_dict(json.loads(r[0]))


def encode_cursor(order: str, row: RequestRow) -> str:
    key = ms(row.updated_at if order == "recent" else row.submitted_at)
    return base64.urlsafe_b64encode(json.dumps([order, key, row.request_id]).encode()).decode().rstrip("=")


def decode_cursor(order: str, cursor: str) -> tuple[int, str]:
    try:
        data = json.loads(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))
        kind, key, rid = data
        if kind != order or not isinstance(key, int) or not isinstance(rid, str):
            raise ValueError
        return key, rid
    except Exception:
        raise BadCursor("not a cursor of this list (or of another order)") from None
