"""CloudEvents 1.0, Kafka protocol binding, binary content mode.

The event's attributes travel as ``ce_*`` headers; the value is the Avro payload
(``content-type: application/avro``). ``ce_source`` + ``ce_id`` identify an event uniquely.
W3C ``traceparent`` is carried beside them and propagated from input to outputs.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Iterable, Sequence

from hub import errors

SPECVERSION = "1.0"
CONTENT_TYPE = "application/avro"
TYPE_PREFIX = "id.go.banyuwangikab.hub."

Headers = list[tuple[str, bytes]]


@dataclass(frozen=True, slots=True)
class CloudEvent:
    id: str
    source: str
    type: str
    subject: str
    time: datetime
    traceparent: str | None = None

    @property
    def key(self) -> tuple[str, str]:
        """What makes the event unique (for deduplication)."""
        return (self.source, self.id)


def new_traceparent() -> str:
    return f"00-{os.urandom(16).hex()}-{os.urandom(8).hex()}-01"


def child_traceparent(parent: str | None) -> str:
    """Same trace, new span id: the hub's hop in the trace."""
    if not parent or parent.count("-") != 3:
        return new_traceparent()
    version, trace_id, _span, flags = parent.split("-")
    return f"{version}-{trace_id}-{os.urandom(8).hex()}-{flags}"


def _time(value: datetime) -> str:
    value = value if value.tzinfo else value.replace(tzinfo=UTC)
    return value.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def to_headers(event: CloudEvent, extra: Iterable[tuple[str, bytes]] = ()) -> Headers:
    headers: Headers = [
        ("ce_specversion", SPECVERSION.encode()),
        ("ce_id", event.id.encode()),
        ("ce_source", event.source.encode()),
        ("ce_type", event.type.encode()),
        ("ce_time", _time(event.time).encode()),
        ("ce_subject", event.subject.encode()),
        ("content-type", CONTENT_TYPE.encode()),
    ]
    if event.traceparent:
        headers.append(("traceparent", event.traceparent.encode()))
    headers.extend(extra)
    return headers


MissingHeader = errors.MissingHeader  # a record without a required ce_* header (hub.errors)


BadHeader = errors.BadHeader  # present but unusable (hub.errors)
#: The longest value each attribute may have (an id is at most 128 characters, like the event id).
MAX_LENGTH = {"ce_id": 128, "ce_source": 256, "ce_type": 128, "ce_specversion": 8, "ce_subject": 128,
              "ce_time": 40, "traceparent": 64}


_REQUIRED = ("ce_id", "ce_source", "ce_type", "ce_specversion")


def header_map(headers: Sequence[tuple[str, bytes | None]] | None) -> dict[str, str]:
    """Header values as text (a header without a value is absent, never the text "None")."""
    out: dict[str, str] = {}
    for name, value in headers or ():
        if value is None:
            continue
        out[name] = value.decode("utf-8", "replace") if isinstance(value, (bytes, bytearray)) else str(value)
    return out


def from_headers(headers: Sequence[tuple[str, bytes | None]] | None) -> CloudEvent:
    """Parse ce_* headers; raises MissingHeader naming the first required attribute that is absent, and
    BadHeader naming one that is unusable (too long, not UTF-8, not a time). One pass over the headers: only
    the attributes are decoded (the hot path reads every intake record's)."""
    raw = {name: value for name, value in headers or () if value is not None}
    for name in _REQUIRED:
        if not raw.get(name):
            raise MissingHeader(f"header {name} is missing")
    h: dict[str, str] = {}
    for name, limit in MAX_LENGTH.items():
        value = raw.get(name)
        if value is None:
            continue
        if len(value) > limit:
            raise BadHeader(f"header {name}: {len(value)} bytes, at most {limit}")
        if isinstance(value, (bytes, bytearray)):
            try:
                h[name] = value.decode("utf-8")
            except UnicodeDecodeError:
                raise BadHeader(f"header {name} is not UTF-8") from None
        else:
            h[name] = str(value)
    if h["ce_specversion"] != SPECVERSION:
        raise BadHeader(f"header ce_specversion is {errors.echo(h['ce_specversion'])}, "
                        f"expected {SPECVERSION}")
    time = h.get("ce_time")
    try:
        when = datetime.fromisoformat(time.replace("Z", "+00:00")) if time else datetime.now(UTC)
    except ValueError:
        raise BadHeader(f"header ce_time {errors.echo(time)} is not an RFC 3339 time") from None
    return CloudEvent(id=h["ce_id"], source=h["ce_source"], type=h["ce_type"],
                      subject=h.get("ce_subject", ""), time=when, traceparent=h.get("traceparent"))
