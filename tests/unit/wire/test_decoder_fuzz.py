"""Fuzzing of the intake decoder (issue 11 item 8): whatever bytes and headers a record carries, reading it
either succeeds or raises a :class:`hub.errors.RecordError` -- the only exception the worker dead-letters
as the record's fault. Anything else would be counted as a bug in the hub (``internal_error``), or, before
that existed, stop a partition.

Inputs are drawn around real records (valid frames of simulator events, truncated, extended, with bytes
flipped, with another schema id; CloudEvents headers with each attribute missing, empty, not UTF-8, too
long or of another form) as well as from nothing at all. A registry in memory stands in for Apicurio
(``MemoryRegistry``: an unknown id raises ``SchemaNotFound`` as the real client does).
"""

from __future__ import annotations

import struct
from typing import Any

from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from hub.core.models import RequestLifecycleEvent
from hub.core.records import CitizenNotice
from hub.dev.simulator import village_requests
from hub.errors import RecordError
from hub.settings import Settings
from hub.streams.kafka_io import read_event
from hub.wire import cloudevents as ce
from hub.wire.codec import Codec, Decoded, load_schema
from hub.wire.registry import MemoryRegistry

SETTINGS = Settings()
CODEC = Codec(MemoryRegistry(), register=True)
ENCODE = CODEC.encoder("intake", load_schema(SETTINGS.schemas_dir, RequestLifecycleEvent.SCHEMA))
NOTICE = CODEC.encoder("notices", load_schema(SETTINGS.schemas_dir, CitizenNotice.SCHEMA))
CODEC.reader(load_schema(SETTINGS.schemas_dir, RequestLifecycleEvent.SCHEMA))
EVENTS = list(village_requests(20, seed=8))
FRAMES = [ENCODE(e.to_avro()) for e in EVENTS]
EXAMPLES = 400
FUZZ = settings(max_examples=EXAMPLES, deadline=None, suppress_health_check=list(HealthCheck), database=None)


@st.composite
def frames(draw: st.DrawFn) -> bytes:
    """A record value: a valid frame, changed in one of the ways a broken or hostile writer would."""
    frame = bytearray(draw(st.sampled_from(FRAMES)))
    how = draw(st.sampled_from(["as is", "cut", "extend", "flip", "schema id", "magic", "noise", "splice",
                                "model"]))
    if how == "model":  # well-formed Avro the model refuses (an empty id, a note over its length, ...)
        record = draw(st.sampled_from(EVENTS)).to_avro()
        field, value = draw(st.sampled_from([("event_id", ""), ("request_id", "r" * 129), ("note", "n" * 501),
                                             ("source_system", ""), ("service_code", ""), ("agency", "")]))
        return ENCODE({**record, field: value})
    if how == "cut":
        return bytes(frame[:draw(st.integers(0, len(frame) - 1))])
    if how == "extend":
        return bytes(frame + draw(st.binary(min_size=1, max_size=64)))
    if how == "flip":
        for i in draw(st.lists(st.integers(0, len(frame) - 1), min_size=1, max_size=6)):
            frame[i] ^= 1 << draw(st.integers(0, 7))
        return bytes(frame)
    if how == "schema id":
        schema_id = draw(st.sampled_from([ENCODE.schema_id, NOTICE.schema_id, 0, 2**32 - 1])
                         | st.integers(0, 2**32 - 1))
        return struct.pack(">BI", 0, schema_id) + bytes(frame[5:])
    if how == "magic":
        return bytes([draw(st.integers(1, 255))]) + bytes(frame[1:])
    if how == "noise":
        return draw(st.binary(max_size=300))
    if how == "splice":  # the start of one record, the end of another
        other = draw(st.sampled_from(FRAMES))
        return bytes(frame[:draw(st.integers(5, len(frame)))]) + other[draw(st.integers(5, len(other))):]
    return bytes(frame)


HEADER_VALUES = st.one_of(
    st.none(), st.just(b""), st.binary(max_size=40), st.text(max_size=40).map(lambda t: t.encode()),
    st.sampled_from([b"1.0", b"0.3", b"\xff\xfe", b"2026-01-02T03:04:05Z", b"2026-13-45", b"Z",
                     b"9999-12-31T23:59:59.999+23:59", b"0001-01-01T00:00:00-23:59", b"x" * 300]))
NAMES = st.sampled_from(["ce_id", "ce_source", "ce_type", "ce_specversion", "ce_time", "ce_subject",
                         "traceparent", "content-type", "x-other", ""]) | st.text(max_size=12)


@st.composite
def header_lists(draw: st.DrawFn) -> list[tuple[str, bytes | None]]:
    """Valid CloudEvents headers with some replaced, dropped, doubled or added; or anything at all."""
    event = draw(st.sampled_from(EVENTS))
    meta = ce.CloudEvent(event.event_id, f"/smart-kampung/{event.region_code}", event.CE_TYPE,
                         event.request_id, event.occurred_at)
    base: list[tuple[str, bytes | None]] = list(ce.to_headers(meta))
    if draw(st.booleans()):
        return draw(st.lists(st.tuples(NAMES, HEADER_VALUES), max_size=12))
    for _ in range(draw(st.integers(0, 4))):
        i = draw(st.integers(0, len(base) - 1))
        action = draw(st.sampled_from(["replace", "drop", "double", "add"]))
        if action == "replace":
            base[i] = (base[i][0], draw(HEADER_VALUES))
        elif action == "drop":
            base.pop(i)
        elif action == "double":
            base.append((base[i][0], draw(HEADER_VALUES)))
        else:
            base.append((draw(NAMES), draw(HEADER_VALUES)))
        if not base:
            break
    return base


def _reads_or_refuses(call: Any) -> Any:
    try:
        return call()
    except RecordError:
        return None


@FUZZ
@given(data=frames())
@example(data=b"")
@example(data=b"\x00\x00\x00\x00\x01")
def test_decoding_any_bytes_gives_a_record_or_a_record_error(data: bytes) -> None:
    decoded = _reads_or_refuses(lambda: CODEC.decode(data))
    assert decoded is None or isinstance(decoded, Decoded)


@FUZZ
@given(headers=header_lists())
@example(headers=[("ce_id", None)])
@example(headers=[])
def test_reading_any_cloudevents_headers_gives_an_event_or_a_record_error(headers: list) -> None:
    meta = _reads_or_refuses(lambda: ce.from_headers(headers))
    assert meta is None or isinstance(meta, ce.CloudEvent)


@FUZZ
@given(data=frames(), headers=header_lists(),
       key=st.one_of(st.none(), st.binary(max_size=40),
                     st.sampled_from([e.request_id.encode() for e in EVENTS])))
def test_reading_any_intake_record_gives_an_event_or_a_record_error(data: bytes, headers: list,
                                                                    key: bytes | None) -> None:
    read = _reads_or_refuses(lambda: read_event(CODEC, key, data, headers))
    if read is not None:
        meta, event = read
        assert isinstance(meta, ce.CloudEvent) and isinstance(event, RequestLifecycleEvent)
        assert key == event.request_id.encode()
