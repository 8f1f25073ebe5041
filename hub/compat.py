"""Every patch the hub makes to faust-streaming and aiokafka, in one place, for the versions written for.

:func:`check_versions` refuses to run on other versions (a test fails on an upgrade, so the patches are
re-read against the new code before they are trusted again):

======================  ==========================================================================
library                 patch
======================  ==========================================================================
aiokafka 0.14           :func:`tolerate_unreadable_headers`: a record whose header key is not UTF-8
                        no longer kills the consumer (below)
faust-streaming 0.15    :func:`rewind_fresh_partitions`: a group without commits never skips input
                        after recovery's seek (faust/tables/recovery.py + aiokafka seek_to_committed)
faust-streaming 0.15    :func:`raw_producer` + :func:`check_after_flush`: records go straight to the
                        app's aiokafka producer (``hub.streams.emit``); the flush Faust runs before
                        every offset commit re-raises a failed delivery
faust-streaming 0.15    :func:`write_table`: a table key written outside the stream's iteration (a
                        batch), to the partition given instead of the current event's, its
                        changelog record handed to the producer directly
======================  ==========================================================================

The Faust patches take the app or its producer as an argument and import nothing from Faust at module level,
so every process may import this module (``hub.wire.clients`` does) without loading Faust.

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
with reason ``unreadable_record`` (``hub.streams.kafka_io.check_readable``) and the partition goes on.
Upstream proposal (aiokafka): surface a per-record error the consumer can skip, or hand undecodable
keys over as bytes, instead of failing the whole fetch.
"""

from __future__ import annotations

import logging
import struct
import weakref
from collections.abc import Awaitable, Callable, Iterator, Mapping
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


# ----------------------------------------------------------------------------------------------------------
# faust-streaming 0.15: never skip input of a consumer group that has not committed yet
# ----------------------------------------------------------------------------------------------------------
def rewind_fresh_partitions(app: Any) -> Any:
    """Make recovery's seek rewind a partition without a committed offset to its start (call before the worker
    starts; returns ``app``).

    Faust "seeks stream partitions to committed offsets" at the end of every recovery
    (``faust/tables/recovery.py`` ``on_recovery_completed`` / ``_resume_streams``, via
    ``Consumer.perform_seek``), and only *then* resumes flow control, which clears every stream queue
    (``mode.utils.queues.FlowControlEvent.resume``). Records the fetcher delivered in between -- it is
    already running, and the stream partitions were resumed just before the seek -- are thrown away on
    the assumption that the seek rewound the position to re-read them. But aiokafka's
    ``seek_to_committed`` leaves the position alone when a partition has no committed offset (or 0): the
    records are consumed and dropped, the position stays after them, and the worker silently skips them.
    That is exactly the state after a worker is killed before its group's first offset commit.

    The patched seek rewinds such a partition to its start (auto_offset_reset=earliest: the position the
    group would have started from), and stops the consumer flow before the seek, so nothing is fetched
    between the seek and the queue clearing (faust resumes the flow right after; that window exists for
    committed partitions too). Records the agent already handled before the seek are handled again, which
    is harmless (the engine deduplicates by event id); none are lost.
    """
    check_versions()
    new_consumer = app._new_consumer

    def _new_consumer() -> Any:
        consumer = new_consumer()
        _rewind_on_seek(app, consumer)
        return consumer

    app._new_consumer = _new_consumer
    return app


