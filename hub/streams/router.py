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

from hub.compat import UNREADABLE_HEADER
from hub.core.models import RequestLifecycleEvent
from hub.errors import KeyMismatch, SchemaMismatch, TooLarge, UnreadableRecord, WrongRecord, echo
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


Headers = Sequence[tuple[str, bytes | None]] | None


def record_size(key: bytes | None, value: bytes | None, headers: Headers) -> int:
    """Bytes a record takes on the wire, near enough: key, value, header keys and values."""
    return (len(key or b"") + len(value or b"")
            + sum(len(k) + len(v or b"") for k, v in headers or ()))


def check_readable(headers: Sequence[tuple[str, bytes | None]] | None) -> None:
    """Raise UnreadableRecord for a record the Kafka client could only hand over in part (``hub.compat``)."""
    for name, value in headers or ():
        if name == UNREADABLE_HEADER:
            raise UnreadableRecord(f"a header key of {len(value or b'')} bytes is not UTF-8")


def check_size(key: bytes | None, value: bytes | None, headers: Sequence[tuple[str, bytes | None]] | None,
               limit: int, what: str) -> None:
    """Raise TooLarge when the record is over ``limit`` bytes (``what`` names it in the message)."""
    size = record_size(key, value, headers)
    if size > limit:
        raise TooLarge(f"{what}: {size} bytes, the limit is {limit}")


def check_outputs(outs: Sequence[Outgoing], limit: int) -> None:
    """Every output of one input fits (checked before any is sent, so an input is routed whole or not)."""
    for out in outs:
        check_size(out.key, out.value, out.headers, limit, f"the record for {out.topic}")


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
        raise KeyMismatch(f"record key {echo(key)} is not the {key_field} {echo(expected)}")
    return meta, event


def dead_letter(settings: Settings, exc: BaseException, key: bytes | None, value: bytes | None,
                headers: Sequence[tuple[str, bytes]] | None, origin: Origin, stage: str = STAGE) -> Outgoing:
    """The original record, untouched, to the dead-letter topic with the reason in headers."""
    return Outgoing(settings.topic_dlq, "dlq", key, value, dead_letter_headers(exc, origin, stage, headers))
