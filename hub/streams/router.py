"""Shared per-record pieces of the agents, without Faust: reading an intake record, outgoing records,
dead letters.

read: decode (codec) -> CloudEvents headers -> model -> key check. The lifecycle engine
(``hub.streams.engine``) does the rest; the Faust agent in ``hub.streams.app`` only moves records in
and out of Kafka around them.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import pydantic

from hub.core.models import RequestLifecycleEvent
from hub.errors import KeyMismatch, SchemaMismatch, WrongRecord
from hub.settings import Settings
from hub.wire import cloudevents as ce
from hub.wire.codec import Codec
from hub.wire.deadletter import Origin, dead_letter_headers, describe

STAGE = "lifecycle"




@dataclass(frozen=True, slots=True)
class Outgoing:
    topic: str
    audience: str
    key: bytes | None
    value: bytes | None
    headers: list[tuple[str, bytes]]


def read_event(codec: Codec, key: bytes | None, value: bytes | None,
               headers: Sequence[tuple[str, bytes]] | None, *, key_field: str = "request_id",
               ) -> tuple[ce.CloudEvent, RequestLifecycleEvent]:
    """Decode one lifecycle record; raises a :class:`hub.errors.RecordError` naming what is wrong (and no
    other exception: the fuzz tests in tests/unit/wire hold it to that)."""
    decoded = codec.decode(value)
    if decoded.record_name != RequestLifecycleEvent.SCHEMA:
        raise WrongRecord(f"expected {RequestLifecycleEvent.SCHEMA}, got {decoded.record_name}")
    meta = ce.from_headers(headers)
    try:
        event = RequestLifecycleEvent.from_avro(decoded.record)
    except pydantic.ValidationError as exc:  # well-formed Avro the model refuses: the record's fault too
        raise SchemaMismatch(describe(exc)) from exc
    expected = getattr(event, key_field)
    if expected is None or key != expected.encode():
        raise KeyMismatch(f"record key {key!r} is not the {key_field} {expected!r}")
    return meta, event


def dead_letter(settings: Settings, exc: BaseException, key: bytes | None, value: bytes | None,
                headers: Sequence[tuple[str, bytes]] | None, origin: Origin, stage: str = STAGE) -> Outgoing:
    """The original record, untouched, to the dead-letter topic with the reason in headers."""
    return Outgoing(settings.topic_dlq, "dlq", key, value, dead_letter_headers(exc, origin, stage, headers))
