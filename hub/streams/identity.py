"""Who wrote an intake record, and may it say what it says? Pure checks, run before anything else.

The producer's identity is the intake topic it wrote to: the brokers let only that source's principal
write there (``hub.access.catalogue``), so the topic is proof and the payload is a claim. A claim beyond
the topic's identity is an :class:`hub.errors.Impersonation` (dead-lettered with reason
``impersonation``, the stream goes on):

* ``intake.agency.<code>.v1`` carries events of agency ``<code>`` only (``agency`` field), with a
  CloudEvents source under ``/agency/<code>/``;
* ``intake.desa.<node>.v1`` carries events of the villages the node serves (``region_code`` under one
  of its prefixes), from the Smart Kampung system (``source_system``), with the CloudEvents source
  ``/smart-kampung/<region_code>``.

And the CloudEvents attributes must agree with the record (``hub.errors.ContentError``, field named):
``ce_id`` equals ``event_id`` (one id, so deduplication by (ce_source, ce_id) and by event id agree),
``ce_type`` is the lifecycle event's type.
"""

from __future__ import annotations

from typing import Any

from hub.core.errors import ValidationError
from hub.core.models import RequestLifecycleEvent
from hub.errors import Impersonation, echo
from hub.wire.cloudevents import CloudEvent
from hub.wire.topics import IntakeSource

DESK_SYSTEM = "smart-kampung"
Event = RequestLifecycleEvent | dict[str, Any]  # a lifecycle record: the decoded Avro dict, or its model


def _record(event: Event) -> dict[str, Any]:
    return event if isinstance(event, dict) else event.to_avro()


def check_attributes(meta: CloudEvent, event: Event) -> None:
    """The CloudEvents attributes agree with the record (see the module doc)."""
    event_id = _record(event)["event_id"]
    if meta.id != event_id:
        raise ValidationError("ce_id", f"{echo(meta.id)} is not the record's event_id {echo(event_id)}")
    if meta.type != RequestLifecycleEvent.CE_TYPE:
        raise ValidationError("ce_type", f"{echo(meta.type)} is not {RequestLifecycleEvent.CE_TYPE}")


def check_identity(source: IntakeSource, meta: CloudEvent, event: Event) -> None:
    """Raise Impersonation if the event claims more than the topic's source may (see the module doc)."""
    where = f"on {source.topic}"
    record = _record(event)
    region_code, source_system = record["region_code"], record["source_system"]
    if source.kind == "agency":
        if record["agency"] != source.name:
            raise Impersonation(f"agency: {where} only agency {source.name} may write, the event claims "
                                f"{echo(record['agency'])}")
        if not meta.source.startswith(f"/agency/{source.name}/"):
            raise Impersonation(f"ce_source: {where} must start with /agency/{source.name}/, got "
                                f"{echo(meta.source)}")
        return
    if not any(region_code.startswith(prefix) for prefix in source.regions):
        raise Impersonation(f"region_code: desk node {source.name} serves {'|'.join(source.regions)}, "
                            f"the event is for {echo(region_code)}")
    if source_system != DESK_SYSTEM:
        raise Impersonation(f"source_system: {where} only {DESK_SYSTEM} may write, the event claims "
                            f"{echo(source_system)}")
    if meta.source != f"/{DESK_SYSTEM}/{region_code}":
        raise Impersonation(f"ce_source: {where} must be /{DESK_SYSTEM}/{region_code}, got "
                            f"{echo(meta.source)}")
