"""Schema governance against the registry: register every schema, hold its subjects to BACKWARD_TRANSITIVE,
and check local schemas against what the registry holds, naming the field at fault.

Subjects:
* a record that travels on a topic (``TopicSpec.records``): TopicRecordNameStrategy, ``<topic>-<full name>``
  (:func:`hub.wire.codec.subject_for`), one per topic;
* a record on no topic (native source events, reference records, the dead-letter contract): published
  under its full name (RecordNameStrategy), so it is governed and readable by integrators too.

Apicurio Registry 3.x (ccompat v7) honours ``PUT /config/{subject}`` per subject, also before the subject
exists (it becomes the artifact's COMPATIBILITY rule), and enforces BACKWARD_TRANSITIVE against every
earlier version (HTTP 409 on register). Its global default is NONE: a subject a writer creates on the fly
(``Codec.encoder``) is ungoverned unless ``hub schemas register`` ran for it or ``--global`` set the
registry-wide rule (``PUT /config``, Apicurio's global COMPATIBILITY rule; ``GET /config/{subject}`` then
answers 404 unless ``?defaultToGlobal=true``). Its compatibility endpoint
answers ``{"is_compatible": false}`` without messages even with ``?verbose=true``, and its 409 message
gives JSON paths (``/fields/1/type``), not field names: so :func:`backward_problems` computes the
field-level reasons itself (Avro schema resolution, reader = new schema, writer = each old version).
Apicurio, like Avro's BACKWARD rule, accepts removing a field that has no default; the hub's gate refuses
that too (:func:`removed_fields`): agencies reading with the old schema would break.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from hub.settings import Settings
from hub.wire.codec import subject_for
from hub.wire.registry import RegistryError, SchemaRegistry
from hub.wire.schemas import schema_files
from hub.wire.topics import topic_specs

__all__ = ["LEVEL", "Finding", "Subject", "backward_problems", "check", "register_all", "removed_fields",
           "subjects"]

LEVEL = "BACKWARD_TRANSITIVE"


@dataclass(frozen=True, slots=True)
class Subject:
    name: str
    record: str  # Avro full name
    topic: str | None  # None: RecordNameStrategy (the record travels on no topic)


@dataclass(frozen=True, slots=True)
class Finding:
    subject: str
    ok: bool
    message: str


def subjects(settings: Settings) -> list[Subject]:
    """Every subject the hub's schemas live under (see the module doc)."""
    local = schema_files(settings.schemas_dir)
    out: list[Subject] = []
    on_topics: set[str] = set()
    for spec in topic_specs(settings):
        for record in spec.records:
            if record != "*" and record in local:
                out.append(Subject(subject_for(spec.name, record), record, spec.name))
                on_topics.add(record)
    out += [Subject(name, name, None) for name in local if name not in on_topics]
    return out


def _text(settings: Settings, record: str) -> str:
    path = settings.schemas_dir / f"{record}.avsc"
    return json.dumps(json.loads(path.read_text(encoding="utf-8")))


def register_all(registry: SchemaRegistry, settings: Settings, *, level: str = LEVEL,
                 set_global: bool = False, on_topics_only: bool = False) -> list[tuple[str, int]]:
    """Set ``level`` on every subject, then register its local schema; returns (subject, schema id).
    Only the hub admin may (the registry refuses other principals).

    ``set_global`` also makes ``level`` the registry-wide default, so subjects that writers create on the
    fly later (a new agency topic) are governed from their first version. ``on_topics_only`` skips the
    records that travel on no topic (registered once per registry, not per hub).
    """
    if set_global:
        registry.set_global_compatibility(level)
    done = []
    for subject in subjects(settings):
        if on_topics_only and subject.topic is None:
            continue
        registry.set_compatibility(subject.name, level)
        done.append((subject.name, registry.register(subject.name, _text(settings, subject.record))))
    return done


def _versions(registry: SchemaRegistry, subject: str) -> list[dict[str, Any]]:
    """Every registered version of a subject, oldest first ([] for an unknown subject)."""
    return [json.loads(text) for text in registry.versions(subject)]