def _rewind_on_seek(app: Any, consumer: Any) -> None:
    seek_to_committed = consumer.seek_to_committed

    async def seek_to_committed_or_beginning() -> Mapping[Any, int | None]:
        # Nothing may be fetched and queued between the seek and faust clearing the queues: a fetch there
        # moves the position past records that are then dropped. Every caller of perform_seek resumes the
        # flow right after it (recovery) or has already stopped it (Consumer.getmany).
        if consumer.flow_active:
            consumer.stop_flow()
        committed = await seek_to_committed()
        changelogs = app.tables.changelog_topics  # standby/active changelogs: positioned by recovery itself
        fresh = sorted((tp for tp, offset in committed.items() if not offset and tp.topic not in changelogs),
                       key=lambda tp: (tp.topic, tp.partition))
        if fresh:
            # Offset 0; if retention removed it, aiokafka resets to the earliest offset (auto_offset_reset).
            await consumer.seek_wait({tp: 0 for tp in fresh})
            log.info("no committed offset: %s read from the beginning",
                     ", ".join(f"{tp.topic}[{tp.partition}]" for tp in fresh))
        return committed

    consumer.seek_to_committed = seek_to_committed_or_beginning


# ----------------------------------------------------------------------------------------------------------
# faust-streaming 0.15: the app's aiokafka producer, and a check after the flush that precedes every commit
# ----------------------------------------------------------------------------------------------------------
def raw_producer(faust_producer: Any) -> Any:
    """The started ``AIOKafkaProducer`` inside Faust's producer (``app.producer``): faust 0.15's
    ``faust/transport/drivers/aiokafka.py`` ``Producer._ensure_producer``."""
    return faust_producer._ensure_producer()


def check_after_flush(faust_producer: Any, check: Callable[[], None]) -> None:
    """Run ``check()`` after every flush of Faust's producer. Faust flushes it before every offset commit
    (faust 0.15 ``Consumer._commit_offsets`` -> ``Consumer.maybe_wait_for_commit_to_finish`` /
    ``app.producer.flush``), so a ``check`` that raises stops that commit."""
    flush: Callable[[], Awaitable[None]] = faust_producer.flush

    async def flush_then_check() -> None:
        await flush()
        check()

    faust_producer.flush = flush_then_check


# ----------------------------------------------------------------------------------------------------------
# faust-streaming 0.15: write a table key to a given partition, outside the stream's iteration
# ----------------------------------------------------------------------------------------------------------
class _PartitionEvent:
    """Stands in for the current event where Faust's stores read only its partition."""

    __slots__ = ("message", "__weakref__")

    class _Message:
        __slots__ = ("partition",)

        def __init__(self, partition: int):
            self.partition = partition

    def __init__(self, partition: int):
        self.message = self._Message(partition)


def write_table(table: Any, key: Any, value: Any, partition: int) -> tuple[str, bytes, Callable[[Any], None]]:
    """``table[key] = value`` for a key of ``partition``, from a batch (no current event); returns the
    changelog record to send (topic, key bytes) and what to call with its metadata once the brokers have it.

    ``Table.__setitem__`` (faust 0.15 ``faust/tables/table.py`` ``on_key_set`` ->
    ``Collection.partition_for_key``) takes the changelog partition from the *current event*
    (``faust.streams.current_event``), and so does the RocksDB store for its partition database
    (``faust/stores/rocksdb.py`` ``Store._set``). A batch writes its keys after its events, outside the
    stream's iteration, so the partition is given: the store write runs with a stand-in current event of that
    partition. The changelog record is what ``Collection.send_changelog`` would send (the key through the
    table's key serializer, the value as it is: bytes), but handed to the app's aiokafka producer by the
    caller rather than through Faust's ``send_soon`` machinery; once the brokers have it, the returned
    callback does what ``Collection._on_changelog_sent`` does at-least-once (``Store.set_persisted_offset``).
    Tables of the hub have no TTL (``_maybe_set_key_ttl``) and no sensors to feed.
    """
    from faust import streams
    from faust.serializers import codecs

    stand_in = _PartitionEvent(partition)
    token = streams._current_event.set(weakref.ref(stand_in))  # type: ignore[arg-type]
    try:
        table.data[key] = value
    finally:
        streams._current_event.reset(token)
    store = table.data

    def persisted(metadata: Any) -> None:
        store.set_persisted_offset(metadata.topic_partition, metadata.offset)

    return table.changelog_topic.get_topic_name(), codecs.dumps(table.key_serializer, key), persisted
