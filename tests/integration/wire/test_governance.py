"""Schema governance against the real Apicurio registry: BACKWARD_TRANSITIVE on every subject, compatible
evolutions pass, breaking ones are refused naming the field, old records are read with the new schema."""

from __future__ import annotations

import copy
import json
import shutil

import pytest
from click.testing import CliRunner

from hub.cli import schemas as cli_schemas
from hub.core.models import RequestLifecycleEvent
from hub.dev.simulator import village_requests
from hub.wire.clients import registry as registry_of
from hub.wire.codec import Codec, load_schema, subject_for
from hub.wire.governance import LEVEL, check, register_all, subjects
from hub.wire.registry import RegistryError

NAME = RequestLifecycleEvent.SCHEMA


def _write(directory, schema) -> None:  # type: ignore[no-untyped-def]
    (directory / f"{NAME}.avsc").write_text(json.dumps(schema, indent=2), encoding="utf-8")


def _bad(findings):  # type: ignore[no-untyped-def]
    return {f.subject: f.message for f in findings if not f.ok}


def test_register_sets_backward_transitive_on_every_subject_and_check_passes(make_settings):
    settings = make_settings()
    registry = registry_of(settings)
    done = dict(register_all(registry, settings))
    expected = {s.name for s in subjects(settings)}
    assert set(done) == expected and len(expected) > 20
    assert subject_for(settings.desk_intake_topic("banyuwangi"), NAME) in done
    for subject in (subject_for(settings.desk_intake_topic("banyuwangi"), NAME),
                    "id.go.banyuwangikab.hub.BirthRegistration"):
        assert registry._call("GET", f"/config/{subject}")["compatibilityLevel"] == LEVEL
    findings = check(registry, settings)
    assert _bad(findings) == {} and {f.message for f in findings} == {"unchanged"}


def test_evolution_is_gated_by_field(make_settings, tmp_path):
    shutil.copy(make_settings().schemas_dir / f"{NAME}.avsc", tmp_path)
    settings = make_settings(schemas_dir=tmp_path)  # only the lifecycle schema: isolated topic subjects
    registry = registry_of(settings)
    v1 = load_schema(tmp_path, NAME)
    register_all(registry, settings)
    intake = subject_for(settings.desk_intake_topic("banyuwangi"), NAME)

    # A compatible evolution: a new optional field with a default.
    v2 = copy.deepcopy(v1)
    v2["fields"].append({"name": "channel", "type": ["null", "string"], "default": None,
                         "doc": "How the request reached the hub."})
    _write(tmp_path, v2)
    assert _bad(check(registry, settings)) == {}
    register_all(registry, settings)  # the registry accepts it too
    assert len(registry._call("GET", f"/subjects/{intake}/versions")) == 2

    # A record written with v1 is read with v2.
    codec = Codec(registry_of(settings), register=True)
    event = next(village_requests(1, seed=21))
    data = codec.encoder(settings.desk_intake_topic("banyuwangi"), v1)(event.to_avro())
    codec.reader(v2)
    record = codec.decode(data).record
    assert record.pop("channel") is None and RequestLifecycleEvent.from_avro(record) == event

    # Breaking changes: the gate names the field, the registry refuses to register them.
    changed_type = copy.deepcopy(v2)
    next(f for f in changed_type["fields"] if f["name"] == "note")["type"] = ["null", "long"]
    required = copy.deepcopy(v2)
    required["fields"].append({"name": "priority", "type": "int", "doc": "Queue priority."})
    for schema, field, reason in [(changed_type, "RequestLifecycleEvent.note", "type changed from string to"),
                                  (required, "RequestLifecycleEvent.priority",
                                   "field added without a default")]:
        _write(tmp_path, schema)
        bad = _bad(check(registry, settings))
        assert intake in bad and f"{field}: {reason}" in bad[intake]
        with pytest.raises(RegistryError) as refused:
            registry.register(intake, json.dumps(schema))
        assert refused.value.status == 409

    # Removing a field without a default: Apicurio (like Avro BACKWARD) accepts it, the hub's gate does not.
    removed = copy.deepcopy(v2)
    removed["fields"] = [f for f in removed["fields"] if f["name"] != "source_system"]
    _write(tmp_path, removed)
    assert registry.is_compatible(intake, json.dumps(removed))[0] is True
    bad = _bad(check(registry, settings))
    assert "RequestLifecycleEvent.source_system: field removed although it has no default" in bad[intake]

    # Transitive: compatible with the latest version is not enough, every version counts.
    v3 = copy.deepcopy(v2)
    v3["fields"] = [f for f in v3["fields"] if f["name"] != "channel"]
    _write(tmp_path, v3)
    register_all(registry, settings)  # dropping an optional field is fine
    v4 = copy.deepcopy(v3)
    v4["fields"].append({"name": "channel", "type": "int", "default": 0, "doc": "Channel number."})
    _write(tmp_path, v4)
    bad = _bad(check(registry, settings))
    assert "against version 2: RequestLifecycleEvent.channel: type changed from string to int" in bad[intake]
    assert "against version 3" not in bad[intake]
    with pytest.raises(RegistryError):
        registry.register(intake, json.dumps(v4))  # Apicurio enforces the transitive rule too


def test_cli_check_fails_naming_the_field(make_settings, tmp_path, monkeypatch):
    shutil.copy(make_settings().schemas_dir / f"{NAME}.avsc", tmp_path)
    settings = make_settings(schemas_dir=tmp_path)
    monkeypatch.setattr(cli_schemas, "_settings", lambda: settings)
    runner = CliRunner()
    registered = runner.invoke(cli_schemas.schemas, ["register"])
    assert registered.exit_code == 0, registered.output
    assert runner.invoke(cli_schemas.schemas, ["check"]).exit_code == 0
    broken = copy.deepcopy(load_schema(tmp_path, NAME))
    next(f for f in broken["fields"] if f["name"] == "region_code")["type"] = "int"
    _write(tmp_path, broken)
    failed = runner.invoke(cli_schemas.schemas, ["check"])
    assert failed.exit_code == 1
    assert "RequestLifecycleEvent.region_code: type changed from string to int" in failed.output
