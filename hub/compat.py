"""Every patch the hub makes to faust-streaming and aiokafka, in one place, for the versions written for.

:func:`check_versions` refuses to run on other versions (a test fails on an upgrade, so the patches are
re-read against the new code before they are trusted again):

======================  ==========================================================================
library                 patch
======================  ==========================================================================
aiokafka 0.14           :func:`tolerate_unreadable_headers`: a record whose header key is not UTF-8
                        no longer kills the consumer (below)
faust-streaming 0.15    ``hub.streams.offsets.guard``: a group without commits never skips input
                        after recovery's seek (faust/tables/recovery.py + aiokafka seek_to_committed)
faust-streaming 0.15    ``hub.streams.emit``: records go straight to the app's aiokafka producer;
                        the flush before each commit re-raises a failed delivery
======================  ==========================================================================

**Unreadable header keys** (aiokafka 0.14). A Kafka header key is a protocol STRING, but brokers do not
check that it is UTF-8. aiokafka decodes every key while iterating a record batch
(``aiokafka/record/default_records.py`` ``_read_msg``: ``.decode("utf-8")``, and the same in the C
extension ``_crecords/default_records.pyx``), inside the fetcher's ``PartitionRecords._unpack_records``
(``aiokafka/consumer/fetcher.py``); the ``UnicodeDecodeError`` escapes ``getmany``, the worker crashes, and
after a restart it fetches the same batch and crashes again, for ever. The patch wraps the fetcher's
``MemoryRecords`` so that each v2 batch is iterated by the fast C code as before and, only if that
fails on a header key, is read again by aiokafka's own Python batch parser with one change: a key that is
not UTF-8 becomes the header ``hub_unreadable_header`` whose value is the key's raw bytes. The record
itself (key, value, the other headers, its offset) is delivered untouched, so the worker dead-letters it
with reason ``unreadable_record`` (``hub.streams.router.check_readable``) and the partition goes on.
Upstream proposal (aiokafka): surface a per-record error the consumer can skip, or hand undecodable
keys over as bytes, instead of failing the whole fetch.
"""

from __future__ import annotations

import logging
import struct
from collections.abc import Iterator
from importlib.metadata import version as _version
from typing import Any

from aiokafka.consumer import fetcher
from aiokafka.errors import CorruptRecordException
from aiokafka.record.default_records import _DefaultRecordBatchPy, _DefaultRecordPy
from aiokafka.record.memory_records import MemoryRecords as _NativeMemoryRecords
from aiokafka.record.util import decode_varint

log = logging.getLogger("hub.compat")

#: The versions the patches were written against (major.minor).
WRITTEN_FOR = {"aiokafka": "0.14", "faust-streaming": "0.15"}
#: The header an undecodable header key is handed over as (its value: the key's raw bytes).
UNREADABLE_HEADER = "hub_unreadable_header"


class IncompatibleLibrary(RuntimeError):
    """A patched library is at a version the patches were not written for."""


def installed() -> dict[str, str]:
    return {name: _version(name) for name in WRITTEN_FOR}


def check_versions() -> None:
    """Raise :class:`IncompatibleLibrary` unless every patched library is at the version patched."""
    for name, version in installed().items():
        if not version.startswith(WRITTEN_FOR[name] + "."):
            raise IncompatibleLibrary(f"{name} {version} is installed; hub/compat.py patches {name} "
                                      f"{WRITTEN_FOR[name]}.x: re-read the patches against the new code")


