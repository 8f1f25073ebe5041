"""The AsyncAPI 3.0 document of the hub, generated from the code's own topic and schema catalogues.

Channels come from :func:`hub.wire.topics.topic_specs` (one per topic, with its Kafka binding: partitions,
replicas, configuration), messages from the records each topic carries, payloads from the ``.avsc`` files
(Avro schema format), headers from the CloudEvents 1.0 Kafka binding (binary mode). Every schema in
``schemas/`` is listed under ``components.schemas``, including the native source events that connectors
translate before intake. ``docs/asyncapi.yaml`` is this document for the default settings (a test keeps
them in step): ``hub asyncapi -o docs/asyncapi.yaml``.
"""

from __future__ import annotations

from typing import Any

import yaml

import hub
from hub.settings import REPO_ROOT, Settings
from hub.wire import cloudevents as ce
from hub.wire.schemas import DeadLetter, catalogue
from hub.wire.topics import TopicSpec, intake_topics, topic_specs

__all__ = ["AVRO_FORMAT", "DOC_PATH", "default_settings", "document", "render"]

AVRO_FORMAT = "application/vnd.apache.avro+json;version=1.9.0"
DOC_PATH = REPO_ROOT / "docs" / "asyncapi.yaml"
BINDING = "0.5.0"
# Topic settings the Kafka binding knows by name; the others go under x-topic-config.
_BINDING_CONFIG = {"cleanup.policy", "retention.ms", "retention.bytes", "delete.retention.ms",
                   "max.message.bytes"}
RAW = "RawRecord"
DEAD = "DeadLetterRecord"


def default_settings() -> Settings:
    """The settings' defaults, whatever the environment says (the committed document uses these)."""
    return Settings(**{name: f.default for name, f in Settings.model_fields.items() if not f.is_required()})


def _short(full: str) -> str:
    return full.rpartition(".")[2]


def _ce_headers() -> dict[str, Any]:
    return {
        "type": "object",
        "description": "CloudEvents 1.0, Kafka protocol binding, binary content mode, plus W3C trace "
                       "context. ce_source + ce_id identify an event: consumers deduplicate on them "
                       "(delivery is at least once).",
        "required": ["ce_specversion", "ce_id", "ce_source", "ce_type"],
        "properties": {
            "ce_specversion": {"type": "string", "const": ce.SPECVERSION},
            "ce_id": {"type": "string",
                      "description": "Event id, unique within ce_source (the record's event_id)."},
            "ce_source": {"type": "string", "format": "uri-reference",
                          "description": "Producer, e.g. /smart-kampung/35.10.21.2003 (one village desk), "
                                         "/siak-dukcapil, /hub/worker."},
            "ce_type": {"type": "string",
                        "description": f"Event type, prefixed {ce.TYPE_PREFIX} "
                                       "(each message names its own in x-cloudevents-type)."},
            "ce_time": {"type": "string", "format": "date-time", "description": "When it happened, UTC."},
            "ce_subject": {"type": "string", "description": "The request id, also the Kafka key."},
            "content-type": {"type": "string", "const": ce.CONTENT_TYPE},
            "traceparent": {"type": "string",
                            "pattern": "^[0-9a-f]{2}-[0-9a-f]{32}-[0-9a-f]{16}-[0-9a-f]{2}$",
                            "description": "W3C trace context, propagated from input to outputs."},
        },
    }


def _dead_letter_headers(schema: dict[str, Any]) -> dict[str, Any]:
    props = {f"dlq_{f['name']}": {"type": "string", "description": f["doc"]}
             for f in schema["fields"] if not f["name"].startswith("ce_")}
    return {
        "type": "object",
        "description": "The original record's headers, kept as they were (CloudEvents when it had them), "
                       "plus the hub's dlq_* headers (UTF-8 strings; the DeadLetter schema documents them).",
        "required": sorted(props),
        "properties": props,
    }


def _kafka_message_binding(strategy: str | None) -> dict[str, Any]:
    binding: dict[str, Any] = {"key": {"type": "string", "description": "The request id (UTF-8)."},
                               "bindingVersion": BINDING}
    if strategy:
        binding.update(schemaIdLocation="payload", schemaIdPayloadEncoding="confluent",
                       schemaLookupStrategy=strategy)
    return binding


def _channel(spec: TopicSpec, messages: dict[str, str]) -> dict[str, Any]:
    known: dict[str, Any] = {k: (int(v) if v.lstrip("-").isdigit() else v)
                             for k, v in spec.config.items() if k in _BINDING_CONFIG}
    if "cleanup.policy" in known:  # a list in the binding, comma-separated in Kafka
        known["cleanup.policy"] = [p.strip() for p in str(known["cleanup.policy"]).split(",")]
    other = {k: v for k, v in spec.config.items() if k not in _BINDING_CONFIG}
    binding: dict[str, Any] = {"topic": spec.name, "partitions": spec.partitions,
                               "replicas": spec.replication}
    if known:
        binding["topicConfiguration"] = known
    binding["bindingVersion"] = BINDING
    channel: dict[str, Any] = {
        "address": spec.name,
        "description": spec.purpose,
        "messages": {key: {"$ref": f"#/components/messages/{ref}"} for key, ref in messages.items()},
        "bindings": {"kafka": binding},
    }
    if other:
        channel["x-topic-config"] = other
    return channel


