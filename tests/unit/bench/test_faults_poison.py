"""The fault campaign's fuzzed intake (bench.faults.poison), held to the hub's own per-record logic
in-process: every sample the campaign says the hub must refuse is refused, every valid one routed, every
resend dropped, and no sample at all makes the engine raise anything but a record error. So the campaign's
expectations are the hub's rules, and a sample that the real worker treats otherwise points at the worker,
not the sample.

The one kind the engine cannot be asked about is the header key that is not UTF-8: aiokafka's fetcher fails
on it before the hub sees the record (issue 11); the campaign checks it on the real broker.
"""

from __future__ import annotations

from collections import Counter

import pytest

from bench.faults.harness import DESK_NODES
from bench.faults.poison import DENY, DROP, EITHER, REFUSE, ROUTE, STOPPERS, RawKey, forge
from hub.core import catalogue
from hub.settings import Settings
from hub.streams.engine import RequestEngine as Engine
from hub.wire.codec import Codec
from hub.wire.deadletter import Origin, is_bad_record, reason_of
from hub.wire.registry import MemoryRegistry

SETTINGS = Settings(desk_nodes=DESK_NODES, citizen_ref_key="test")
AT_THE_CONSUMER = {"header_key_not_utf8"}


@pytest.fixture(scope="module")
def outcomes() -> list[tuple[str, str, str]]:
    codec = Codec(MemoryRegistry(), register=True)
    engine = Engine(SETTINGS, codec, catalogue.agencies())
    samples = forge(SETTINGS, codec, 1500, seed=4, big=1)
    entries: dict[str | None, dict] = {}
    out = []
    for offset, sample in enumerate(samples):
        if sample.expect == DENY or sample.kind in AT_THE_CONSUMER:
            out.append((sample.kind, sample.expect, "not asked"))
            continue
        key = sample.key.decode("utf-8", "replace") if sample.key else None
        try:
            result = engine.on_intake(entries.get(key), sample.key, sample.value, list(sample.headers),
                                      Origin(sample.topic, 0, offset), 0)
        except Exception as exc:  # noqa: BLE001 - what the worker's agent catches
            assert is_bad_record(exc), f"{sample.kind}: {exc!r}"  # not a bug in the hub
            out.append((sample.kind, sample.expect, f"refuse:{reason_of(exc)}"))
            continue
        if result.entry is not None:
            entries[key] = result.entry
        out.append((sample.kind, sample.expect, DROP if result.duplicate else ROUTE))
    return out


def test_every_kind_of_the_issue_is_forged(outcomes: list[tuple[str, str, str]]) -> None:
    kinds = {kind for kind, _, _ in outcomes}
    expected = {"null_ce_id", "ce_id_not_utf8", "ce_id_not_event_id", "ce_type_wrong", "header_key_not_utf8",
                "unknown_schema_id", "garbage_bytes", "truncated_avro", "bad_phone", "occurred_1970",
                "occurred_2099", "occurred_year_1", "birth_contradicts_nik", "birth_2099", "huge_name",
                "impersonation_other_agency", "impersonation_village_of_other_node", "same_millisecond",
                "denied_other_principals_topic", "mutate_bytes", *(kind for kind, _, _ in STOPPERS)}
    missing = {k for k in expected if not any(found == k or found.startswith(k) for found in kinds)}
    assert not missing


def test_the_engine_treats_every_sample_as_the_campaign_expects(outcomes: list[tuple[str, str, str]]) -> None:
    wrong = Counter((kind, expect, got) for kind, expect, got in outcomes if got != "not asked" and not (
        expect == EITHER or got.split(":")[0] == expect))
    assert not wrong, wrong.most_common(10)
    assert Counter(expect for _, expect, _ in outcomes)[REFUSE] > 0.4 * len(outcomes)


def test_a_raw_header_key_keeps_its_bytes() -> None:
    key = RawKey(b"ce_\xff\xfe")
    assert key.encode("utf-8") == b"ce_\xff\xfe" and isinstance(key, str)
