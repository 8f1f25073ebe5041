"""Dead letters: list them and replay them (``hub dlq list`` / ``hub dlq replay``).

A dead letter is the original record (bytes and headers untouched) plus ``dlq_*`` reason headers
(:mod:`hub.wire.deadletter`). Replay re-publishes the original bytes and headers, without the ``dlq_*``
ones, to the original topic, and adds ``hub_replay`` (how many times this record has been replayed) and
``hub_replay_of`` (where the dead letter was). A record replayed ``max_replays`` times is not replayed
again: if it fails once more it stays in the dead-letter topic, so nothing loops forever.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import UTC, datetime

from aiokafka import AIOKafkaProducer

from hub.settings import Settings
from hub.wire.clients import kafka_options
from hub.wire.deadletter import PREFIX
from hub.wire.tail import read_to_end

REPLAY = "hub_replay"
REPLAY_OF = "hub_replay_of"
DEFAULT_MAX_REPLAYS = 3


@dataclass(frozen=True, slots=True)
class DeadLetter:
    partition: int  # in the dead-letter topic
    offset: int
    key: bytes | None
    value: bytes | None
    headers: tuple[tuple[str, bytes], ...]

    def header(self, name: str, default: str = "") -> str:
        for k, v in self.headers:
            if k == name:
                return v.decode("utf-8", "replace")
        return default

    @property
    def reason(self) -> str:
        return self.header("dlq_reason")

    @property
    def time(self) -> datetime | None:
        text = self.header("dlq_time")
        try:
            found = datetime.fromisoformat(text.replace("Z", "+00:00"))
        except ValueError:
            return None
        return found if found.tzinfo else found.replace(tzinfo=UTC)

    @property
    def replays(self) -> int:
        text = self.header(REPLAY, "0")
        return int(text) if text.isdigit() else 0

    @property
    def origin(self) -> str:
        return f"{self.header('dlq_topic')}[{self.header('dlq_partition')}]@{self.header('dlq_offset')}"


def matches(letter: DeadLetter, *, reasons: Iterable[str] = (), since: datetime | None = None,
            until: datetime | None = None) -> bool:
    """Filter by reason code(s) and a [since, until) window on ``dlq_time``."""
    wanted = set(reasons)
    if wanted and letter.reason not in wanted:
        return False
    at = letter.time
    if (since or until) and at is None:
        return False
    if since and at is not None and at < since:
        return False
    return not (until and at is not None and at >= until)


def replay_headers(letter: DeadLetter, dlq_topic: str) -> list[tuple[str, bytes]]:
    """The original headers (no ``dlq_*``, no earlier replay marks) plus the replay marks."""
    kept = [(k, v) for k, v in letter.headers if not k.startswith(PREFIX) and k not in (REPLAY, REPLAY_OF)]
    return kept + [(REPLAY, str(letter.replays + 1).encode()),
                   (REPLAY_OF, f"{dlq_topic}[{letter.partition}]@{letter.offset}".encode())]


async def read_dead_letters(settings: Settings, *, reasons: Iterable[str] = (), since: datetime | None = None,
                            until: datetime | None = None) -> list[DeadLetter]:
    """Every dead letter up to the end of the topic as it is now (nothing committed), filtered."""
    out: list[DeadLetter] = []
    async for m in read_to_end(kafka_options(settings), settings.topic_dlq):
        letter = DeadLetter(m.partition, m.offset, m.key, m.value, tuple(m.headers or ()))
        if matches(letter, reasons=reasons, since=since, until=until):
            out.append(letter)
    return sorted(out, key=lambda d: (d.time or datetime.min.replace(tzinfo=UTC), d.partition, d.offset))


@dataclass(frozen=True, slots=True)
class ReplayReport:
    replayed: int
    skipped_max_replays: int
    skipped_no_origin: int


async def replay(settings: Settings, letters: Iterable[DeadLetter], *, max_replays: int = DEFAULT_MAX_REPLAYS,
                 on_each: Callable[[DeadLetter], None] | None = None) -> ReplayReport:
    """Re-publish each dead letter's original bytes and headers to its original topic (acks=all)."""
    producer = AIOKafkaProducer(acks="all", enable_idempotence=True, **kafka_options(settings))
    await producer.start()
    replayed = too_many = no_origin = 0
    try:
        for letter in letters:
            topic = letter.header("dlq_topic")
            if not topic:
                no_origin += 1
            elif letter.replays >= max_replays:
                too_many += 1
            else:
                await producer.send_and_wait(topic, letter.value, key=letter.key,
                                             headers=replay_headers(letter, settings.topic_dlq))
                replayed += 1
            if on_each:
                on_each(letter)
    finally:
        await producer.stop()
    return ReplayReport(replayed, too_many, no_origin)