def document(settings: Settings) -> dict[str, Any]:
    """The AsyncAPI 3.0 document as plain data."""
    entries = catalogue(settings.schemas_dir)
    by_name = {e.fullname: e for e in entries}
    schemas: dict[str, Any] = {"CloudEventsHeaders": _ce_headers()}
    for entry in entries:
        schemas[_short(entry.fullname)] = {"schemaFormat": AVRO_FORMAT, "schema": entry.schema}
    schemas["DeadLetterHeaders"] = _dead_letter_headers(by_name[DeadLetter.SCHEMA].schema)

    messages: dict[str, Any] = {}
    channels: dict[str, Any] = {}
    operations: dict[str, Any] = {}
    intake = set(intake_topics(settings))
    for spec in topic_specs(settings):
        refs: dict[str, str] = {}
        for record in spec.records:
            if record == "*":
                ref = DEAD if spec.name == settings.topic_dlq else RAW
            elif record in by_name:
                ref = _short(record)
                model = by_name[record].model
                if ref not in messages:
                    messages[ref] = {
                        "name": ref, "title": record, "summary": by_name[record].schema.get("doc", ""),
                        "contentType": ce.CONTENT_TYPE,
                        "headers": {"$ref": "#/components/schemas/CloudEventsHeaders"},
                        "payload": {"$ref": f"#/components/schemas/{ref}"},
                        "bindings": {"kafka": _kafka_message_binding("TopicRecordNameStrategy")},
                        "x-cloudevents-type": getattr(model, "CE_TYPE", None),
                    }
            else:
                raise LookupError(f"topic {spec.name} carries {record}, "
                                  f"which has no schema in {settings.schemas_dir}")
            refs[ref] = ref
        channels[spec.name] = _channel(spec, refs)
        receive = spec.name in intake
        operations[f"{'receive' if receive else 'send'}-{spec.name}"] = {
            "action": "receive" if receive else "send",
            "channel": {"$ref": f"#/channels/{spec.name}"},
            "summary": ("Connectors publish here; the hub reads it." if receive else
                        "The hub writes here; subscribers read it.") + f" {spec.purpose}.",
            "messages": [{"$ref": f"#/channels/{spec.name}/messages/{ref}"} for ref in refs],
        }
    if any(RAW in c["messages"] for c in channels.values()):
        messages[RAW] = {"name": RAW, "title": "Internal record",
                         "summary": "Internal to the hub worker (Faust JSON); not for subscribers.",
                         "payload": {"type": "string", "format": "binary"},
                         "bindings": {"kafka": _kafka_message_binding(None)}}
    messages[DEAD] = {
        "name": DEAD, "title": DeadLetter.SCHEMA,
        "summary": "A record the hub could not process: the ORIGINAL key, value and headers, untouched, plus "
                   "dlq_* headers saying why (see the DeadLetter schema). Replay by re-publishing the value.",
        "headers": {"$ref": "#/components/schemas/DeadLetterHeaders"},
        "payload": {"type": "string", "format": "binary", "description": "The original value bytes."},
        "bindings": {"kafka": _kafka_message_binding(None)},
    }
    return {
        "asyncapi": "3.0.0",
        "info": {
            "title": "Banyuwangi inter-agency event hub",
            "version": hub.__version__,
            "description": (
                "Citizen-request lifecycle events between Smart Kampung village desks, the agencies of the "
                "Mal Pelayanan Publik and the service mall, on Apache Kafka. Values are Avro in the "
                "Confluent wire format (magic byte 0, 4-byte schema id, Avro binary); schemas are in the "
                "registry's Confluent-compatible API under TopicRecordNameStrategy subjects "
                "(<topic>-<record full name>), held to BACKWARD_TRANSITIVE. Every record is keyed by its "
                "request id and carries CloudEvents 1.0 binary-mode headers. Personal data (fields marked "
                "pii in the schemas; 'specific' = children's, health or criminal data under UU 27/2022) "
                "reaches a subscriber only where its service needs it. Generated from the code: "
                "hub asyncapi."),
        },
        "defaultContentType": ce.CONTENT_TYPE,
        "servers": {
            "kafka": {
                "host": settings.bootstrap_servers, "protocol": "kafka",
                "description": "Kafka bootstrap servers (production lists several brokers).",
                "bindings": {"kafka": {"schemaRegistryUrl": settings.registry_url,
                                       "schemaRegistryVendor":
                                           "confluent-compatible (Apicurio Registry ccompat)",
                                       "bindingVersion": BINDING}},
            },
        },
        "channels": channels,
        "operations": operations,
        "components": {"schemas": schemas, "messages": messages},
    }


def render(settings: Settings) -> str:
    """The document as YAML (stable: same settings and schemas, same text)."""
    return yaml.safe_dump(document(settings), sort_keys=False, allow_unicode=True, width=110)
