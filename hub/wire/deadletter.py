"""Dead letters: the original record, untouched, plus why it could not be processed, in headers.

Headers added (all UTF-8): ``dlq_reason`` (a short stable code to filter on), ``dlq_error_class``,
``dlq_error`` (message naming the field or byte at fault), ``dlq_topic``, ``dlq_partition``,
``dlq_offset``, ``dlq_time`` (ISO 8601 UTC), ``dlq_stage`` (which agent). Original headers are kept.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Sequence

import pydantic

from hub.errors import INTERNAL_ERROR, RecordError, SchemaMismatch

MAX_MESSAGE = 2000
PREFIX = "dlq_"


@dataclass(frozen=True, slots=True)
class Origin:
    topic: str
    partition: int
    offset: int


def reason_of(exc: BaseException) -> str:
    """Stable reason code for an exception (closed set ``hub.errors.REASON_CODES``: bounded label values).

    A ``RecordError`` carries its own; pydantic's refusal of a decoded record is ``schema_mismatch``;
    anything else is a bug in the hub, ``internal_error``.
    """
    if isinstance(exc, RecordError):
        return exc.reason_code
    if isinstance(exc, pydantic.ValidationError):
        return SchemaMismatch.reason_code
    return INTERNAL_ERROR


def is_bad_record(exc: BaseException) -> bool:
    """True when the record is at fault (dead-letter it); False for a bug in the hub."""
    return isinstance(exc, (RecordError, pydantic.ValidationError))


def describe(exc: BaseException) -> str:
    """A message naming every field at fault."""
    if isinstance(exc, pydantic.ValidationError):
        return "; ".join(
            f"{'.'.join(str(p) for p in err['loc']) or '(record)'}: {err['msg']}" for err in exc.errors()
        )
    return str(exc) or type(exc).__name__


def dead_letter_headers(exc: BaseException, origin: Origin, stage: str,
                        original: Sequence[tuple[str, bytes]] | None, *, now: datetime | None = None,
                        ) -> list[tuple[str, bytes]]:
    kept = [(k, v) for k, v in (original or ()) if not k.startswith(PREFIX)]
    when = (now or datetime.now(UTC)).isoformat(timespec="milliseconds")
    return kept + [
        ("dlq_reason", reason_of(exc).encode()),
        ("dlq_error_class", type(exc).__name__.encode()),
        ("dlq_error", describe(exc)[:MAX_MESSAGE].encode()),
        ("dlq_topic", origin.topic.encode()),
        ("dlq_partition", str(origin.partition).encode()),
        ("dlq_offset", str(origin.offset).encode()),
        ("dlq_time", when.encode()),
        ("dlq_stage", stage.encode()),
    ]
