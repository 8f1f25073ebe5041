"""The hub's errors, one tree. Only a :class:`RecordError` is the record's fault.

::

    HubError                        raised on purpose by hub code
    ├── RecordError                 THIS RECORD is bad: dead-lettered with its reason_code, the stream goes on
    │   ├── DecodeError             decode_error          bytes that are not a record of ours
    │   │   ├── NotConfluentFramed  bad_framing           no magic byte / schema id
    │   │   ├── UnknownSchemaId     unknown_schema_id     the registry has no such id
    │   │   ├── MalformedAvro       malformed_avro        the body does not match its writer schema
    │   │   ├── WrongRecord         unexpected_record     a record type this topic does not carry
    │   │   ├── KeyMismatch         key_mismatch          the record key is not the request id
    │   │   ├── MissingHeader       missing_cloudevents_header
    │   │   ├── BadHeader           invalid_cloudevents_header  present, but not a valid value
    │   │   └── UnreadableRecord    unreadable_record     the client library could not hand it over
    │   ├── ContentError            invalid_content       a field refused by admission (core.errors)
    │   │   └── SchemaMismatch      schema_mismatch       decoded, but not the model's shape
    │   ├── Conflict                conflict              same event id, other content / other request
    │   ├── IllegalTransition       illegal_transition    the lifecycle refuses the status change
    │   ├── Impersonation           impersonation         a producer claims to be someone it is not
    │   ├── TooLarge                too_large             the record or one of its outputs cannot fit
    │   ├── UnknownJourney          unknown_journey
    │   └── BadTick                 bad_tick              an internal SLA timer record we cannot read
    ├── TransientError              not the record's fault and will pass: retried with back-off, never dropped
    └── TargetRefused               push delivery: an endpoint URL or address the SSRF policy refuses

Anything else raised while a record is processed is a **bug**, not a bad record: it is counted on
``hub_internal_errors_total``, logged with its traceback, and the record is dead-lettered with reason
``internal_error`` so that nothing is lost (an alert fires on the first one).

Invariants:
* ``reason_code`` is a class attribute from the closed set :data:`REASON_CODES` (dead-letter headers,
  metric labels and ``hub dlq list --reason`` use it); the message is for people and names the field,
  topic, partition and offset where known, never echoing more than :data:`MAX_ECHO` characters of a value.
* This module is pure (no I/O, no third-party imports): every layer, the core included, may import it.
"""

from __future__ import annotations

from typing import ClassVar

#: The most characters of a refused value any error message repeats.
MAX_ECHO = 200
INTERNAL_ERROR = "internal_error"


def echo(value: object, limit: int = MAX_ECHO) -> str:
    """``repr(value)`` cut to ``limit`` characters (with the full length said), for error messages."""
    text = repr(value)
    if len(text) <= limit:
        return text
    return f"{text[:limit]}... ({len(text)} characters)"


class HubError(Exception):
    """Base of every error the hub raises on purpose."""


class RecordError(HubError, ValueError):
    """The record is bad: dead-lettered with ``reason_code``; the stream goes on."""

    reason_code: ClassVar[str] = "bad_record"


class DecodeError(RecordError):
    reason_code = "decode_error"


class NotConfluentFramed(DecodeError):
    reason_code = "bad_framing"


class UnknownSchemaId(DecodeError):
    reason_code = "unknown_schema_id"


class MalformedAvro(DecodeError):
    reason_code = "malformed_avro"


class WrongRecord(DecodeError):
    reason_code = "unexpected_record"


class KeyMismatch(DecodeError):
    reason_code = "key_mismatch"


class MissingHeader(DecodeError):
    reason_code = "missing_cloudevents_header"


class BadHeader(DecodeError):
    """A CloudEvents attribute that is present but unusable (not UTF-8, too long, not a time, ...)."""

    reason_code = "invalid_cloudevents_header"


class UnreadableRecord(DecodeError):
    """The Kafka client could not hand the record over (e.g. a header key that is not UTF-8)."""

    reason_code = "unreadable_record"


class ContentError(RecordError):
    """Admission refused a field (``hub.core.errors.ValidationError`` and ``ValidationErrors``)."""

    reason_code = "invalid_content"


class SchemaMismatch(ContentError):
    reason_code = "schema_mismatch"


class Conflict(RecordError):
    reason_code = "conflict"


class IllegalTransition(RecordError):
    reason_code = "illegal_transition"


class Impersonation(RecordError):
    reason_code = "impersonation"


class TooLarge(RecordError):
    reason_code = "too_large"


class UnknownJourney(RecordError):
    reason_code = "unknown_journey"


class BadTick(RecordError):
    reason_code = "bad_tick"


class TransientError(HubError):
    """Not the record's fault and expected to pass (registry or broker away): retry, never drop."""


class TargetRefused(HubError, ValueError):
    """An endpoint URL, or an address its host resolves to, that push delivery must not call (SSRF)."""


def _codes(root: type[RecordError]) -> set[str]:
    found = {root.reason_code}
    for sub in root.__subclasses__():
        found |= _codes(sub)
    return found


#: Every reason a dead letter can carry (closed set: metric label values and ``dlq_reason`` headers).
REASON_CODES: frozenset[str] = frozenset(_codes(RecordError) | {INTERNAL_ERROR})
