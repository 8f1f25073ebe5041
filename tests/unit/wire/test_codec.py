"""Codec framing without a registry: exact bytes and the errors for records that are not ours."""

from __future__ import annotations

import io
import struct

import pytest
from fastavro import parse_schema, schemaless_reader, schemaless_writer
from hypothesis import given, settings
from hypothesis import strategies as st

from hub.core.models import RequestLifecycleEvent
from hub.dev.simulator import village_requests
from hub.settings import Settings
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
    codec._writers[9] = (encoder.record_name, parse_schema(SCHEMA), SCHEMA)
    data = encoder(event.to_avro())
    assert RequestLifecycleEvent.from_avro(codec.decode(data).record) == event
    with pytest.raises(MalformedAvro, match="schema id 9"):
        codec.decode(data[:-7])
    with pytest.raises(MalformedAvro, match="2 trailing bytes"):
        codec.decode(data + b"\x00\x00")


def test_schema_header_is_struct_packed():
    assert struct.pack(">BI", 0, 42) == b"\x00\x00\x00\x00\x2a"


def _pii_fields(schema) -> set[str]:
    found = set()
    for field in schema["fields"]:
        for branch in field["type"] if isinstance(field["type"], list) else [field["type"]]:
            if isinstance(branch, dict) and branch.get("type") == "record":
                found |= _pii_fields(branch)
        if field.get("pii"):
            found.add(field["name"])
    return found


def test_personal_data_fields_are_the_ones_marked_pii_in_the_schema():
    from hub.core.models import PII_FIELDS, Citizen

    assert _pii_fields(SCHEMA) == set(PII_FIELDS) == set(Citizen.model_fields)


def test_a_fully_populated_event_survives_avro():
    from datetime import UTC, date, datetime

    from hub.core.models import Citizen, Enrichment

    event = next(village_requests(1, seed=3)).model_copy(update={
        "citizen": Citizen(nik="3510214501900001", kk_number="3510210101150002", name="Siti", phone="0812",
                           birth_date=date(1990, 1, 5), address="RT 01 RW 02 Dusun Krajan",
                           bpjs_number="0001234567890", idpel="512345678901"),
        "enrichment": Enrichment(village_name="Ketapang", kecamatan_code="35.10.21",
                                 kecamatan_name="Kalipuro", service_name="KTP-el",
                                 agency_name="Dispendukcapil", sla_working_days=1,
                                 fee_idr=0, due_at=datetime(2026, 12, 1, 16, 59, 59, 999000, tzinfo=UTC),
                                 citizen_ref="ab" * 32),
        "parent_request_id": "J-1", "note": "berkas lengkap"})
    body = Encoder(1, SCHEMA)(event.to_avro())[5:]
    assert RequestLifecycleEvent.from_avro(
        schemaless_reader(io.BytesIO(body), parse_schema(SCHEMA), None)) == event


def test_union_branches_of_records_are_named_for_fastavro():
    from hub.wire.codec import _record_branches

    assert dict(_record_branches(SCHEMA)) == {"citizen": "id.go.banyuwangikab.hub.Citizen",
                                              "enrichment": "id.go.banyuwangikab.hub.Enrichment"}


def test_named_union_branches_write_the_same_bytes_as_plain_fastavro():
    plain = parse_schema(SCHEMA)
    encoder = Encoder(7, SCHEMA)
    events = list(village_requests(50, seed=5))
    enriched = {"village_name": "Tamansuruh", "kecamatan_code": "35.10.14", "kecamatan_name": "Glagah",
                "service_name": "KTP-el", "agency_name": "Dukcapil", "sla_working_days": 3, "fee_idr": 0,
                "due_at": None, "warn_at": None, "citizen_ref": "ab"}
    records = [e.to_avro() for e in events] + [{**e.to_avro(), "enrichment": enriched} for e in events]
    assert any(isinstance(r["citizen"], dict) for r in records), "the branch hint must be exercised"
    for record in records:
        buffer = io.BytesIO()
        schemaless_writer(buffer, plain, record)
        assert encoder.body(record) == buffer.getvalue()
        assert encoder(record) == encoder.frame(encoder.body(record)) == \
            b"\x00\x00\x00\x00\x07" + buffer.getvalue()
        assert record.get("citizen") is None or isinstance(record["citizen"], dict), \
            "the caller's dict is untouched"


def test_a_record_that_does_not_fit_its_named_branch_is_still_refused():
    record = {**next(village_requests(1, seed=2)).to_avro(), "citizen": {"nik": 42}}
    with pytest.raises((ValueError, TypeError)):
        Encoder(1, SCHEMA)(record)


# ------------------------------------------------------------------ parts written once -----------
@settings(max_examples=50)
@given(st.integers(0, 10_000), st.sets(st.sampled_from(["nik", "kk_number", "name", "phone", "address"])))
def test_split_bodies_are_byte_for_byte_the_encoders(seed, kept):
    """Views of one event that differ only in the citizen block: the rest written once, the same bytes."""
    from hub.wire.codec import SplitEncoder

    schema = load_schema(Settings().schemas_dir, RequestLifecycleEvent.SCHEMA)
    record = next(village_requests(1, seed=seed)).to_avro()
    citizen = record["citizen"]
    views = [record, {**record, "citizen": None},
             {**record, "citizen": {k: (v if k in kept else None) for k, v in citizen.items()}}]
    assert SplitEncoder(schema, "citizen").bodies(views) == [Encoder(1, schema).body(v) for v in views]


@given(st.lists(st.tuples(st.sampled_from(["agency:pln", "mpp", "citizen"]),
                          st.lists(st.sampled_from(["nik", "phone", "idpel"]), max_size=3)), max_size=6))
def test_array_tail_encoding_is_byte_for_byte_the_encoders(deliveries):
    """An audit entry with its deliveries written from a cache of items: what fastavro writes."""
    from datetime import UTC, datetime

    from hub.core.records import AuditEntry, audit_delivery, audit_record
    from hub.wire.codec import ArrayTailEncoder

    schema = load_schema(Settings().schemas_dir, AuditEntry.SCHEMA)
    encoder = Encoder(3, schema)
    tail = ArrayTailEncoder(encoder, schema, size=2)  # a tiny cache: refilled while the test runs
    record = audit_record(audit_id="audit/1", request_id="SK-1", event_ce_source="/x", event_ce_id="e",
                          event_type="t", service_code="PLN_TAMBAH_DAYA", citizen_ref=None,
                          recorded_at=datetime(2026, 3, 2, tzinfo=UTC),
                          deliveries=[audit_delivery(a, "topic", f, "why") for a, f in deliveries])
    assert tail(record) == tail(record) == encoder(record)
