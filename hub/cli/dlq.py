"""``hub dlq list`` / ``hub dlq replay``: dead letters (plain functions in ``hub.ops.dlq``)."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from datetime import UTC, datetime
from typing import TypeVar

import click

from hub.ops.dlq import DEFAULT_MAX_REPLAYS, read_dead_letters, replay
from hub.settings import get_settings


def _when(value: str | None) -> datetime | None:
    if not value:
        return None
    found = datetime.fromisoformat(value.replace("Z", "+00:00"))
    return found if found.tzinfo else found.replace(tzinfo=UTC)


F = TypeVar("F", bound=Callable[..., object])

_filters = [
    click.option("--reason", "reasons", multiple=True, help="dlq_reason to select (repeatable)"),
    click.option("--since", help="dead-lettered at or after (ISO 8601; UTC if no zone)"),
    click.option("--until", help="dead-lettered before (ISO 8601; UTC if no zone)"),
]


def _with_filters(fn: F) -> F:
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
    click.echo(f"{len(letters)} dead letters"
               + (f" ({', '.join(f'{r}: {n}' for r, n in sorted(counts.items()))})" if counts else ""))


@dlq.command("replay")
@_with_filters
@click.option("--max-replays", default=DEFAULT_MAX_REPLAYS, show_default=True,
              help="never replay a record already replayed this many times")
@click.option("--yes", is_flag=True, help="do not ask for confirmation")
def dlq_replay(reasons: tuple[str, ...], since: str | None, until: str | None, max_replays: int,
               yes: bool) -> None:
    """Re-publish dead letters to their original topics (original bytes and headers + replay mark)."""
    settings = get_settings()
    letters = asyncio.run(read_dead_letters(settings, reasons=reasons, since=_when(since),
                                            until=_when(until)))
    if not letters:
        click.echo("no dead letters match")
        return
    if not yes:
        click.confirm(f"replay {len(letters)} dead letters?", abort=True)
    with click.progressbar(length=len(letters), label="replaying") as bar:
        report = asyncio.run(replay(settings, letters, max_replays=max_replays,
                                    on_each=lambda _: bar.update(1)))
    click.echo(f"replayed {report.replayed}; skipped {report.skipped_max_replays} already replayed "
               f"{max_replays} times, {report.skipped_no_origin} without origin topic")
