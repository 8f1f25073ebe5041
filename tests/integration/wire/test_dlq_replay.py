"""`hub dlq list` and `hub dlq replay` against the real broker and a running worker."""

from __future__ import annotations

import subprocess
import sys
from datetime import UTC, datetime, timedelta

from aiokafka import AIOKafkaProducer

from hub.ops.dlq import read_dead_letters, replay
from hub.wire import cloudevents as ce
from hub.wire.clients import kafka_options
from hub.wire.tail import collect

GARBAGE = b"\x01not in the wire format"


async def _dead_letters(settings, n):
    await collect(settings, [settings.topic_dlq], until=lambda rs: len(rs) >= n, timeout=60)
    return await read_dead_letters(settings)


async def test_dead_letters_are_listed_filtered_and_replayed_with_a_loop_guard(make_settings, start_worker,
                                                                               as_principal):
    admin = make_settings(topic_partitions=1)
    start_worker(admin)
    intake = admin.desk_intake_topic("banyuwangi")
    producer = AIOKafkaProducer(**kafka_options(as_principal(admin, "desk-banyuwangi")))
    await producer.start()
    headers = ce.to_headers(ce.CloudEvent("g-1", "/test", "test", "G-1", datetime.now(UTC)))
    await producer.send_and_wait(intake, GARBAGE, key=b"G-1", headers=headers)
    await producer.stop()
    settings = as_principal(admin, "ops-dlq")  # dead letters hold original bytes: the ops-dlq role alone

    [letter] = await _dead_letters(settings, 1)
    assert (letter.reason, letter.value, letter.key, letter.replays) == ("bad_framing", GARBAGE, b"G-1", 0)
    assert letter.origin == f"{intake}[0]@0"
    assert await read_dead_letters(settings, reasons=["invalid_content"]) == []
    assert await read_dead_letters(settings, since=datetime.now(UTC) + timedelta(minutes=1)) == []

    # The CLI lists it (a separate process, configured from the environment like an operator's shell).
    listed = subprocess.run([sys.executable, "-m", "hub", "dlq", "list", "--reason", "bad_framing"],
                            env={**settings.to_env(), "PATH": "/usr/bin:/bin"}, capture_output=True,
                            text=True, timeout=60)
    assert listed.returncode == 0, listed.stderr
    assert "bad_framing" in listed.stdout and "1 dead letters (bad_framing: 1)" in listed.stdout

    # Replay: the original bytes go back to intake with a replay mark; still bad, so dead again.
    report = await replay(settings, [letter], max_replays=1)
    assert (report.replayed, report.skipped_max_replays) == (1, 0)
    first, second = await _dead_letters(settings, 2)
    assert second.value == GARBAGE and second.replays == 1 and second.origin == f"{intake}[0]@1"
    assert second.header("hub_replay_of") == f"{settings.topic_dlq}[0]@{first.offset}"
    assert second.header("ce_id") == "g-1"                                 # original headers kept

    # The loop guard: a record replayed max_replays times is not replayed again.
    report = await replay(settings, [first, second], max_replays=1)
    assert (report.replayed, report.skipped_max_replays) == (1, 1)
