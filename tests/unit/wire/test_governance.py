"""The pure Avro backward-compatibility checker behind `hub schemas check`: it names the field at fault."""

from __future__ import annotations

import copy

import pytest

from hub.settings import REPO_ROOT, Settings
from hub.wire.codec import load_schema, subject_for
from hub.wire.governance import backward_problems, removed_fields, subjects
from hub.wire.schemas import schema_files

LIFECYCLE = "id.go.banyuwangikab.hub.RequestLifecycleEvent"
OLD = {"type": "record", "name": "Thing", "namespace": "x", "fields": [
    {"name": "id", "type": "string"},
    {"name": "count", "type": "int"},
    {"name": "kind", "type": {"type": "enum", "name": "Kind", "symbols": ["A", "B"]}},
    {"name": "tags", "type": {"type": "array", "items": "string"}},
    {"name": "at", "type": {"type": "long", "logicalType": "timestamp-millis"}},
]}


def evolve(**changes):  # type: ignore[no-untyped-def]
    new = copy.deepcopy(OLD)
    fields = {f["name"]: f for f in new["fields"]}
    for name, value in changes.items():
        if value is None:
            new["fields"].remove(fields[name])
        elif name in fields:
            fields[name]["type"] = value
        else:
            new["fields"].append(value)
    return new


@pytest.mark.parametrize("new", [
    OLD,
    evolve(extra={"name": "extra", "type": ["null", "string"], "default": None}),
    evolve(count="long"),  # promotion
    evolve(count=["null", "int"]),  # widened to a union that holds the old type
    evolve(tags=None),  # a field the reader no longer wants
    evolve(kind={"type": "enum", "name": "Kind", "symbols": ["A", "B", "C"]}),
    evolve(kind={"type": "enum", "name": "Kind", "symbols": ["A"], "default": "A"}),
])
def test_compatible_evolutions_pass(new):
    assert backward_problems(new, OLD) == []


@pytest.mark.parametrize("new, expected", [
    (evolve(extra={"name": "extra", "type": "string"}),
     "Thing.extra: field added without a default (records written before it cannot be read)"),
    (evolve(id="int"), "Thing.id: type changed from string to int"),
    (evolve(count="string"), "Thing.count: type changed from int to string"),
    (evolve(at="int"), "Thing.at: type changed from long to int"),
    (evolve(tags={"type": "array", "items": "int"}), "Thing.tags[]: type changed from string to int"),
    (evolve(kind={"type": "enum", "name": "Kind", "symbols": ["A"]}),
     "Thing.kind: enum Kind lost symbol(s) B and has no default"),
])
def test_breaking_changes_are_named_by_field(new, expected):
    assert backward_problems(new, OLD) == [expected]


def test_a_nullable_field_made_required_is_refused():
    old = evolve(extra={"name": "extra", "type": ["null", "string"], "default": None})
    new = evolve(extra={"name": "extra", "type": "string", "default": ""})
    assert backward_problems(new, old) == [
        "Thing.extra: null values written by the old schema cannot be read (no longer nullable)"]


def test_nested_fields_of_the_lifecycle_event_are_named_by_path():
    schema = load_schema(REPO_ROOT / "schemas", LIFECYCLE)
    new = copy.deepcopy(schema)
    citizen = next(f for f in new["fields"] if f["name"] == "citizen")["type"][1]
    next(f for f in citizen["fields"] if f["name"] == "nik")["type"] = ["null", "long"]
    status = next(f for f in new["fields"] if f["name"] == "status")["type"]
    status["symbols"].remove("EXPIRED")
    del status["default"]
    assert backward_problems(new, schema) == [
        "RequestLifecycleEvent.status: enum RequestStatus lost symbol(s) EXPIRED and has no default",
        "RequestLifecycleEvent.citizen.nik: type changed from string to [null, long]",
    ]


@pytest.mark.parametrize("name", sorted(schema_files(REPO_ROOT / "schemas")))
def test_every_committed_schema_reads_itself(name):
    schema = load_schema(REPO_ROOT / "schemas", name)
    assert backward_problems(schema, schema) == []


def test_subjects_follow_topic_record_name_strategy_and_cover_every_schema():
    settings = Settings(**{n: f.default for n, f in Settings.model_fields.items() if not f.is_required()})
    found = subjects(settings)
    names = {s.name for s in found}
    assert subject_for(settings.desk_intake_topic("banyuwangi"), LIFECYCLE) in names
    assert subject_for(settings.agency_intake_topic("pln"), LIFECYCLE) in names
    assert subject_for(settings.agency_topic("dukcapil"), LIFECYCLE) in names
    assert "id.go.banyuwangikab.hub.BirthRegistration" in names  # on no topic: RecordNameStrategy
    assert not any(s.name.startswith(settings.topic_dlq) for s in found)  # raw bytes: no subject
    assert {s.record for s in found} == set(schema_files(settings.schemas_dir))


def test_removing_a_field_without_a_default_is_named_although_avro_backward_allows_it():
    assert backward_problems(evolve(count=None), OLD) == []  # Avro BACKWARD (and the registry) accept it
    assert removed_fields(evolve(count=None), OLD) == [
        "Thing.count: field removed although it has no default "
        "(consumers still reading with the old schema fail)"]
    with_default = evolve(extra={"name": "extra", "type": ["null", "string"], "default": None})
    assert removed_fields(OLD, with_default) == []  # a field with a default may go
