"""Codec framing without a registry: exact bytes and the errors for records that are not ours."""

from __future__ import annotations

import io
import struct

import pytest
from fastavro import parse_schema, schemaless_reader

from hub.core.models import RequestLifecycleEvent
from hub.settings import Settings
from hub.simulator import village_requests
from hub.wire.codec import Codec, Encoder, MalformedAvro, NotConfluentFramed, load_schema, subject_for

SCHEMA = load_schema(Settings().schemas_dir, RequestLifecycleEvent.SCHEMA)


def test_confluent_framing_is_magic_zero_then_big_endian_id_then_avro():
    event = next(village_requests(1, seed=1))
    data = Encoder(0x01020304, SCHEMA)(event.to_avro())
    assert data[:5] == b"\x00\x01\x02\x03\x04"
    body = schemaless_reader(io.BytesIO(data[5:]), parse_schema(SCHEMA), None)
    assert RequestLifecycleEvent.from_avro(body) == event


def test_subject_follows_topic_record_name_strategy():
    assert subject_for("mpp.feed.v1", RequestLifecycleEvent.SCHEMA) == \
        "mpp.feed.v1-id.go.banyuwangikab.hub.RequestLifecycleEvent"


class _NoRegistry:
    def schema(self, schema_id: int) -> str:  # pragma: no cover - must not be reached
        raise AssertionError("framing errors must be found before any registry look-up")


@pytest.mark.parametrize("data, message", [
    (b"", "shorter than the 5-byte header"),
    (b"\x00\x00\x01", "3 bytes is shorter"),
    (b"\x7b\x00\x00\x00\x01rest", "magic byte is 123, expected 0"),
])
def test_records_not_in_the_wire_format_are_refused_with_a_reason(data, message):
    with pytest.raises(NotConfluentFramed, match=message):
        Codec(_NoRegistry()).decode(data)  # type: ignore[arg-type]


def test_truncated_or_padded_avro_is_malformed():
    event = next(village_requests(1, seed=2))
    encoder = Encoder(9, SCHEMA)
    codec = Codec(_NoRegistry())  # type: ignore[arg-type]
    codec._writers[9] = (encoder.record_name, parse_schema(SCHEMA))
    data = encoder(event.to_avro())
    assert RequestLifecycleEvent.from_avro(codec.decode(data).record) == event
    with pytest.raises(MalformedAvro, match="schema id 9"):
        codec.decode(data[:-7])
    with pytest.raises(MalformedAvro, match="2 trailing bytes"):
        codec.decode(data + b"\x00\x00")


def test_schema_header_is_struct_packed():
    assert struct.pack(">BI", 0, 42) == b"\x00\x00\x00\x00\x2a"
