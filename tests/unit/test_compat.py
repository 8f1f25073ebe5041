"""hub.compat: the patches fit the library versions installed, and a header key that is not UTF-8 no longer
kills a consumer."""

from __future__ import annotations

import struct

import pytest
from aiokafka.record.memory_records import MemoryRecords

from hub import compat
from hub.compat import UNREADABLE_HEADER, TolerantMemoryRecords
from tests.support.poison import RawKey, batch_bytes


def log_entry(batch: bytes, base_offset: int = 0) -> bytes:
    """What a fetch response holds per batch: base offset (8 bytes), length (4), the batch."""
    return struct.pack(">qi", base_offset, len(batch) - 12) + batch[12:]


RECORDS = [(b"k0", b"v0", [("ce_id", b"0")]),
           (b"k1", b"v1", [(RawKey(b"ce_\xff\xfe"), b"x"), ("ce_id", b"1")]),
           (b"k2", b"v2", [("ce_id", b"2")])]


def test_the_patches_are_for_the_installed_versions():
    """Fails on an upgrade of aiokafka or faust-streaming: re-read hub/compat.py against the new code."""
    compat.check_versions()
    assert {name: v.rsplit(".", 1)[0] for name, v in compat.installed().items()} == compat.WRITTEN_FOR


def test_the_native_reader_fails_on_a_header_key_that_is_not_utf8():
    data = log_entry(batch_bytes(RECORDS))
    batch = MemoryRecords(data).next_batch()
    with pytest.raises((UnicodeDecodeError, ValueError)):
        list(batch)


def test_the_tolerant_reader_hands_over_every_record_and_marks_the_unreadable_key():
    data = log_entry(batch_bytes(RECORDS)) + log_entry(batch_bytes([(b"k3", b"v3", [])]), 3)
    records = TolerantMemoryRecords(data)
    seen = []
    while records.has_next():
        batch = records.next_batch()
        assert batch.validate_crc()
        seen += [(r.offset, r.key, r.value, list(r.headers)) for r in batch]
    assert [s[:3] for s in seen] == [(0, b"k0", b"v0"), (1, b"k1", b"v1"), (2, b"k2", b"v2"),
                                     (3, b"k3", b"v3")]
    assert seen[1][3] == [(UNREADABLE_HEADER, b"ce_\xff\xfe"), ("ce_id", b"1")]
    assert seen[0][3] == [("ce_id", b"0")] and seen[2][3] == [("ce_id", b"2")]


def test_a_healthy_batch_reads_as_before():
    data = log_entry(batch_bytes([(b"a", b"b", [("h", b"v")])]))
    native = [(r.offset, r.key, r.value, tuple(r.headers)) for r in MemoryRecords(data).next_batch()]
    tolerant = [(r.offset, r.key, r.value, tuple(r.headers))
                for r in TolerantMemoryRecords(data).next_batch()]
    assert native == tolerant == [(0, b"a", b"b", (("h", b"v"),))]
