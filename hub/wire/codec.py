"""The hub's one codec: Avro binary in the Confluent wire format.

    byte 0      magic, always 0
    bytes 1-4   schema id, big-endian unsigned, as given by the schema registry
    bytes 5-    Avro binary of the record (schemaless, the schema is in the registry)

The hub admin registers every schema once per subject (TopicRecordNameStrategy: ``<topic>-<record name>``,
``hub schemas register``); writers look the id up (``register=False``, the default: a read any principal
may do) or, for the admin's own tools, register it (``register=True``), and cache it. Readers look the
writer schema up by id (cached) and resolve it against their own reader schema, so a record written with
an older schema version is read with the current one.
"""

from __future__ import annotations

import io
import json
import struct
import time
from collections.abc import Sequence
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

from fastavro import parse_schema, schemaless_reader, schemaless_writer

from hub.errors import DecodeError, MalformedAvro, NotConfluentFramed, UnknownSchemaId
from hub.wire.registry import Registry, SchemaNotFound

MAGIC = 0
#: How long an id the registry did not know is believed unknown (it may be registered meanwhile).
UNKNOWN_ID_TTL = 60.0
HEADER = struct.Struct(">BI")


# The decode errors live in the one error tree (hub.errors); re-exported here for the codec's callers.
__all__ = ["DecodeError", "NotConfluentFramed", "UnknownSchemaId", "MalformedAvro"]


def subject_for(topic: str, record_name: str) -> str:
    """TopicRecordNameStrategy subject name."""
    return f"{topic}-{record_name}"


@cache
def load_schema(schemas_dir: Path, fullname: str) -> dict[str, Any]:
    """The JSON of ``schemas/<fullname>.avsc``."""
    path = Path(schemas_dir) / f"{fullname}.avsc"
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise LookupError(f"no schema file {path}") from None


def fullname(schema: dict[str, Any]) -> str:
    namespace = schema.get("namespace")
    return f"{namespace}.{schema['name']}" if namespace else schema["name"]


@dataclass(frozen=True, slots=True)
class Decoded:
    schema_id: int
    record_name: str
    record: dict[str, Any]


class Encoder:
    """Encodes records of one schema for one topic. Build it once; call it per record.

    ``body`` + ``frame`` split the work for a record sent to several topics with the same schema: the
    Avro body is written once and only the 5-byte header (the schema id of each topic's subject) differs.
    """

    __slots__ = ("schema_id", "record_name", "schema", "_parsed", "_prefix", "_branches")

    def __init__(self, schema_id: int, schema: dict[str, Any]):
        self.schema_id = schema_id
        self.schema = schema
        self.record_name = fullname(schema)
        self._parsed = parse_schema(schema)
        self._prefix = HEADER.pack(MAGIC, schema_id)
        self._branches = _record_branches(schema)

    def __call__(self, record: dict[str, Any]) -> bytes:
        return self._prefix + self.body(record)

    def body(self, record: dict[str, Any]) -> bytes:
        """The Avro body alone (no header)."""
        if self._branches:
            record = self._hinted(record)
        buffer = io.BytesIO()
        schemaless_writer(buffer, self._parsed, record)
        return buffer.getvalue()

    def frame(self, body: bytes) -> bytes:
        """A body from ``body`` (of this encoder's schema) with this encoder's header."""
        return self._prefix + body

    def _hinted(self, record: dict[str, Any]) -> dict[str, Any]:
        # fastavro picks a union branch by validating the value against each branch, which for a record
        # costs as much as writing it; naming the branch ("Name", value) skips that. Same bytes.
        hinted = None
        for name, branch in self._branches:
            value = record.get(name)
            if type(value) is dict:
                if hinted is None:
                    hinted = dict(record)
                hinted[name] = (branch, value)
        return hinted if hinted is not None else record


class Fields:
    """The Avro binary of a run of a record schema's fields. A record's body is its fields' encodings one
    after another (Avro specification, "Binary Encoding", records), so bodies that share fields can be built
    from parts written once (:class:`SplitEncoder`, :class:`ArrayTailEncoder`). Named types must be defined in
    the part that uses them (true of the hub's schemas, checked when the part is made)."""

    __slots__ = ("names", "_encoder")

    def __init__(self, schema: dict[str, Any], names: Sequence[str]):
        fields = [f for f in schema["fields"] if f["name"] in names]
        part = {"type": "record", "name": f"{schema['name']}_part", "fields": fields}
        if "namespace" in schema:
            part["namespace"] = schema["namespace"]
        self.names = tuple(f["name"] for f in fields)
        self._encoder = Encoder(0, part)  # parse_schema refuses a part that uses a type named elsewhere

    def __call__(self, record: dict[str, Any]) -> bytes:
        return self._encoder.body(record)