def check(registry: SchemaRegistry, settings: Settings) -> list[Finding]:
    """Compare every local schema with the registry's versions of its subjects (BACKWARD_TRANSITIVE)."""
    findings = []
    for subject in subjects(settings):
        local = json.loads(_text(settings, subject.record))
        old = _versions(registry, subject.name)
        if not old:
            findings.append(Finding(subject.name, True, "not registered yet (new subject)"))
            continue
        problems = [f"against version {n}: {p}" for n, writer in enumerate(old, 1)
                    for p in [*backward_problems(local, writer), *removed_fields(local, writer)]]
        problems = list(dict.fromkeys(problems))
        try:
            accepted, messages = registry.is_compatible(subject.name, json.dumps(local))
        except RegistryError as exc:
            accepted, messages = False, [str(exc)]
        if not accepted and not problems:  # the registry refuses for a reason our checker does not know
            problems.append("the registry refuses it: " + ("; ".join(messages) or "no detail given"))
        level = registry.compatibility(subject.name)
        if level != LEVEL:
            problems.append(f"compatibility level is {level}, expected {LEVEL} (run `hub schemas register`)")
        findings.append(Finding(subject.name, not problems, "; ".join(problems) or
                                ("unchanged" if local == old[-1] else "compatible change")))
    return findings


# --------------------------------------------------------------------------------------------------
# A small, pure Avro backward-compatibility checker: can data written with ``writer`` be read with
# ``reader``? (Avro 1.11 schema resolution; logical types ride on their base types.)
# --------------------------------------------------------------------------------------------------
_PROMOTIONS = {"int": {"long", "float", "double"}, "long": {"float", "double"}, "float": {"double"},
               "string": {"bytes"}, "bytes": {"string"}}
_PRIMITIVES = {"null", "boolean", "int", "long", "float", "double", "bytes", "string"}


def _names(schema: Any, namespace: str | None, into: dict[str, Any]) -> None:
    """Index every named type by full name (so references by name can be followed)."""
    if isinstance(schema, list):
        for branch in schema:
            _names(branch, namespace, into)
    elif isinstance(schema, dict):
        kind = schema.get("type")
        if kind in ("record", "enum", "fixed", "error"):
            name = (schema["name"] if "." in schema["name"]
                    else f"{schema.get('namespace', namespace)}.{schema['name']}"
                    if schema.get("namespace", namespace) else schema["name"])
            into[name] = schema
            namespace = name.rpartition(".")[0] or None
            for f in schema.get("fields", ()):
                _names(f["type"], namespace, into)
        elif kind == "array":
            _names(schema["items"], namespace, into)
        elif kind == "map":
            _names(schema["values"], namespace, into)
        elif isinstance(kind, (dict, list)):
            _names(kind, namespace, into)


_ADDED = "field added without a default (records written before it cannot be read)"
_REMOVED = "field removed although it has no default (consumers still reading with the old schema fail)"


