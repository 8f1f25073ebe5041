"""Content limits: how long each field of a lifecycle event may be, and of which characters.

One set of rules for every door into the hub: the worker's admission (``hub.core.admission.admit``)
and the village-desk API (its pydantic models take their maxima and patterns from here; its
``build_submission`` / ``build_status_update`` run ``admit``).

Three kinds of string:

* **free text** (``citizen.name``, ``citizen.address``, ``note``): trimmed, Unicode NFC, not empty,
  at most ``*_MAX`` characters, none of the characters a person cannot see or that change how the
  text around them reads: control characters (``Cc``, except newline and tab where several lines
  are allowed), format characters (``Cf``: the bidirectional overrides and isolates U+202A..U+202E,
  U+2066..U+2069, zero-width characters, U+FEFF ...), lone surrogates (``Cs``: a JSON ``"\\ud800"``),
  private-use characters (``Co``) and the line/paragraph separators U+2028/U+2029.
* **labels** (``native_status``): one line of letters, digits, spaces and ``. , / ( ) ' & + _ -``.
* **tokens** (ids, ``source_system``): ASCII, from a fixed alphabet, bounded.

Invariants: every refusal is a :class:`hub.core.errors.ValidationError` naming the field; a refused
*personal* value (free text) is never repeated in the reason, only its length or the position and
code point of the offending character; other values are echoed through :func:`hub.errors.echo`
(at most ``hub.errors.MAX_ECHO`` characters). The checks are linear in the value's length and the
length is checked first, so a 1 MB value costs no more than a glance.
"""

from __future__ import annotations

import re
import unicodedata
from datetime import UTC, date, datetime
from typing import Final

from hub.core.errors import ValidationError
from hub.errors import echo

# -- maxima (characters) -------------------------------------------------------------------------------
NAME_MAX: Final = 100
ADDRESS_MAX: Final = 200
NOTE_MAX: Final = 500
NATIVE_STATUS_MAX: Final = 64
SOURCE_SYSTEM_MAX: Final = 64
ID_MAX: Final = 128
PHONE_INPUT_MAX: Final = 32  # as typed, separators included (the E.164 form has at most 15 digits)

# -- time bounds -----------------------------------------------------------------------------------------
EARLIEST_OCCURRED: Final = datetime(2000, 1, 1, tzinfo=UTC)  # no request in the hub's world is older
EARLIEST_BIRTH: Final = date(1900, 1, 1)

# -- alphabets (regular expressions, also published in the desk API's OpenAPI document) --------------------
ID_PATTERN: Final = r"^[A-Za-z0-9][A-Za-z0-9._:/@+=~-]*$"
SOURCE_SYSTEM_PATTERN: Final = r"^[A-Za-z0-9][A-Za-z0-9._-]*$"
LABEL_PATTERN: Final = r"^[^\W_][\w .,/()'&+-]*$"
PHONE_PATTERN: Final = r"^\+?[0-9 ().-]+$"

_ID: Final = re.compile(ID_PATTERN)
_SOURCE_SYSTEM: Final = re.compile(SOURCE_SYSTEM_PATTERN)
_LABEL: Final = re.compile(LABEL_PATTERN)
_ASCII_CONTROL: Final = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")  # not \t \n \r
_ASCII_CONTROL_ONE_LINE: Final = re.compile(r"[\x00-\x1f\x7f]")

_REFUSED_CATEGORIES: Final = {
    "Cc": "control", "Cf": "invisible formatting (e.g. bidirectional)", "Cs": "lone surrogate",
    "Co": "private-use", "Zl": "line separator", "Zp": "paragraph separator",
}
_MULTILINE_CONTROLS: Final = frozenset("\n\r\t")


def _bounded(value: object, field: str, limit: int) -> str:
    if not isinstance(value, str):
        raise ValidationError(field, f"must be a string, got {type(value).__name__}")
    if len(value) > limit:
        raise ValidationError(field, f"must be at most {limit} characters, got {len(value)}")
    return value


def _refused_character(value: str, multiline: bool) -> tuple[int, str, str] | None:
    """(position, code point, kind) of the first character free text may not hold, or None."""
    if value.isascii():
        found = (_ASCII_CONTROL if multiline else _ASCII_CONTROL_ONE_LINE).search(value)
        return (found.start(), f"U+{ord(found.group()):04X}", "control") if found else None
    for i, char in enumerate(value):
        kind = _REFUSED_CATEGORIES.get(unicodedata.category(char))
        if kind is not None and not (multiline and char in _MULTILINE_CONTROLS):
            return i, f"U+{ord(char):04X}", kind
    return None


def text(value: object, field: str, limit: int, *, multiline: bool = False) -> str:
    """Free text (personal or not): the trimmed NFC form, or ValidationError (the value never echoed)."""
    raw = _bounded(value, field, limit)
    bad = _refused_character(raw, multiline)
    if bad is not None:
        i, point, kind = bad
        raise ValidationError(field, f"holds a {kind} character ({point}) at position {i + 1}")
    cleaned = unicodedata.normalize("NFC", raw.strip())
    if not cleaned:
        raise ValidationError(field, "must not be empty or only spaces")
    return cleaned


def label(value: object, field: str, limit: int = NATIVE_STATUS_MAX) -> str:
    """One line of words (a native status): trimmed, letters/digits/spaces and ``.,/()'&+_-`` only."""
    cleaned = text(value, field, limit)
    if not _LABEL.fullmatch(cleaned):
        raise ValidationError(field, f"{echo(cleaned)} must be words: letters, digits, spaces and "
                                     ". , / ( ) ' & + _ -")
    return cleaned


ID_ALPHABET: Final = "ASCII letters, digits and . _ : / @ + = ~ - (starting with a letter or digit)"


def token(value: object, field: str, limit: int = ID_MAX, *, pattern: re.Pattern[str] = _ID,
          alphabet: str = ID_ALPHABET) -> str:
    """An id or code: exactly as given (never rewritten: ids are compared), bounded, of ``alphabet``."""
    raw = _bounded(value, field, limit)
    if not pattern.fullmatch(raw):
        raise ValidationError(field, f"{echo(raw)} must be 1-{limit} {alphabet}")
    return raw


def source_system(value: object, field: str = "source_system") -> str:
    return token(value, field, SOURCE_SYSTEM_MAX, pattern=_SOURCE_SYSTEM,
                 alphabet="ASCII letters, digits and . _ - (starting with a letter or digit)")
