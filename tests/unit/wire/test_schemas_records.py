"""Reference records (service catalogue, regions) and the dead-letter record against their schemas."""

from __future__ import annotations

import io
import json
from datetime import UTC, datetime

import pytest
from fastavro import parse_schema, schemaless_reader, schemaless_writer

from hub.core import catalogue, regions
from hub.core.reference import region_records, service_entries
from hub.settings import REPO_ROOT
from hub.wire import cloudevents as ce
from hub.wire.deadletter import Origin, dead_letter_headers
from hub.wire.schemas import DeadLetter, from_record, schema_files, schema_of, to_record

SCHEMAS = REPO_ROOT / "schemas"
T0 = datetime(2026, 3, 2, 2, 0, tzinfo=UTC)


def _round_trip(model):  # type: ignore[no-untyped-def]
    parsed = parse_schema(schema_of(type(model), SCHEMAS))
    buffer = io.BytesIO()
    schemaless_writer(buffer, parsed, to_record(model))
    buffer.seek(0)
    return from_record(type(model), schemaless_reader(buffer, parsed, None))


def test_the_whole_catalogue_and_region_list_fit_their_schemas():
    for record in (*service_entries(), *region_records()):
        assert _round_trip(record) == record
    assert [e.code for e in service_entries()] == [s.code for s in catalogue.services()]
    assert len(region_records()) == 1 + len(regions.kecamatan()) + len(regions.villages())
    entry = next(e for e in service_entries() if e.code == "DUKCAPIL_KTP_EL")
    assert (entry.sla_working_days, set(entry.personal_data)) == (1, {"nik", "kk_number", "name"})


def test_dead_letter_record_describes_the_headers_the_hub_writes():
    headers = dead_letter_headers(
        ValueError("citizen.nik: bad"), Origin("hub.intake.v1", 2, 41), "route",
        ce.to_headers(ce.CloudEvent("e-9", "/smart-kampung/35.10.21.2003", "t", "SK-1", T0)), now=T0)
    letter = DeadLetter.from_headers(headers)
    assert (letter.reason, letter.topic, letter.partition, letter.offset, letter.stage, letter.time) == (
        "internal_error", "hub.intake.v1", 2, 41, "route", T0)
    assert (letter.error, letter.ce_id, letter.ce_source) == \
        ("citizen.nik: bad", "e-9", "/smart-kampung/35.10.21.2003")
    written = {k.removeprefix("dlq_") for k, _ in headers if k.startswith("dlq_")}
    documented = {f["name"] for f in schema_of(DeadLetter, SCHEMAS)["fields"]} - \
        {"ce_id", "ce_source", "ce_type"}
    assert written == documented, "DeadLetter.avsc and hub.wire.deadletter disagree on the dlq_* headers"
    assert _round_trip(letter) == letter


def test_schema_files_are_named_after_their_record(tmp_path):
    (tmp_path / "x.Wrong.avsc").write_text(json.dumps({"type": "record", "name": "Right", "namespace": "x",
                                                        "fields": []}))
    with pytest.raises(ValueError, match="name the file x.Right.avsc"):
        schema_files(tmp_path)
