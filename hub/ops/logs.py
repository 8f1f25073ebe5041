"""Structured JSON logs: one JSON object per line, with the request id and event id being worked on.

Attach ids for a block of work with ``log_context`` (a contextvar, so each asyncio task keeps its own)::

    with log_context(request_id=event.request_id, event_id=event.event_id):
        log.info("routed to %s", topic)

or per call with ``log.info("...", extra={"request_id": ..., "event_id": ...})``.

Personal data never belongs in a log line. As a last line of defence the formatter masks any run of
16 digits (NIK and family-card numbers have 16) and 13 digits (BPJS card numbers) in the message.
"""

from __future__ import annotations

import contextlib
import json
import logging
import re
import sys
from collections.abc import Iterator, Mapping
from contextvars import ContextVar
from datetime import UTC, datetime
from types import MappingProxyType
from typing import Any

_NO_CONTEXT: Mapping[str, str] = MappingProxyType({})  # read-only: a shared default must not be mutated
_CONTEXT: ContextVar[Mapping[str, str]] = ContextVar("hub_log_context", default=_NO_CONTEXT)

# Fields a caller may pass through ``extra=`` or ``log_context`` (anything else in ``extra`` is ignored:
# bounded, known keys only, so that no payload ends up in the logs by accident).
CONTEXT_FIELDS = ("request_id", "event_id", "topic", "partition", "offset", "agency", "connector")
_PERSONAL_NUMBER = re.compile(r"(?<!\d)(\d{16}|\d{13})(?!\d)")
LEVELS = {"crit": logging.CRITICAL, "error": logging.ERROR, "warn": logging.WARNING, "info": logging.INFO,
          "debug": logging.DEBUG}


def mask_personal_numbers(text: str) -> str:
    """Replace 16-digit (NIK, No. KK) and 13-digit (BPJS) numbers with a placeholder."""
    return _PERSONAL_NUMBER.sub(lambda m: f"<{len(m.group(1))} digits>", text)


@contextlib.contextmanager
def log_context(**fields: object) -> Iterator[None]:
    """Attach ``request_id``, ``event_id``, ... to every log record emitted inside the block."""
    unknown = set(fields) - set(CONTEXT_FIELDS)
    if unknown:
        raise ValueError(f"log_context: unknown fields {sorted(unknown)}; allowed: {CONTEXT_FIELDS}")
    token = _CONTEXT.set({**_CONTEXT.get(), **{k: str(v) for k, v in fields.items() if v is not None}})
    try:
        yield
    finally:
        _CONTEXT.reset(token)


class JsonFormatter(logging.Formatter):
    """``{"ts": ..., "level": ..., "logger": ..., "msg": ..., "role": ..., "request_id": ..., ...}``"""

    def __init__(self, role: str = "hub", service: str = "banyuwangi-hub"):
        super().__init__()
        self.role = role
        self.service = service

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "ts": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "msg": mask_personal_numbers(record.getMessage()),
            "service": self.service,
            "role": self.role,
        }
        entry.update(_CONTEXT.get())
        for name in CONTEXT_FIELDS:
            value = record.__dict__.get(name)
            if value is not None:
                entry[name] = value if isinstance(value, int) else str(value)
        if record.exc_info:
            entry["exc_type"] = record.exc_info[0].__name__ if record.exc_info[0] else None
            entry["exc"] = mask_personal_numbers(self.formatException(record.exc_info))
        return json.dumps(entry, ensure_ascii=False, default=str)


def configure(role: str, level: str | int = "info", stream: Any = None) -> logging.Handler:
    """Send every log record of this process to ``stream`` (stderr by default) as JSON lines.

    Replaces the root logger's handlers; returns the handler installed."""
    handler = logging.StreamHandler(stream or sys.stderr)
    handler.setFormatter(JsonFormatter(role))
    root = logging.getLogger()
    for old in list(root.handlers):
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(LEVELS.get(level, level) if isinstance(level, str) else level)
    logging.captureWarnings(True)
    return handler


def dict_config(role: str, level: str | int = "info") -> dict[str, Any]:
    """The same set-up as a ``logging.config.dictConfig`` dict (for ``faust.Worker(logging_config=...)``)."""
    numeric = LEVELS.get(level, level) if isinstance(level, str) else level
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "formatters": {"json": {"()": JsonFormatter, "role": role}},
        "handlers": {"json": {"class": "logging.StreamHandler", "formatter": "json",
                              "stream": "ext://sys.stderr"}},
        "root": {"level": numeric, "handlers": ["json"]},
    }
