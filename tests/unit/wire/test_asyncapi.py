"""The AsyncAPI document is generated from the code's catalogues,
and the committed copy is in step with it."""

from __future__ import annotations

from typing import Any

import yaml
from click.testing import CliRunner

from hub.cli.asyncapi import asyncapi
from hub.wire.asyncapi import AVRO_FORMAT, DOC_PATH, default_settings, document, render
from hub.wire.codec import fullname
from hub.wire.schemas import schema_files
from hub.wire.topics import intake_topics, topic_specs


def _refs(node: Any):  # type: ignore[no-untyped-def]
    if isinstance(node, dict):
        for key, value in node.items():
            if key == "$ref":
                yield value
            else:
                yield from _refs(value)
    elif isinstance(node, list):
        for value in node:
            yield from _refs(value)


def _resolve(doc: dict[str, Any], ref: str) -> Any:
    node: Any = doc
    for part in ref.removeprefix("#/").split("/"):
        node = node[part.replace("~1", "/").replace("~0", "~")]
    return node


def test_the_committed_document_is_what_the_code_generates():
    expected = render(default_settings())
    assert DOC_PATH.read_text(encoding="utf-8") == expected, (
        "docs/asyncapi.yaml is out of date: run `hub asyncapi -o docs/asyncapi.yaml`")


def test_the_document_changes_with_the_topic_catalogue():
    moved = default_settings().model_copy(update={"topic_feed": "mpp.feed.v2"})
    assert render(moved) != render(default_settings())
    assert "mpp.feed.v2" in document(moved)["channels"]


def test_every_topic_is_a_channel_and_every_schema_a_component():
    settings = default_settings()
    doc = yaml.safe_load(render(settings))
    assert doc["asyncapi"] == "3.0.0"
    specs = topic_specs(settings)
    assert set(doc["channels"]) == {s.name for s in specs}
    for spec in specs:
        kafka = doc["channels"][spec.name]["bindings"]["kafka"]
        assert (kafka["topic"], kafka["partitions"], kafka["replicas"]) == \
            (spec.name, spec.partitions, spec.replication)
    components = doc["components"]["schemas"]
    for name, _path in schema_files(settings.schemas_dir).items():
        entry = components[name.rpartition(".")[2]]
        assert entry["schemaFormat"] == AVRO_FORMAT and fullname(entry["schema"]) == name
    for ref in _refs(doc):  # no dangling reference
        _resolve(doc, ref)


def test_messages_carry_cloudevents_headers_and_the_confluent_framing():
    doc = yaml.safe_load(render(default_settings()))
    message = doc["components"]["messages"]["RequestLifecycleEvent"]
    headers = _resolve(doc, message["headers"]["$ref"])
    assert {"ce_id", "ce_source", "ce_type", "ce_specversion", "ce_time", "ce_subject", "content-type",
            "traceparent"} <= set(headers["properties"])
    assert message["x-cloudevents-type"] == "id.go.banyuwangikab.hub.request.lifecycle"
    assert message["bindings"]["kafka"]["schemaIdPayloadEncoding"] == "confluent"
    assert message["bindings"]["kafka"]["schemaLookupStrategy"] == "TopicRecordNameStrategy"
    dead = doc["components"]["messages"]["DeadLetterRecord"]
    assert {"dlq_reason", "dlq_error", "dlq_topic", "dlq_partition", "dlq_offset"} <= set(
        _resolve(doc, dead["headers"]["$ref"])["properties"])
    for intake in intake_topics(default_settings()):
        assert doc["operations"][f"receive-{intake}"]["action"] == "receive"
    assert doc["operations"][f"send-{default_settings().topic_feed}"]["action"] == "send"


def test_cli_prints_and_writes_the_document(tmp_path):
    runner = CliRunner()
    printed = runner.invoke(asyncapi, [])
    assert printed.exit_code == 0 and printed.output == render(default_settings())
    target = tmp_path / "out" / "asyncapi.yaml"
    written = runner.invoke(asyncapi, ["-o", str(target)])
    assert written.exit_code == 0 and target.read_text(encoding="utf-8") == printed.output