class _Resolver:
    def __init__(self, reader: dict[str, Any], writer: dict[str, Any], missing: str = _ADDED):
        self.missing = missing
        self.rnames: dict[str, Any] = {}
        self.wnames: dict[str, Any] = {}
        _names(reader, None, self.rnames)
        _names(writer, None, self.wnames)
        self.seen: set[tuple[int, int]] = set()

    @staticmethod
    def _deref(schema: Any, names: dict[str, Any]) -> Any:
        while True:
            if isinstance(schema, str) and schema not in _PRIMITIVES:
                schema = names.get(schema) or next((v for k, v in names.items() if k.endswith("." + schema)),
                                                   schema)
                if isinstance(schema, str):
                    return schema
            elif isinstance(schema, dict) and isinstance(schema.get("type"), (dict, list)):
                schema = schema["type"]
            elif isinstance(schema, dict) and schema.get("type") in _PRIMITIVES:
                return schema["type"]
            else:
                return schema

    @staticmethod
    def kind(schema: Any) -> str:
        if isinstance(schema, list):
            return "union"
        return schema if isinstance(schema, str) else schema["type"]

    @staticmethod
    def show(schema: Any) -> str:
        if isinstance(schema, list):
            return "[" + ", ".join(_Resolver.show(s) for s in schema) + "]"
        if isinstance(schema, dict):
            return schema.get("name") or schema["type"]
        return str(schema)

    def problems(self, reader: Any, writer: Any, path: str) -> list[str]:
        reader, writer = self._deref(reader, self.rnames), self._deref(writer, self.wnames)
        rk, wk = self.kind(reader), self.kind(writer)
        if wk == "union":  # every branch the old schema could write must stay readable
            return [p for branch in writer for p in self.problems(reader, branch, path)]
        if rk == "union":
            if any(not self.problems(branch, writer, path) for branch in reader):
                return []
            if wk == "null":
                return [f"{path}: null values written by the old schema cannot be read (no longer nullable)"]
            alike = [b for b in reader if self.kind(self._deref(b, self.rnames)) == wk]
            if alike:  # the same kind of type in the new union: say what changed inside it
                return self.problems(alike[0], writer, path)
            return [f"{path}: type changed from {self.show(writer)} to {self.show(reader)}"]
        if wk == "null" and rk != "null":
            return [f"{path}: null values written by the old schema cannot be read (no longer nullable)"]
        if rk != wk:
            if rk in _PROMOTIONS.get(wk, ()):
                return []
            return [f"{path}: type changed from {self.show(writer)} to {self.show(reader)}"]
        if rk == "record":
            return self._record(reader, writer, path)
        if rk == "enum":
            removed = [s for s in writer["symbols"] if s not in reader["symbols"]]
            if removed and "default" not in reader:
                return [f"{path}: enum {reader['name']} lost symbol(s) {', '.join(removed)} "
                        "and has no default"]
            return []
        if rk == "array":
            return self.problems(reader["items"], writer["items"], f"{path}[]")
        if rk == "map":
            return self.problems(reader["values"], writer["values"], f"{path}{{}}")
        if rk == "fixed" and reader["size"] != writer["size"]:
            return [f"{path}: fixed size changed from {writer['size']} to {reader['size']}"]
        return []

    def _record(self, reader: dict[str, Any], writer: dict[str, Any], path: str) -> list[str]:
        key = (id(reader), id(writer))
        if key in self.seen:  # a recursive type, already being compared further up
            return []
        self.seen.add(key)
        try:
            return self._fields(reader, writer, path)
        finally:
            self.seen.discard(key)

    def _fields(self, reader: dict[str, Any], writer: dict[str, Any], path: str) -> list[str]:
        out = []
        if reader["name"].rpartition(".")[2] != writer["name"].rpartition(".")[2] and \
                writer["name"] not in reader.get("aliases", ()):
            out.append(f"{path}: record renamed from {writer['name']} to {reader['name']} without an alias")
        written = {f["name"]: f for f in writer["fields"]}
        for field in reader["fields"]:
            names = [field["name"], *field.get("aliases", ())]
            old = next((written[n] for n in names if n in written), None)
            where = f"{path}.{field['name']}"
            if old is None:
                if "default" not in field:
                    out.append(f"{where}: {self.missing}")
                continue
            out += self.problems(field["type"], old["type"], where)
        return out


def backward_problems(reader: dict[str, Any], writer: dict[str, Any]) -> list[str]:
    """Why records written with ``writer`` cannot be read with ``reader`` ([] = backward compatible).

    Each reason names the field by its dotted path from the record, e.g.
    ``RequestLifecycleEvent.citizen.nik: type changed from string to int``. A field removed from the
    reader is always fine for reading old data; it breaks BACKWARD only when it is added back later
    without a default, which the transitive check against every version catches.
    """
    return _Resolver(reader, writer).problems(reader, writer, reader.get("name", "record"))


def removed_fields(new: dict[str, Any], old: dict[str, Any]) -> list[str]:
    """Fields of ``old`` without a default that ``new`` drops (named by path).

    Avro's BACKWARD rule (and so the registry) accepts this: the new schema reads old data fine. But
    agencies that still decode with the old schema as their reader (or code against its fields) break,
    so the hub's gate refuses it too: deprecate with a default first, remove in a new topic version.
    """
    found = _Resolver(old, new, _REMOVED).problems(old, new, old.get("name", "record"))
    return [p for p in found if p.endswith(_REMOVED)]
