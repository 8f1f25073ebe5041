"""The fault campaign's accounting (bench.faults.accounting) on records made by hand: every intake record
gets exactly one fate, lost and stalled are told apart by the committed offset, duplicates after dedup
are one logical output under two CloudEvents keys, and waits at the head of a partition are measured from
the later of the record's write and the previous record's handling."""

from __future__ import annotations

from bench.faults.accounting import (
    Dead,
    Intake,
    Observed,
    Out,
    account,
    output_duplicates,
    stall_around,
    waits,
)

T = "t.intake"


def _seen() -> Observed:
    seen = Observed(lifecycle_topic="t.lifecycle")
    for offset in range(6):
        seen.intake.append(Intake(T, 0, offset, 100.0 + offset, ("/src", f"e{offset}")))
    seen.intake.append(Intake(T, 0, 6, 106.0, ("/src", "e0")))  # a resend of e0
    seen.intake.append(Intake(T, 1, 0, 100.0, ("/src", "x0")))
    seen.dead.append(Dead((T, 0, 1), "invalid_content", 101.5))
    for offset, at in ((0, 100.2), (2, 110.0), (3, 110.1)):
        seen.outputs.append(Out("t.lifecycle", at, ("/src", f"e{offset}"), ("event", "r", f"e{offset}"), "d"))
    seen.outputs.append(Out("t.lifecycle", 110.3, ("/src", "e0"), ("event", "r", "e0"), "d"))  # redelivered
    return seen


def test_every_record_has_one_fate_and_lost_is_told_from_stalled() -> None:
    figures, fates, _ = account(_seen(), {(T, 0): 5, (T, 1): 0}, end=130.0)
    outcome = {(f.record.partition, f.record.offset): f.outcome for f in fates}
    assert outcome == {(0, 0): "routed", (0, 1): "dead:invalid_content", (0, 2): "routed", (0, 3): "routed",
                       (0, 4): "lost", (0, 5): "stalled", (0, 6): "duplicate", (1, 0): "stalled"}
    assert (figures["records_in"], figures["routed"], figures["dead_lettered"], figures["lost"],
            figures["stalled"], figures["duplicates_dropped"]) == (8, 3, 1, 1, 2, 1)
    assert figures["raw_duplicates"] == 1 and figures["duplicates_after_dedup"] == 0
    assert set(figures["stalled_at"]) == {f"{T}[0]@5", f"{T}[1]@0"}


def test_a_wait_runs_from_the_later_of_write_and_previous_handling() -> None:
    _, fates, all_waits = account(_seen(), {(T, 0): 5, (T, 1): 0}, end=130.0)
    by_offset = {(w.partition, w.offset): round(w.seconds, 2) for w in all_waits}
    # e2 written at 102, the record before it handled at 101.5: it waited from 102 to 110; e3 (written at
    # 103) from e2's handling at 110 to its own at 110.1
    assert by_offset[(0, 2)] == 8.0 and by_offset[(0, 3)] == 0.1
    assert by_offset[(0, 5)] == 19.9 and by_offset[(1, 0)] == 30.0  # never handled: until the end
    assert (0, 4) not in by_offset  # lost: the hub moved past it, no time of its own
    # a fault at 103: e2 waited across it (8 s), x0 too (never handled: 30 s); at 108, e2 still waits and
    # e5 no longer counts (written before 108 but not waiting across it? it is: until the end, 19.9 s)
    assert stall_around(waits(fates, 130.0), at=103.0) == 30.0
    assert round(stall_around([w for w in waits(fates, 130.0) if w.partition == 0], at=108.0), 2) == 19.9
    assert round(stall_around([w for w in waits(fates, 130.0) if w.partition == 0], at=100.5), 2) == 8.0


def test_one_logical_output_under_two_ids_survives_deduplication() -> None:
    outputs = [Out("t.feed", 1.0, ("/a", "1"), ("event", "r", "e1"), "d1"),
               Out("t.feed", 2.0, ("/a", "1"), ("event", "r", "e1"), "d1"),  # raw duplicate
               Out("t.feed", 3.0, ("/b", "9"), ("event", "r", "e1"), "d1"),  # the same event, another id
               Out("t.sla", 4.0, ("/hub", "s1"), ("sla", "r", "REQUEST", "breach"), "d2"),
               Out("t.sla", 5.0, ("/hub", "s1"), ("sla", "r", "REQUEST", "breach"), "d3")]  # other bytes
    found = output_duplicates(outputs)
    assert (found["raw"], found["after_dedup"], found["same_id_other_content"]) == (2, 1, 1)