class _TolerantPyBatch(_DefaultRecordBatchPy):
    """aiokafka's Python batch parser, reading a header key that is not UTF-8 as ``UNREADABLE_HEADER``."""

    def _read_msg(self, decode_varint: Any = decode_varint) -> _DefaultRecordPy:
        # aiokafka 0.14 _DefaultRecordBatchPy._read_msg, the header key decoding aside.
        buffer = self._buffer
        pos: int = self._pos  # type: ignore[has-type]  # set in aiokafka's __init__ without annotation
        length, pos = decode_varint(buffer, pos)
        start_pos = pos
        _, pos = decode_varint(buffer, pos)  # attributes
        ts_delta, pos = decode_varint(buffer, pos)
        timestamp = self.max_timestamp if self.timestamp_type == self.LOG_APPEND_TIME else \
            self.first_timestamp + ts_delta
        offset_delta, pos = decode_varint(buffer, pos)
        parts: list[bytes | None] = []
        for _ in range(2):  # key, value
            size, pos = decode_varint(buffer, pos)
            parts.append(bytes(buffer[pos:pos + size]) if size >= 0 else None)
            pos += max(size, 0)
        count, pos = decode_varint(buffer, pos)
        if count < 0:
            raise CorruptRecordException(f"Found invalid number of record headers {count}")
        headers: list[tuple[str, bytes | None]] = []
        for _ in range(count):
            size, pos = decode_varint(buffer, pos)
            if size < 0:
                raise CorruptRecordException(f"Invalid negative header key size {size}")
            raw_key = bytes(buffer[pos:pos + size])
            pos += size
            value_size, pos = decode_varint(buffer, pos)
            value = bytes(buffer[pos:pos + value_size]) if value_size >= 0 else None
            pos += max(value_size, 0)
            try:
                headers.append((raw_key.decode("utf-8"), value))
            except UnicodeDecodeError:
                headers.append((UNREADABLE_HEADER, raw_key))
        if pos - start_pos != length:
            raise CorruptRecordException(f"Invalid record size: expected to read {length} bytes in record "
                                         f"payload, but instead read {pos - start_pos}")
        self._pos = pos
        return _DefaultRecordPy(self.base_offset + offset_delta, timestamp, self.timestamp_type, parts[0],
                                parts[1], headers)


class _TolerantBatch:
    """A v2 batch: the native one, and its bytes to read again tolerantly if it fails on a header key."""

    __slots__ = ("_batch", "_raw")

    def __init__(self, batch: Any, raw: memoryview):
        self._batch = batch
        self._raw = raw

    def __getattr__(self, name: str) -> Any:
        return getattr(self._batch, name)

    def __next__(self) -> Any:  # the fetcher reads control batches with next()
        return next(self._batch)

    def __iter__(self) -> Iterator[Any]:
        last = -1
        try:
            for record in self._batch:
                last = record.offset
                yield record
            return
        except (UnicodeDecodeError, CorruptRecordException) as exc:
            log.warning("record batch at offset %d: %s; reading it again, undecodable header keys "
                        "handed over as %s", self._batch.base_offset, type(exc).__name__, UNREADABLE_HEADER)
        for record in _TolerantPyBatch(self._raw):
            if record.offset > last:
                yield record


class TolerantMemoryRecords:
    """aiokafka's ``MemoryRecords`` whose v2 batches survive undecodable header keys (module doc)."""

    __slots__ = ("_records", "_data", "_pos")
    _LENGTH = struct.Struct(">i")

    def __init__(self, data: bytes):
        self._records = _NativeMemoryRecords(data)
        self._data = data
        self._pos = 0

    def has_next(self) -> bool:
        return self._records.has_next()

    def size_in_bytes(self) -> int:
        return self._records.size_in_bytes()

    def next_batch(self) -> Any:
        batch = self._records.next_batch()
        if batch is None:
            return None
        # The same framing MemoryRecords follows: offset (8 bytes), length (4), then `length` bytes.
        end = self._pos + 12 + self._LENGTH.unpack_from(self._data, self._pos + 8)[0]
        raw = memoryview(self._data)[self._pos:end]
        self._pos = end
        return _TolerantBatch(batch, raw) if batch.magic >= 2 else batch


def tolerate_unreadable_headers() -> None:
    """Install :class:`TolerantMemoryRecords` in aiokafka's fetcher (idempotent)."""
    check_versions()
    setattr(fetcher, "MemoryRecords", TolerantMemoryRecords)  # noqa: B010 (a module global, patched)
