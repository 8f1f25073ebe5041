"""JSON request bodies that cannot hurt the server: size, media type, charset, depth and number size are
checked before anything parses or validates them.

Use :class:`JsonBodyRoute` as an app's route class (``FastAPI(...); app.router.route_class = JsonBodyRoute``
before adding routes). For a request with a body (POST, PUT, PATCH) it, in order:

* refuses a body over :data:`MAX_BODY_BYTES` with 413 (from ``Content-Length`` before reading, or while
  reading a chunked body), field ``(body)``;
* refuses a ``Content-Type`` that is not JSON (``application/json`` or ``*/*+json``; none means JSON, as
  in FastAPI) or a charset other than UTF-8 with 415, field ``Content-Type`` (RFC 8259 §8.1: JSON
  exchanged between systems is UTF-8; aiohttp answered an unknown charset with a LookupError, a 500);
* refuses with 400, field ``(body)``: bytes that are not UTF-8; JSON nested deeper than
  :data:`MAX_DEPTH` (the standard library's parser recurses: ~1,000 levels raise RecursionError);
  an integer literal of more than :data:`MAX_INT_DIGITS` digits (CPython refuses to convert more than
  4,300 with a ValueError, and smaller ones still cost quadratic time); ``NaN``/``Infinity`` (not
  JSON) and numbers beyond a float (``1e999999``); a string holding a lone surrogate escape
  (``"\\ud800"``: not text, and it breaks every encoder downstream); anything else ``json.loads`` refuses;
* then hands the parsed value to FastAPI, which validates it against the endpoint's pydantic model
  (422 per field) exactly as it would have parsed it itself.

Relies on FastAPI's documented custom-route hook (``APIRoute.get_route_handler``, "Custom Request and
APIRoute class") and on its request handler reading the body through ``Request.json()``
(fastapi/routing.py ``get_request_handler``), which :class:`JsonBodyRequest` answers from the value
already checked.
"""

from __future__ import annotations

import email.message
import json
import math
import re
from collections.abc import Callable, Coroutine
from typing import Any, Final

from fastapi import Request, Response
from fastapi.routing import APIRoute

from hub.http.errors import ApiError

MAX_BODY_BYTES: Final = 64 * 1024
MAX_DEPTH: Final = 16
MAX_INT_DIGITS: Final = 32
BODY_METHODS: Final = frozenset({"POST", "PUT", "PATCH"})
_STRINGS: Final = re.compile(r'"(?:[^"\\]|\\.)*"', re.DOTALL)
_BRACKETS: Final = re.compile(r"[\[\]{}]")


def _refuse(reason: str, status: int = 400, field: str = "(body)") -> ApiError:
    return ApiError(status, field, reason)


def check_media_type(content_type: str | None) -> None:
    """415 unless ``content_type`` is absent or JSON in UTF-8."""
    if not content_type:
        return
    message = email.message.Message()
    message["content-type"] = content_type
    maintype, subtype = message.get_content_maintype(), message.get_content_subtype()
    if maintype != "application" or not (subtype == "json" or subtype.endswith("+json")):
        raise _refuse("must be application/json", 415, "Content-Type")
    charset = message.get_param("charset")
    if charset is not None and str(charset).strip().lower() not in ("utf-8", "utf8"):
        raise _refuse("charset must be utf-8 (JSON is exchanged in UTF-8, RFC 8259)", 415, "Content-Type")


def _depth(text: str) -> int:
    """How deeply arrays and objects nest in ``text`` (brackets inside strings do not count)."""
    depth = deepest = 0
    for bracket in _BRACKETS.findall(_STRINGS.sub('""', text)):
        depth += 1 if bracket in "[{" else -1
        deepest = max(deepest, depth)
    return deepest


class _Refused(ValueError):
    pass


def _int(literal: str) -> int:
    if len(literal.lstrip("-")) > MAX_INT_DIGITS:
        raise _Refused(f"a number of more than {MAX_INT_DIGITS} digits")
    return int(literal)


def _float(literal: str) -> float:
    value = float(literal)
    if not math.isfinite(value):
        raise _Refused("a number out of range")
    return value


def _constant(name: str) -> Any:
    raise _Refused(f"{name} is not JSON")


def _no_lone_surrogates(value: Any, path: str = "") -> None:
    if isinstance(value, str):
        try:
            value.encode("utf-8")
        except UnicodeEncodeError:
            raise _Refused(f"{path or 'a string'} holds a lone surrogate escape (not text)") from None
    elif isinstance(value, dict):
        for key, item in value.items():
            _no_lone_surrogates(key, path)
            _no_lone_surrogates(item, f"{path}.{key}" if path else str(key))
    elif isinstance(value, list):
        for i, item in enumerate(value):
            _no_lone_surrogates(item, f"{path}[{i}]")


def parse_json(raw: bytes) -> Any:
    """The JSON value of ``raw``, or ApiError 400 saying why not (never echoing the body)."""
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise _refuse(f"not UTF-8 (byte {exc.start + 1})") from None
    if _depth(text) > MAX_DEPTH:
        raise _refuse(f"nested deeper than {MAX_DEPTH} levels")
    try:
        value = json.loads(text, parse_int=_int, parse_float=_float, parse_constant=_constant)
        _no_lone_surrogates(value)
    except _Refused as exc:
        raise _refuse(str(exc)) from None
    except json.JSONDecodeError as exc:
        raise _refuse(f"not JSON: {exc.msg} at line {exc.lineno} column {exc.colno}") from None
    return value


async def read_limited(request: Request, limit: int = MAX_BODY_BYTES) -> bytes:
    """The request body, or ApiError 413 once it is known to exceed ``limit`` bytes."""
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > limit:
        raise _refuse(f"larger than {limit} bytes", 413)
    chunks, size = [], 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise _refuse(f"larger than {limit} bytes", 413)
        chunks.append(chunk)
    return b"".join(chunks)


class JsonBodyRequest(Request):
    """A request whose body :class:`JsonBodyRoute` has read and checked: ``body()`` and ``json()`` answer
    from what it found (the stream is consumed; FastAPI reads through these two)."""

    raw: bytes = b""
    parsed: Any = None

    async def body(self) -> bytes:
        return self.raw

    async def json(self) -> Any:
        return self.parsed


class JsonBodyRoute(APIRoute):
    """An APIRoute that checks a request's body (see the module docstring) before FastAPI parses it."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()
        has_body = self.body_field is not None

        async def checked(request: Request) -> Response:
            if not has_body or request.method not in BODY_METHODS:
                return await handler(request)
            checked_request = JsonBodyRequest(request.scope, request.receive)
            checked_request.raw = await read_limited(request)
            if checked_request.raw:
                check_media_type(request.headers.get("content-type"))
                checked_request.parsed = parse_json(checked_request.raw)
            return await handler(checked_request)

        return checked