def zigzag_long(n: int) -> bytes:
    """An Avro ``long``: zig-zag, then a little-endian base-128 varint."""
    n = (n << 1) ^ (n >> 63)
    out = bytearray()
    while n > 0x7F:
        out.append((n & 0x7F) | 0x80)
        n >>= 7
    out.append(n)
    return bytes(out)


class SplitEncoder:
    """Bodies of records that differ only in one field (the views of one event for different audiences): the
    fields before and after it are written once, the field once per distinct value. Byte for byte what
    :meth:`Encoder.body` writes for each record."""

    __slots__ = ("field", "_head", "_mid", "_tail")

    def __init__(self, schema: dict[str, Any], field: str):
        names = [f["name"] for f in schema["fields"]]
        i = names.index(field)
        self.field = field
        self._head, self._mid, self._tail = (Fields(schema, names[:i]), Fields(schema, [field]),
                                             Fields(schema, names[i + 1:]))

    def bodies(self, records: Sequence[dict[str, Any]]) -> list[bytes]:
        """One body per record; every record must equal the first but for ``field``."""
        head, tail = self._head(records[0]), self._tail(records[0])
        return [head + self._mid(r) + tail for r in records]


class ArrayTailEncoder:
    """Records whose last field is an array of records repeated often (an audit entry's deliveries): each
    distinct item is written once and kept (at most ``size`` of them), the array framed as fastavro frames it
    (one block: its count, the items, a 0; an empty array is the 0 alone)."""

    __slots__ = ("_head", "_item", "_field", "_prefix", "_items", "size")

    def __init__(self, encoder: Encoder, schema: dict[str, Any], size: int = 4096):
        last = schema["fields"][-1]
        if not (isinstance(last["type"], dict) and last["type"].get("type") == "array"):
            raise ValueError(f"the last field of {fullname(schema)} is not an array")
        self._field = last["name"]
        self._head = Fields(schema, [f["name"] for f in schema["fields"][:-1]])
        item = last["type"]["items"]
        self._item = Encoder(0, {**item, "namespace": item.get("namespace", schema.get("namespace"))})
        self._prefix = encoder._prefix
        self._items: dict[tuple, bytes] = {}
        self.size = size

    def __call__(self, record: dict[str, Any]) -> bytes:
        items = record[self._field]
        if not items:
            return self._prefix + self._head(record) + b"\x00"
        parts = [self._prefix, self._head(record), zigzag_long(len(items))]
        cache = self._items
        for item in items:
            key = tuple(tuple(v) if isinstance(v, list) else v for v in item.values())
            body = cache.get(key)
            if body is None:
                if len(cache) >= self.size:
                    cache.clear()
                body = cache[key] = self._item.body(item)
            parts.append(body)
        parts.append(b"\x00")
        return b"".join(parts)


def _record_branches(schema: dict[str, Any]) -> tuple[tuple[str, str], ...]:
    """Top-level fields typed ["null", <record>]: (field name, the record's full name)."""
    namespace = schema.get("namespace")
    found = []
    for f in schema.get("fields", ()):
        branches = f["type"] if isinstance(f["type"], list) else ()
        records = [b for b in branches if isinstance(b, dict) and b.get("type") == "record"]
        if len(branches) == 2 and "null" in branches and len(records) == 1:
            name = records[0]["name"]
            space = records[0].get("namespace", namespace)
            found.append((f["name"], name if "." in name or not space else f"{space}.{name}"))
    return tuple(found)


