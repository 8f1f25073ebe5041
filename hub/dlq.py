"""Dead letters: list them and replay them (``hub dlq list`` / ``hub dlq replay``).

A dead letter is the original record (bytes and headers untouched) plus ``dlq_*`` reason headers
(:mod:`hub.wire.deadletter`). Replay re-publishes the original bytes and headers, without the ``dlq_*``
ones, to the original topic, and adds ``hub_replay`` (how many times this record has been replayed) and
``hub_replay_of`` (where the dead letter was). A record replayed ``max_replays`` times is not replayed
again: if it fails once more it stays in the dead-letter topic, so nothing loops forever.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import UTC, datetime

import click
from aiokafka import AIOKafkaProducer

from hub.settings import Settings, get_settings
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
    async for m in read_to_end(settings.bootstrap_list, settings.topic_dlq):
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
    producer = AIOKafkaProducer(bootstrap_servers=settings.bootstrap_list, acks="all", enable_idempotence=True)
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


# ------------------------------------------------------------------ CLI --------------------------
def _when(value: str | None) -> datetime | None:
    if not value:
        return None
    found = datetime.fromisoformat(value.replace("Z", "+00:00"))
    return found if found.tzinfo else found.replace(tzinfo=UTC)


_filters = [
    click.option("--reason", "reasons", multiple=True, help="dlq_reason to select (repeatable)"),
    click.option("--since", help="dead-lettered at or after (ISO 8601; UTC if no zone)"),
    click.option("--until", help="dead-lettered before (ISO 8601; UTC if no zone)"),
]


def _with_filters(fn):  # type: ignore[no-untyped-def]
    for option in reversed(_filters):
        fn = option(fn)
    return fn


@click.group()
def dlq() -> None:
    """Dead letters: list and replay."""


@dlq.command("list")
@_with_filters
@click.option("--limit", default=50, show_default=True, help="rows to print (0 = all)")
def dlq_list(reasons: tuple[str, ...], since: str | None, until: str | None, limit: int) -> None:
    """Print dead letters: time, reason, origin, error."""
    letters = asyncio.run(read_dead_letters(get_settings(), reasons=reasons, since=_when(since),
                                            until=_when(until)))
    counts: dict[str, int] = {}
    for letter in letters:
        counts[letter.reason] = counts.get(letter.reason, 0) + 1
    for letter in letters[:limit or None]:
        at = letter.time.isoformat(timespec="seconds") if letter.time else "?"
        replays = f" replays={letter.replays}" if letter.replays else ""
        click.echo(f"{at} {letter.reason:20} {letter.origin:40} key={letter.key!r}{replays} "
                   f"{letter.header('dlq_error')[:120]}")
    click.echo(f"{len(letters)} dead letters" + (f" ({', '.join(f'{r}: {n}' for r, n in sorted(counts.items()))})"
                                                 if counts else ""))


@dlq.command("replay")
@_with_filters
@click.option("--max-replays", default=DEFAULT_MAX_REPLAYS, show_default=True,
              help="never replay a record already replayed this many times")
@click.option("--yes", is_flag=True, help="do not ask for confirmation")
def dlq_replay(reasons: tuple[str, ...], since: str | None, until: str | None, max_replays: int,
               yes: bool) -> None:
    """Re-publish dead letters to their original topics (original bytes and headers + replay mark)."""
    settings = get_settings()
    letters = asyncio.run(read_dead_letters(settings, reasons=reasons, since=_when(since), until=_when(until)))
    if not letters:
        click.echo("no dead letters match")
        return
    if not yes:
        click.confirm(f"replay {len(letters)} dead letters?", abort=True)
    with click.progressbar(length=len(letters), label="replaying") as bar:
        report = asyncio.run(replay(settings, letters, max_replays=max_replays, on_each=lambda _: bar.update(1)))
    click.echo(f"replayed {report.replayed}; skipped {report.skipped_max_replays} already replayed "
               f"{max_replays} times, {report.skipped_no_origin} without origin topic")
