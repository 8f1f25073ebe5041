"""The intake router's per-record work, without Faust: bytes in, records out (or a dead letter).

decode (codec) -> model -> admit (core) -> route + minimise (core) -> encode (codec) + CloudEvents.
The Faust agent in ``hub.streams.app`` only moves records in and out of Kafka around this.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from hub.core.admission import admit
from hub.core.models import RequestLifecycleEvent
from hub.core.routing import route
from hub.settings import Settings
from hub.wire import cloudevents as ce
from hub.wire.codec import Codec, DecodeError, Encoder, load_schema
from hub.wire.deadletter import Origin, dead_letter_headers

STAGE = "route"


class WrongRecord(DecodeError):
    reason = "unexpected_record"


class KeyMismatch(DecodeError):
    reason = "key_mismatch"


@dataclass(frozen=True, slots=True)
class Outgoing:
    topic: str
    audience: str
    key: bytes | None
    value: bytes | None
    headers: list[tuple[str, bytes]]


class IntakeRouter:
    """Routes intake records to agency topics and the MPP feed. Build once per worker."""

    def __init__(self, settings: Settings, codec: Codec, agencies: Sequence[str]):
        self.settings = settings
        self.codec = codec
        self.schema = load_schema(settings.schemas_dir, RequestLifecycleEvent.SCHEMA)
        codec.reader(self.schema)
        # Register every output subject at start-up: fail fast if the registry is down, no look-ups later.
        self._encoders: dict[str, Encoder] = {
            topic: codec.encoder(topic, self.schema)
            for topic in [settings.topic_feed, *(settings.agency_topic(a) for a in agencies)]
        }

    def process(self, key: bytes | None, value: bytes | None,
                headers: Sequence[tuple[str, bytes]] | None) -> list[Outgoing]:
        decoded = self.codec.decode(value)
        if decoded.record_name != RequestLifecycleEvent.SCHEMA:
            raise WrongRecord(f"expected {RequestLifecycleEvent.SCHEMA}, got {decoded.record_name}")
        meta = ce.from_headers(headers)
        event = RequestLifecycleEvent.from_avro(decoded.record)
        request_key = event.request_id.encode()
        if key != request_key:
            raise KeyMismatch(f"record key {key!r} is not the request_id {event.request_id!r}")
        service = admit(event)
        out_meta = ce.CloudEvent(meta.id, meta.source, meta.type, event.request_id, meta.time,
                                 ce.child_traceparent(meta.traceparent))
        out_headers = ce.to_headers(out_meta)
        return [
            Outgoing(d.topic, d.audience, request_key, self._encoders[d.topic](d.event.to_avro()), out_headers)
            for d in route(event, service, agency_topic=self.settings.agency_topic,
                           feed_topic=self.settings.topic_feed)
        ]

    def dead_letter(self, exc: BaseException, key: bytes | None, value: bytes | None,
                    headers: Sequence[tuple[str, bytes]] | None, origin: Origin) -> Outgoing:
        return Outgoing(self.settings.topic_dlq, "dlq", key, value,
                        dead_letter_headers(exc, origin, STAGE, headers))
