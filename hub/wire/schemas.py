"""The schema catalogue: every ``.avsc`` in ``schemas/``, its Avro full name and its pydantic model.

Schemas are found by scanning ``schemas/*.avsc``; models by convention: any pydantic model defined in a
module of the ``hub.core`` package, subpackages included (or here), with a ``SCHEMA`` class attribute
naming its Avro record (``CE_TYPE`` names its CloudEvents type). A new schema file or a new model is
picked up without registering it anywhere; tests assert every schema has a model and every model a schema.

Also here: :class:`DeadLetter`, the contract of the dead-letter headers (``hub.wire.deadletter`` writes
them), and the generic model <-> Avro record mapping.
"""

from __future__ import annotations

import enum
import importlib
import json
import pkgutil
from collections.abc import Sequence
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any, ClassVar

from pydantic import BaseModel, ConfigDict, Field

from hub.core.models import UtcMillis
from hub.wire import cloudevents as ce
from hub.wire.codec import fullname

__all__ = ["DeadLetter", "SchemaEntry", "catalogue", "cloud_event", "from_record", "model_classes",
           "model_for", "schema_files", "schema_of", "to_record"]

MODEL_PACKAGE = "hub.core"


@dataclass(frozen=True, slots=True)
class SchemaEntry:
    fullname: str
    path: Path
    schema: dict[str, Any]
    model: type[BaseModel] | None


class SchemaFileError(ValueError):
    """A schema file that is not what its name says."""


def schema_files(schemas_dir: Path) -> dict[str, Path]:
    """``{full name: path}`` of every ``*.avsc`` in ``schemas_dir``; the file name must be the full name."""
    found: dict[str, Path] = {}
    for path in sorted(Path(schemas_dir).glob("*.avsc")):
        try:
            schema = json.loads(path.read_text(encoding="utf-8"))
        except json.JSONDecodeError as exc:
            raise SchemaFileError(f"{path.name}: not JSON: {exc}") from None
        name = fullname(schema)
        if path.name != f"{name}.avsc":
            raise SchemaFileError(f"{path.name} holds record {name}; name the file {name}.avsc")
        found[name] = path
    return found


def _subclasses(cls: type) -> list[type]:
    out: list[type] = []
    sub: type[Any]
    for sub in cls.__subclasses__():
        out.append(sub)
        out.extend(_subclasses(sub))
    return out


@cache
def model_classes() -> dict[str, type[BaseModel]]:
    """``{Avro full name: model class}`` of every record model (see the module doc for the convention)."""
    package = importlib.import_module(MODEL_PACKAGE)
    modules = {__name__}
    for info in pkgutil.walk_packages(package.__path__, prefix=f"{MODEL_PACKAGE}."):
        modules.add(importlib.import_module(info.name).__name__)
    found: dict[str, type[BaseModel]] = {}
    for cls in _subclasses(BaseModel):
        name = cls.__dict__.get("SCHEMA")
        if cls.__module__ in modules and isinstance(name, str):
            if name in found and found[name] is not cls:
                raise TypeError(f"two models claim {name}: {found[name].__qualname__} and {cls.__qualname__}")
            found[name] = cls
    return dict(sorted(found.items()))


def catalogue(schemas_dir: Path) -> tuple[SchemaEntry, ...]:
    """Every schema file with its model (``None`` where a schema has no model: the tests refuse that)."""
    models = model_classes()
    return tuple(
        SchemaEntry(name, path, json.loads(path.read_text(encoding="utf-8")), models.get(name))
        for name, path in schema_files(schemas_dir).items()
    )


def model_for(name: str) -> type[BaseModel]:
    try:
        return model_classes()[name]
    except KeyError:
        raise LookupError(f"no model for record {name}") from None


def schema_of(model: type[BaseModel], schemas_dir: Path) -> dict[str, Any]:
    """The parsed ``.avsc`` of a model class."""
    name = model.__dict__.get("SCHEMA")
    if not isinstance(name, str):
        raise LookupError(f"{model.__qualname__} names no Avro record (SCHEMA)")
    path = Path(schemas_dir) / f"{name}.avsc"
    if not path.exists():
        raise LookupError(f"no schema file {path} for {model.__qualname__}")
    return json.loads(path.read_text(encoding="utf-8"))


def _plain(value: Any) -> Any:
    if isinstance(value, enum.Enum):
        return value.value
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    if isinstance(value, (set, frozenset)):
        return sorted(_plain(v) for v in value)
    return value


def to_record(model: BaseModel) -> dict[str, Any]:
    """The Avro record (a dict for fastavro) of a model: its own ``to_avro`` if it has one."""
    own = getattr(model, "to_avro", None)
    return _plain(own() if callable(own) else model.model_dump(mode="python"))


def from_record(model: type[BaseModel], record: dict[str, Any]) -> BaseModel:
    own = getattr(model, "from_avro", None)
    return own(record) if callable(own) else model.model_validate(record)


def cloud_event(event: Any, source: str, traceparent: str | None = None) -> ce.CloudEvent:
    """CloudEvents attributes of a native or lifecycle event: id = event_id, subject = request_id."""
    return ce.CloudEvent(id=event.event_id, source=source, type=type(event).CE_TYPE, subject=event.request_id,
                         time=event.occurred_at, traceparent=traceparent or ce.new_traceparent())


# --------------------------------------------------------------------------------------------------
# The dead-letter record
# --------------------------------------------------------------------------------------------------
class DeadLetter(BaseModel):
    """The ``dlq_*`` headers of a dead letter, parsed (see ``DeadLetter.avsc``)."""

    model_config = ConfigDict(frozen=True, extra="forbid")
    SCHEMA: ClassVar[str] = "id.go.banyuwangikab.hub.DeadLetter"
    CE_TYPE: ClassVar[str] = "id.go.banyuwangikab.hub.dead_letter"

    reason: str = Field(min_length=1)
    error_class: str = Field(min_length=1)
    error: str = Field(max_length=2000)
    topic: str = Field(min_length=1)
    partition: int = Field(ge=0, le=2**31 - 1)
    offset: int = Field(ge=0)
    time: UtcMillis
    stage: str = Field(min_length=1)
    ce_id: str | None = None
    ce_source: str | None = None
    ce_type: str | None = None

    @classmethod
    def from_headers(cls, headers: Sequence[tuple[str, bytes]] | None) -> DeadLetter:
        """Parse a dead letter's headers (raises ``pydantic.ValidationError`` naming a missing one)."""
        h = ce.header_map(headers)
        values: dict[str, Any] = {name: h.get(f"dlq_{name}") for name in
                                  ("reason", "error_class", "error", "topic", "partition", "offset", "time",
                                   "stage")}
        values.update(ce_id=h.get("ce_id"), ce_source=h.get("ce_source"), ce_type=h.get("ce_type"))
        return cls.model_validate(values)