class Codec:
    """Encoders per (topic, schema) and a decoder that resolves writer schemas by id."""

    def __init__(self, registry: Registry, *, register: bool = False):
        self.registry = registry
        self.register = register
        self._encoders: dict[tuple[str, str], Encoder] = {}
        self._writers: dict[int, tuple[str, Any, dict[str, Any]]] = {}
        self._readers: dict[str, tuple[Any, dict[str, Any]]] = {}
        self._plans: dict[int, tuple[str, Any, Any]] = {}  # schema id -> (name, writer, reader or None)
        # Ids the registry said it does not have, and until when to believe it: a flood of records with
        # made-up ids costs one registry call per id and minute, not one per record.
        self._unknown: dict[int, float] = {}

    def encoder(self, topic: str, schema: dict[str, Any]) -> Encoder:
        """The encoder of ``schema`` for ``topic`` (its id looked up, or registered, once)."""
        name = fullname(schema)
        key = (topic, name)
        encoder = self._encoders.get(key)
        if encoder is None:
            subject, text = subject_for(topic, name), json.dumps(schema)
            schema_id = (self.registry.register(subject, text) if self.register
                         else self.registry.lookup(subject, text))
            encoder = self._encoders[key] = Encoder(schema_id, schema)
            self._writers.setdefault(schema_id, (name, encoder._parsed, schema))
        return encoder

    def reader(self, schema: dict[str, Any]) -> None:
        """Declare the reader schema to resolve records of this name against (schema evolution)."""
        self._readers[fullname(schema)] = (parse_schema(schema), schema)
        self._plans.clear()

    def _writer(self, schema_id: int) -> tuple[str, Any, dict[str, Any]]:
        writer = self._writers.get(schema_id)
        if writer is None:
            if self._unknown.get(schema_id, 0.0) > time.monotonic():
                raise UnknownSchemaId(f"schema id {schema_id} is not in the registry (asked less than "
                                      f"{UNKNOWN_ID_TTL:.0f} s ago)")
            try:
                text = self.registry.schema(schema_id)
            except SchemaNotFound:
                if len(self._unknown) > 10_000:
                    self._unknown.clear()
                self._unknown[schema_id] = time.monotonic() + UNKNOWN_ID_TTL
                raise UnknownSchemaId(f"schema id {schema_id} is not in the registry") from None
            # Any other RegistryError is not the record's fault: it propagates so the caller retries.
            schema = json.loads(text)
            writer = self._writers[schema_id] = (fullname(schema), parse_schema(schema), schema)
        return writer

    def unresolved(self, data: bytes | None) -> int | None:
        """The schema id of a framed record whose writer schema is neither cached nor known to be missing:
        the one case where :meth:`decode` would call the registry. An event loop resolves it first off the
        loop (:meth:`prefetch` in a thread), so a slow or frozen registry never blocks it."""
        if not data or len(data) < HEADER.size:
            return None
        magic, schema_id = HEADER.unpack_from(data)
        if magic != MAGIC or schema_id in self._writers:
            return None
        return None if self._unknown.get(schema_id, 0.0) > time.monotonic() else int(schema_id)

    def prefetch(self, schema_id: int) -> None:
        """Fetch and cache the writer schema of ``schema_id`` (an id the registry lacks is remembered as
        such, and :meth:`decode` refuses it without asking again); a registry that cannot answer raises
        :class:`RegistryError` (transient: the caller retries)."""
        try:
            self._writer(schema_id)
        except UnknownSchemaId:
            pass

    def _plan(self, schema_id: int) -> tuple[str, Any, Any]:
        """How to read records of this schema id: schema resolution only when the reader differs."""
        plan = self._plans.get(schema_id)
        if plan is None:
            name, writer, writer_json = self._writer(schema_id)
            reader = self._readers.get(name)
            resolved = reader[0] if reader is not None and reader[1] != writer_json else None
            plan = self._plans[schema_id] = (name, writer, resolved)
        return plan

    def decode(self, data: bytes | None) -> Decoded:
        if not data or len(data) < HEADER.size:
            raise NotConfluentFramed(f"record of {len(data or b'')} bytes is shorter than the 5-byte header")
        magic, schema_id = HEADER.unpack_from(data)
        if magic != MAGIC:
            raise NotConfluentFramed(f"magic byte is {magic}, expected {MAGIC} (not Confluent wire format)")
        name, writer, reader = self._plan(schema_id)
        buffer = io.BytesIO(data)
        buffer.seek(HEADER.size)
        try:
            record = schemaless_reader(buffer, writer, reader)
        except Exception as exc:  # fastavro raises many types on bad bytes
            raise MalformedAvro(f"Avro body does not match schema id {schema_id} ({name}): {exc!r}") from exc
        if buffer.tell() != len(data):
            raise MalformedAvro(f"{len(data) - buffer.tell()} trailing bytes after a {name} record")
        if not isinstance(record, dict):
            raise MalformedAvro(f"schema id {schema_id} ({name}) is not a record schema")
        return Decoded(schema_id, name, record)
