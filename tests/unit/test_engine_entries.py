"""Table entries: compact JSON bytes, readable by what Faust's JSON serializer wrote before."""

from __future__ import annotations

from faust.utils import json as faust_json

from hub.streams.engine import pack, unpack

ENTRY = {"v": 1, "p": 3, "state": {"request_id": "SK-1", "status": "SUBMITTED", "history": [["e1", "SUBMITTED",
         "2026-11-29T08:00:00+00:00", "diajukan"]]}, "fired": [], "done": False, "phone": None,
         "seen": {"/desk|e1": ["ab", "hub.intake.v1", 0, 7]}, "ids": {"e1": "ab"}}


def test_pack_is_compact_json_and_unpack_inverts_it():
    raw = pack(ENTRY)
    assert b": " not in raw and b", " not in raw
    assert unpack(raw) == ENTRY


def test_entries_written_by_fausts_json_serializer_still_read():
    assert unpack(faust_json.dumps(ENTRY).encode()) == ENTRY


def test_no_value_is_no_entry():
    assert unpack(None) is None and unpack(b"") is None
